// Package accounts is the domain of console accounts, their sessions,
// teams (tenants) and roles, invitations and operators (DESIGN §12,
// docs/ACCOUNTS.md). It imports no HTTP framework: api/console parses a
// request, calls a Service method and renders the answer.
package accounts

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Signup modes (GATEHOUSE_SIGNUP).
const (
	SignupOpen   = "open"   // anyone may create an account
	SignupInvite = "invite" // only with an invitation link
	SignupClosed = "closed" // nobody (operators add people by invitation … and the first account)
)

// Lifetimes.
const (
	SessionTTL     = 12 * time.Hour // absolute console session lifetime
	VerifyLinkTTL  = 48 * time.Hour
	ResetLinkTTL   = time.Hour
	InvitationTTL  = 7 * 24 * time.Hour
	pendingTOTPTTL = 5 * time.Minute
)

// Service holds what accounts need. Zero optional fields mean defaults.
type Service struct {
	Store   tenants.Store
	Sealer  *tenants.Sealer
	Auditor tenants.Auditor
	Prov    *tenants.Provisioner
	Logger  *slog.Logger
	// Mailer sends mail; nil keeps messages in the outbox for operators.
	Mailer Mailer
	// LogLinks writes the link of an unsent message to the log on a line of
	// its own (text logs read by the person who runs an embedded deployment);
	// JSON logs, which are shipped and kept, never carry link tokens.
	LogLinks bool
	// PublicURL is the base of every link (scheme://host[:port]).
	PublicURL string
	// Signup is open | invite | closed.
	Signup string
	Params Params
	Now    func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) params() Params {
	if s.Params.Time == 0 {
		return DefaultParams
	}
	return s.Params
}

// Errors. Messages are what a person reads.
var (
	// ErrBadCredentials is the one answer for an unknown email and a wrong
	// password, so a login form cannot tell which accounts exist.
	ErrBadCredentials = errors.New("the email address or password is not right")
	ErrUnverified     = errors.New("confirm your email address first: we sent you a new link")
	ErrSignupClosed   = errors.New("sign-up is by invitation on this deployment")
	ErrLinkInvalid    = errors.New("this link is not valid any more: it was used already, has expired, or was changed")
	ErrBadCode        = errors.New("that code is not right (or was used already)")
	ErrForbidden      = errors.New("your role in this team does not allow this")
	ErrLastOwner      = errors.New("a team always keeps at least one owner: make someone else owner first")
	ErrSuspended      = errors.New("this team is suspended by the platform operator")
)

// linkErr maps a link the store does not find (used, expired, altered or
// of another purpose) to ErrLinkInvalid, and keeps every other error.
func linkErr(err error) error {
	if errors.Is(err, tenants.ErrNotFound) {
		return ErrLinkInvalid
	}
	return err
}

// NormalizeEmail lower-cases and trims an email and checks its shape.
func NormalizeEmail(raw string) (string, bool) {
	e := strings.ToLower(strings.TrimSpace(raw))
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || domain == "" || len(e) > 320 || strings.ContainsAny(e, " \t\r\n<>\",;") || !strings.Contains(domain, ".") {
		return "", false
	}
	return e, true
}

func (s *Service) audit(ctx context.Context, tenantID, action string, a *tenants.Account, outcome, reason string, details tenants.JSONMap) {
	if s.Auditor == nil {
		return
	}
	ev := tenants.AuditEvent{TenantID: tenantID, Action: action, Outcome: outcome, Reason: reason, Details: details}
	if a != nil {
		if ev.Details == nil {
			ev.Details = tenants.JSONMap{}
		}
		ev.Details[tenants.DetailAccountEmail] = a.Email
		if tenants.RequestInfoFrom(ctx).Actor == "" {
			ev.Actor = ActorOf(a)
		}
	}
	s.Auditor.Record(ctx, ev)
}

// ActorOf names an account in audit events.
func ActorOf(a *tenants.Account) string { return "account:" + a.Email }

// link builds an absolute link to path with the token as the query.
func (s *Service) link(path, token string) string {
	return strings.TrimRight(s.PublicURL, "/") + path + "?" + url.Values{"token": {token}}.Encode()
}

// accountLink is one kind of single-use link mailed to an account: its
// token's purpose and lifetime, the page that takes it, and the message
// (intro, the link, outro).
type accountLink struct {
	purpose               string
	ttl                   time.Duration
	path                  string
	subject, intro, outro string
}

var (
	verifyLink = accountLink{purpose: tenants.PurposeVerifyEmail, ttl: VerifyLinkTTL, path: "/account/verify",
		subject: "Confirm your email address for Gatehouse",
		intro:   "Open this link to confirm your email address (it works once, for 48 hours):",
		outro:   "If you did not sign up for Gatehouse, ignore this message."}
	resetLink = accountLink{purpose: tenants.PurposeResetPassword, ttl: ResetLinkTTL, path: "/account/reset",
		subject: "Reset your Gatehouse password",
		intro:   "Open this link to choose a new password (it works once, for one hour):",
		outro:   "If you did not ask for this, ignore this message: your password stays as it is."}
)

// mailLink stores a single-use token of l's purpose for the account
// (256-bit random; only its hash is kept) and mails the link carrying it.
func (s *Service) mailLink(ctx context.Context, a *tenants.Account, l accountLink) error {
	tok := tenants.RandomToken()
	now := s.now()
	if err := s.Store.CreateAccountToken(ctx, &tenants.AccountToken{Hash: tenants.HashSecret(tok), AccountID: a.ID, Purpose: l.purpose,
		CreatedAt: now, ExpiresAt: now.Add(l.ttl)}); err != nil {
		return err
	}
	link := s.link(l.path, tok)
	s.send(ctx, a.Email, l.subject, l.intro+"\n\n"+link+"\n\n"+l.outro+"\n", link, l.purpose)
	return nil
}

// send keeps a sealed copy in the outbox and delivers it by SMTP when a
// mailer is configured. Without one the operator view shows the message and,
// with LogLinks, the log shows the link on one marked line.
func (s *Service) send(ctx context.Context, to, subject, body, link, purpose string) {
	now := s.now()
	m := &tenants.OutboxMessage{ID: tenants.OrderedID(now), To: to, Subject: subject, CreatedAt: now}
	sealed, err := s.Sealer.Seal(body, outboxContext(m.ID))
	if err != nil {
		s.logger().Error("mail: seal failed", "err", err)
		return
	}
	m.BodySealed = sealed
	if err := s.Store.CreateOutboxMessage(ctx, m); err != nil {
		s.logger().Error("mail: outbox write failed", "err", err, "purpose", purpose)
	}
	if s.Mailer == nil {
		attrs := []any{"to", to, "purpose", purpose, "outbox_id", m.ID}
		if s.LogLinks {
			attrs = append(attrs, "link", link)
		}
		s.logger().Warn("MAIL NOT SENT (no SMTP server configured): an operator must pass this link on; it is shown in the operator view", attrs...)
		return
	}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.Mailer.Send(sendCtx, to, subject, body); err != nil {
		m.LastError = err.Error()
		s.logger().Error("mail: delivery failed; the message is in the operator view", "err", err, "to", to, "purpose", purpose, "outbox_id", m.ID)
	} else {
		m.SentAt = &now
	}
	_ = s.Store.UpdateOutboxMessage(ctx, m)
}

func outboxContext(id string) string { return "outbox:" + id }

// OpenOutboxBody unseals a message body for the operator view.
func (s *Service) OpenOutboxBody(m *tenants.OutboxMessage) string {
	b, err := s.Sealer.Open(m.BodySealed, outboxContext(m.ID))
	if err != nil {
		return ""
	}
	return b
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}
