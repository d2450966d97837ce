package accounts

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/gatehouse/gatehouse/tenants"
)

// SignupInput is the sign-up form.
type SignupInput struct {
	Email, Password, Name string
	// InviteToken, when set, is the invitation link's token: an invitation
	// sent to this same email proves the address, so the account starts
	// verified and joins the team at once.
	InviteToken string
}

// SignupResult says what happened. Every sign-up with a well-formed email
// and an acceptable password answers CheckEmail, whether the address had an
// account or not (no account enumeration); the mail itself differs.
type SignupResult struct {
	CheckEmail bool
	// Account is set when the account may sign in now: an invited one (the
	// invitation link proved the mailbox).
	Account *tenants.Account
	// Team is the team an invitation joined.
	Team *tenants.Tenant
}

// SignUp creates an account (argon2id password, unverified) and mails a
// verification link; an address that already has an account gets a
// sign-in/reset mail instead, and the caller sees the same answer.
func (s *Service) SignUp(ctx context.Context, in SignupInput) (*SignupResult, error) {
	v := &tenants.ValidationError{}
	email, ok := NormalizeEmail(in.Email)
	if !ok {
		v.Add("email", "is not an email address")
	}
	name := strings.TrimSpace(in.Name)
	if len(name) > 200 {
		v.Add("name", "must be at most 200 characters")
	}
	if msg := CheckPassword(in.Password, email); msg != "" {
		v.Add("password", "%s", msg)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	n, err := s.Store.CountAccounts(ctx)
	if err != nil {
		return nil, err
	}
	first := n == 0
	var inv *tenants.Invitation
	if in.InviteToken != "" {
		inv, err = s.Store.GetInvitationByHash(ctx, tenants.HashSecret(in.InviteToken), s.now())
		if errors.Is(err, tenants.ErrNotFound) || (err == nil && !strings.EqualFold(inv.Email, email)) {
			return nil, ErrLinkInvalid
		}
		if err != nil {
			return nil, err
		}
	}
	if !first && inv == nil && s.Signup != SignupOpen && s.Signup != "" {
		return nil, ErrSignupClosed
	}
	hash, err := HashPassword(in.Password, s.params())
	if err != nil {
		return nil, err
	}
	existing, err := s.Store.GetAccountByEmail(ctx, email)
	if err != nil && !errors.Is(err, tenants.ErrNotFound) {
		return nil, err
	}
	if existing != nil {
		s.send(ctx, email, "Someone tried to sign up with your address",
			"Someone (maybe you) tried to create a Gatehouse account with this address, which already has one.\n\n"+
				"Sign in: "+strings.TrimRight(s.PublicURL, "/")+"/console/login\n"+
				"Forgot your password? "+strings.TrimRight(s.PublicURL, "/")+"/account/forgot\n\n"+
				"If it was not you, you can ignore this message.\n", "", "signup_existing")
		return &SignupResult{CheckEmail: true}, nil
	}
	now := s.now()
	a := &tenants.Account{ID: tenants.RandomID(), Email: email, Name: name, PasswordHash: hash, PasswordChangedAt: &now, CreatedAt: now, UpdatedAt: now}
	if first {
		// The first account of a fresh deployment is its operator
		// (DESIGN §12). It still proves its address like every account:
		// whoever reaches a fresh public deployment first must not become
		// its operator with an address that is not theirs. Without SMTP
		// the link is on the terminal (text logs), or the person at the
		// terminal confirms it with `gatehouse admin grant EMAIL`.
		a.PlatformRole = tenants.PlatformOperator
	}
	if inv != nil {
		a.EmailVerifiedAt = &now
	}
	if err := s.Store.CreateAccount(ctx, a); err != nil {
		if errors.Is(err, tenants.ErrConflict) { // a concurrent sign-up won
			return &SignupResult{CheckEmail: true}, nil
		}
		return nil, err
	}
	s.audit(ctx, "", tenants.ActAccountCreated, a, "", "", tenants.JSONMap{tenants.DetailOperator: first, tenants.DetailInvited: inv != nil})
	if first {
		s.audit(ctx, "", tenants.ActOperatorGranted, a, "", "first_account", nil)
	}
	if inv != nil {
		t, err := s.join(ctx, a, in.InviteToken)
		if err != nil {
			return nil, err
		}
		return &SignupResult{Account: a, Team: t}, nil
	}
	if err := s.sendVerification(ctx, a); err != nil {
		return nil, err
	}
	return &SignupResult{CheckEmail: true}, nil
}

func (s *Service) sendVerification(ctx context.Context, a *tenants.Account) error {
	return s.mailLink(ctx, a, verifyLink)
}

// VerifyEmail uses a verification link.
func (s *Service) VerifyEmail(ctx context.Context, token string) (*tenants.Account, error) {
	t, err := s.Store.UseAccountToken(ctx, tenants.HashSecret(token), tenants.PurposeVerifyEmail, s.now())
	if err != nil {
		return nil, linkErr(err)
	}
	a, err := s.Store.GetAccount(ctx, t.AccountID)
	if err != nil {
		return nil, err
	}
	if err := s.markVerified(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// markVerified records that the account proved its email address: by the
// verification link, or by any other link mailed to it (reset, invitation),
// or by a platform IdP that vouches for the address.
func (s *Service) markVerified(ctx context.Context, a *tenants.Account) error {
	if a.Verified() {
		return nil
	}
	now := s.now()
	a.EmailVerifiedAt = &now
	if err := s.Store.UpdateAccount(ctx, a); err != nil {
		return err
	}
	s.audit(ctx, "", tenants.ActAccountVerified, a, "", "", nil)
	return nil
}

// dummyHash makes a login for an unknown email cost the same argon2id work
// as a wrong password (no timing oracle for which accounts exist).
var (
	dummyOnce sync.Once
	dummyHash string
)

func (s *Service) dummy() string {
	dummyOnce.Do(func() { dummyHash, _ = HashPassword("not a password of anyone", s.params()) })
	return dummyHash
}

// Login checks an email and password. Unknown email and wrong password are
// the same ErrBadCredentials. The caller asks for the second factor when
// the account has TOTP on, and starts the session after.
func (s *Service) Login(ctx context.Context, rawEmail, password string) (*tenants.Account, error) {
	email, _ := NormalizeEmail(rawEmail)
	a, err := s.Store.GetAccountByEmail(ctx, email)
	if err != nil && !errors.Is(err, tenants.ErrNotFound) {
		return nil, err
	}
	if a == nil || a.PasswordHash == "" {
		_, _ = VerifyPassword(s.dummy(), password)
		s.audit(ctx, "", tenants.ActAccountLogin, nil, tenants.OutcomeFailure, "unknown_account", nil)
		return nil, ErrBadCredentials
	}
	if ok, err := VerifyPassword(a.PasswordHash, password); err != nil || !ok {
		s.audit(ctx, "", tenants.ActAccountLogin, a, tenants.OutcomeFailure, "wrong_password", nil)
		return nil, ErrBadCredentials
	}
	if !a.Verified() {
		if err := s.sendVerification(ctx, a); err != nil {
			return nil, err
		}
		s.audit(ctx, "", tenants.ActAccountLogin, a, tenants.OutcomeFailure, "email_unverified", nil)
		return nil, ErrUnverified
	}
	return a, nil
}

// CheckSecondFactor accepts a current TOTP code (each once) or an unused
// recovery code (each once).
func (s *Service) CheckSecondFactor(ctx context.Context, a *tenants.Account, code string) error {
	code = strings.TrimSpace(code)
	if !a.TOTPEnabled() {
		return nil
	}
	// refused audits why a code was refused and gives the one answer.
	refused := func(reason string) error {
		s.audit(ctx, "", tenants.ActAccountLogin, a, tenants.OutcomeFailure, reason, nil)
		return ErrBadCode
	}
	if strings.Contains(code, "-") || len(code) >= 10 {
		ok, err := s.Store.UseRecoveryCode(ctx, a.ID, hashRecovery(code))
		if err != nil {
			return err
		}
		if !ok {
			return refused("bad_recovery_code")
		}
		return nil
	}
	secret, err := s.Sealer.Open(a.TOTPSecretSealed, totpContext(a.ID))
	if err != nil {
		return err
	}
	step := totpStep(secret, code, s.now())
	if step == 0 {
		return refused("bad_totp_code")
	}
	ok, err := s.Store.UseTOTPStep(ctx, a.ID, step)
	if err != nil {
		return err
	}
	if !ok {
		return refused("totp_code_reused")
	}
	return nil
}

func totpContext(accountID string) string      { return "totp:" + accountID }
func totpSetupContext(accountID string) string { return "totp-setup:" + accountID }

// TOTPSetup is a secret being set up: shown as a QR code / key, carried
// sealed through the confirm form, stored only once a code confirms it.
type TOTPSetup struct {
	Secret string // base32, for manual entry
	URI    string // otpauth:// (QR code content)
	Sealed string // for the confirm form
}

// BeginTOTP makes a new secret for the account.
func (s *Service) BeginTOTP(a *tenants.Account) (*TOTPSetup, error) {
	secret, uri, err := newTOTPKey("Gatehouse", a.Email)
	if err != nil {
		return nil, err
	}
	sealed, err := s.Sealer.Seal(secret, totpSetupContext(a.ID))
	if err != nil {
		return nil, err
	}
	return &TOTPSetup{Secret: secret, URI: uri, Sealed: sealed}, nil
}

// EnableTOTP stores the secret once a code from it is right, and returns
// the recovery codes to show once.
func (s *Service) EnableTOTP(ctx context.Context, a *tenants.Account, sealedSetup, code string) ([]string, error) {
	secret, err := s.Sealer.Open(sealedSetup, totpSetupContext(a.ID))
	if err != nil {
		return nil, ErrLinkInvalid
	}
	step := totpStep(secret, code, s.now())
	if step == 0 {
		return nil, ErrBadCode
	}
	stored, err := s.Sealer.Seal(secret, totpContext(a.ID))
	if err != nil {
		return nil, err
	}
	codes, hashes := newRecoveryCodes()
	now := s.now()
	a.TOTPSecretSealed, a.TOTPEnabledAt, a.TOTPLastStep, a.RecoveryCodes = stored, &now, step, hashes
	if err := s.Store.UpdateAccount(ctx, a); err != nil {
		return nil, err
	}
	s.audit(ctx, "", tenants.ActAccountTOTPEnabled, a, "", "", nil)
	return codes, nil
}

// DisableTOTP turns the second factor off after a valid code.
func (s *Service) DisableTOTP(ctx context.Context, a *tenants.Account, code string) error {
	if err := s.CheckSecondFactor(ctx, a, code); err != nil {
		return err
	}
	a.TOTPSecretSealed, a.TOTPEnabledAt, a.TOTPLastStep, a.RecoveryCodes = "", nil, 0, nil
	if err := s.Store.UpdateAccount(ctx, a); err != nil {
		return err
	}
	s.audit(ctx, "", tenants.ActAccountTOTPDisabled, a, "", "", nil)
	return nil
}

// RequestPasswordReset mails a reset link when the address has an account;
// it answers nil either way (no enumeration).
func (s *Service) RequestPasswordReset(ctx context.Context, rawEmail string) error {
	email, ok := NormalizeEmail(rawEmail)
	if !ok {
		return nil
	}
	a, err := s.Store.GetAccountByEmail(ctx, email)
	if errors.Is(err, tenants.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := s.mailLink(ctx, a, resetLink); err != nil {
		return err
	}
	s.audit(ctx, "", tenants.ActAccountResetRequested, a, "", "", nil)
	return nil
}

// ResetPasswordValid reports whether a reset link can still be used (the
// form is shown only then).
func (s *Service) ResetPasswordValid(ctx context.Context, token string) bool {
	_, err := s.Store.PeekAccountToken(ctx, tenants.HashSecret(token), tenants.PurposeResetPassword, s.now())
	return err == nil
}

// ResetPassword sets a new password with a reset link and ends every
// session of the account. The link is used only when the new password is
// acceptable, so a rejected password does not burn it.
func (s *Service) ResetPassword(ctx context.Context, token, password string) (*tenants.Account, error) {
	h := tenants.HashSecret(token)
	t, err := s.Store.PeekAccountToken(ctx, h, tenants.PurposeResetPassword, s.now())
	if err != nil {
		return nil, linkErr(err)
	}
	a, err := s.Store.GetAccount(ctx, t.AccountID)
	if err != nil {
		return nil, err
	}
	if msg := CheckPassword(password, a.Email); msg != "" {
		return nil, &tenants.ValidationError{Errors: []tenants.FieldError{{Field: "password", Detail: msg}}}
	}
	if _, err := s.Store.UseAccountToken(ctx, h, tenants.PurposeResetPassword, s.now()); err != nil {
		return nil, linkErr(err)
	}
	if err := s.setPassword(ctx, a, password, ""); err != nil {
		return nil, err
	}
	if err := s.markVerified(ctx, a); err != nil { // the link reached the mailbox
		return nil, err
	}
	return a, nil
}

// ChangePassword checks the current password, sets the new one and ends
// every other session (keep is the session making the change).
func (s *Service) ChangePassword(ctx context.Context, a *tenants.Account, current, next, keep string) error {
	if a.PasswordHash != "" {
		if ok, err := VerifyPassword(a.PasswordHash, current); err != nil || !ok {
			return &tenants.ValidationError{Errors: []tenants.FieldError{{Field: "current_password", Detail: "is not right"}}}
		}
	}
	if msg := CheckPassword(next, a.Email); msg != "" {
		return &tenants.ValidationError{Errors: []tenants.FieldError{{Field: "password", Detail: msg}}}
	}
	return s.setPassword(ctx, a, next, keep)
}

func (s *Service) setPassword(ctx context.Context, a *tenants.Account, pw, keep string) error {
	hash, err := HashPassword(pw, s.params())
	if err != nil {
		return err
	}
	now := s.now()
	a.PasswordHash, a.PasswordChangedAt = hash, &now
	if err := s.Store.UpdateAccount(ctx, a); err != nil {
		return err
	}
	n, err := s.Store.DeleteAccountSessions(ctx, a.ID, keep)
	if err != nil {
		return err
	}
	s.audit(ctx, "", tenants.ActAccountPasswordChanged, a, "", "", tenants.JSONMap{tenants.DetailSessionsEnded: n})
	return nil
}
