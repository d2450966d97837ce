package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"regexp"
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/idp"
)

// AuthorizeRequest is an authorization request (RFC 6749 §4.1.1, RFC 7636
// §4.3, RFC 8707 §2).
type AuthorizeRequest struct {
	ClientID            string
	RedirectURI         string
	ResponseType        string
	State               string
	CodeChallenge       string
	CodeChallengeMethod string
	Resource            string
	ResourcePresent     bool
	Scope               string
	ScopePresent        bool
	// Repeated lists parameters sent more than once (RFC 6749 §3.1).
	Repeated []string
}

// Step is what the browser sees next in an authorization flow.
type Step struct {
	// RedirectURL: send the browser here (upstream IdP, or the client with a
	// code or an error).
	RedirectURL string
	// Chooser: show the login chooser with these IdPs.
	Chooser []tenants.IdPConfig
	// DevForm: show the dev IdP's username form.
	DevForm bool
	// Consent: show the consent page.
	Consent bool
	Pending *tenants.PendingAuthorization
}

// Authorize validates an authorization request and starts a pending
// authorization bound to the browser session (sessionHash) and to the URL
// mode of site. Errors found before the client and redirect URI are known
// good carry no RedirectURI: they must be shown as a page (RFC 6749
// §4.1.2.1, no open redirect); later ones go back to the client.
func (s *Server) Authorize(ctx context.Context, site tenants.Site, req AuthorizeRequest, sessionHash string) (*tenants.PendingAuthorization, *Error) {
	for _, p := range req.Repeated {
		if p == "client_id" || p == "redirect_uri" {
			return nil, newErr(ErrInvalidRequest, "parameter %s was sent more than once", p)
		}
	}
	if req.ClientID == "" {
		return nil, newErr(ErrInvalidRequest, "client_id is required")
	}
	client, e := s.LookupClient(ctx, site, req.ClientID)
	if e != nil {
		return nil, e
	}
	redirect, e := matchRedirect(client, req.RedirectURI)
	if e != nil {
		return nil, e
	}
	// From here errors go back to the client's redirect URI.
	back := func(code, format string, args ...any) *Error {
		return newErr(code, format, args...).WithRedirect(redirect, req.State)
	}
	if len(req.Repeated) > 0 {
		return nil, back(ErrInvalidRequest, "parameter %s was sent more than once", req.Repeated[0])
	}
	if req.ResponseType != respCode {
		if req.ResponseType == "" {
			return nil, back(ErrInvalidRequest, "response_type is required")
		}
		return nil, back(ErrUnsupportedResponseType, "only response_type=code is supported")
	}
	if !allowsGrant(client, grantCode) {
		return nil, back(ErrUnauthorizedClient, "this client is not registered for the authorization_code grant")
	}
	// PKCE S256 is required for every flow; plain is refused (OAuth 2.1 §4.1.1, RFC 7636 §4.2).
	if req.CodeChallenge == "" {
		return nil, back(ErrInvalidRequest, "code_challenge is required (PKCE with S256)")
	}
	if req.CodeChallengeMethod != "S256" {
		return nil, back(ErrInvalidRequest, "code_challenge_method must be S256")
	}
	if !validChallenge(req.CodeChallenge) {
		return nil, back(ErrInvalidRequest, "code_challenge is not a base64url SHA-256 value")
	}
	resource := site.Resource
	if req.ResourcePresent {
		if !site.MatchesResource(req.Resource) {
			return nil, back(ErrInvalidTarget, "resource must be this server's MCP URL %s", site.Resource)
		}
	}
	scopes, se := resolveScopes(req.Scope, req.ScopePresent, site.Tenant.Settings, client)
	if se != nil {
		return nil, se.WithRedirect(redirect, req.State)
	}
	if len(req.State) > 2048 {
		return nil, back(ErrInvalidRequest, "state is longer than 2048 characters")
	}
	now := s.now()
	p := &tenants.PendingAuthorization{
		TenantID: site.Tenant.ID, ID: tenants.RandomToken(), Mode: site.Mode, Issuer: site.Issuer, ClientID: client.ID, RedirectURI: redirect,
		State: req.State, CodeChallenge: req.CodeChallenge, Resource: resource, Scopes: scopes, CSRFToken: sessionHash,
		CreatedAt: now, ExpiresAt: now.Add(PendingTTL), Unsaved: true,
	}
	s.audit(ctx, tenants.AuditEvent{TenantID: site.Tenant.ID, Action: tenants.ActAuthorizeStarted, ClientID: client.ID,
		Details: tenants.JSONMap{tenants.DetailScopes: scopes, tenants.DetailRedirectOrigin: RedirectOrigin(redirect), tenants.DetailMode: site.Mode}})
	return p, nil
}

// matchRedirect applies the redirect URI rules (docs/RULES.md §5): a registered URI
// exactly, or a loopback one with any port (RFC 8252 §7.3). Absent is allowed
// only when the client registered exactly one.
func matchRedirect(c *tenants.Client, requested string) (string, *Error) {
	if requested == "" {
		if len(c.RedirectURIs) == 1 {
			return c.RedirectURIs[0], nil
		}
		return "", newErr(ErrInvalidRequest, "redirect_uri is required")
	}
	if msg := tenants.ValidateRedirectURI(requested); msg != "" {
		return "", newErr(ErrInvalidRequest, "redirect_uri %s", msg)
	}
	for _, r := range c.RedirectURIs {
		if tenants.RedirectURIMatches(r, requested) {
			return requested, nil
		}
	}
	return "", newErr(ErrInvalidRequest, "redirect_uri is not registered for this client")
}

// RedirectOrigin is the origin (scheme and host) of a redirect URI: what the
// consent page and the audit log show, and what a page's CSP form-action admits.
// A URI without a host (a private-use scheme, RFC 8252 §7.1) is its scheme.
func RedirectOrigin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.Host == "" {
		return u.Scheme + ":"
	}
	return u.Scheme + "://" + u.Host
}

// LoadPending returns a pending authorization for the browser session that
// started it, at the issuer (site) it started at.
func (s *Server) LoadPending(ctx context.Context, site tenants.Site, id, sessionHash string) (*tenants.PendingAuthorization, *Error) {
	gone := newErr(ErrInvalidRequest, "this sign-in request is unknown or has expired; start again from your application")
	if id == "" || len(id) > 64 {
		return nil, gone
	}
	p, err := s.Store.GetPending(ctx, site.Tenant.ID, id)
	if errors.Is(err, tenants.ErrNotFound) {
		return nil, gone
	}
	if err != nil {
		return nil, serverError(err)
	}
	if p.Issuer != site.Issuer {
		// Another issuer of the same tenant (the other URL mode, or another
		// host of host mode) never continues this flow.
		return nil, gone
	}
	if sessionHash == "" || !equalConst(p.CSRFToken, sessionHash) {
		return nil, newErr(ErrInvalidRequest, "this sign-in was started in another browser session; start again from your application")
	}
	return p, nil
}

// BeginLogin starts the upstream login of a pending authorization with the
// IdP of type typ ("" when the tenant has one IdP; with several, a chooser).
func (s *Server) BeginLogin(ctx context.Context, site tenants.Site, p *tenants.PendingAuthorization, typ string) (*Step, *Error) {
	idps, err := s.Store.ListIdPs(ctx, site.Tenant.ID)
	if err != nil {
		return nil, serverError(err)
	}
	var usable []tenants.IdPConfig
	for _, c := range idps {
		if c.Type == tenants.IdPDev && !s.AllowDevIdP {
			continue
		}
		usable = append(usable, c)
	}
	if len(usable) == 0 {
		return nil, newErr(ErrServerError, "this tenant has no identity provider configured")
	}
	var cfg *tenants.IdPConfig
	if typ == "" {
		if len(usable) > 1 {
			// The chooser changes nothing: store a new flow, never rewrite
			// a stored one (a stale copy could undo another tab's step).
			if p.Unsaved {
				if err := s.savePending(ctx, p); err != nil {
					return nil, serverError(err)
				}
			}
			return &Step{Chooser: usable, Pending: p}, nil
		}
		cfg = &usable[0]
	} else {
		for i := range usable {
			if usable[i].Type == typ {
				cfg = &usable[i]
			}
		}
		if cfg == nil {
			return nil, newErr(ErrInvalidRequest, "identity provider %q is not available for this tenant", typ)
		}
	}
	p.IdP = cfg.Type
	if cfg.Type == tenants.IdPDev {
		if cfg.AutoLogin != "" {
			return s.CompleteLogin(ctx, site, p, devIdentity(cfg.AutoLogin), nil)
		}
		if err := s.savePending(ctx, p); err != nil {
			return nil, serverError(err)
		}
		return &Step{DevForm: true, Pending: p}, nil
	}
	prov, e := s.provider(ctx, site, cfg)
	if e != nil {
		return nil, e
	}
	p.UpstreamNonce = tenants.RandomToken()
	verifier := tenants.RandomToken() + tenants.RandomToken()[:20] // 63 chars, RFC 7636 §4.1
	sealed, err := s.Sealer.Seal(verifier, tenants.PendingVerifierContext(p.TenantID, p.ID))
	if err != nil {
		return nil, serverError(err)
	}
	p.UpstreamVerifierSealed = sealed
	if err := s.savePending(ctx, p); err != nil {
		return nil, serverError(err)
	}
	return &Step{RedirectURL: prov.AuthCodeURL(p.ID, p.UpstreamNonce, verifier), Pending: p}, nil
}

// savePending stores p: created the first time (Authorize builds it
// unsaved), updated after that.
func (s *Server) savePending(ctx context.Context, p *tenants.PendingAuthorization) error {
	if !p.Unsaved {
		return s.Store.UpdatePending(ctx, p)
	}
	if err := s.Store.CreatePending(ctx, p); err != nil {
		return err
	}
	p.Unsaved = false
	return nil
}

func (s *Server) provider(ctx context.Context, site tenants.Site, cfg *tenants.IdPConfig) (idp.Provider, *Error) {
	if s.NewProvider == nil {
		return nil, newErr(ErrServerError, "the %s identity provider is not available on this deployment", cfg.Type)
	}
	secret, err := s.Sealer.Open(cfg.ClientSecretSealed, tenants.IdPSecretContext(cfg.TenantID, cfg.Type))
	if err != nil {
		return nil, serverError(err)
	}
	prov, err := s.NewProvider(ctx, idp.Config{IdP: cfg, ClientSecret: secret, RedirectURL: site.Endpoint("callback"), HTTPClient: s.HTTPClient})
	if err != nil {
		return nil, &Error{Code: ErrTemporarilyUnavailable, Description: "the identity provider could not be reached; try again later", Status: 503, Cause: err}
	}
	return prov, nil
}

var devUsername = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}$`)

func devIdentity(username string) *idp.Identity {
	id := &idp.Identity{Subject: username, Name: username, Username: username}
	if strings.Contains(username, "@") {
		id.Email, id.EmailVerified = username, true
	}
	return id
}

// DevLogin completes a dev IdP login with the username typed in its form.
func (s *Server) DevLogin(ctx context.Context, site tenants.Site, p *tenants.PendingAuthorization, username string) (*Step, *Error) {
	if !s.AllowDevIdP || p.IdP != tenants.IdPDev {
		return nil, newErr(ErrInvalidRequest, "the dev identity provider is not in use for this sign-in")
	}
	if !devUsername.MatchString(username) {
		return nil, newErr(ErrInvalidRequest, "a username is 1-64 letters, digits or . _ @ + -")
	}
	return s.CompleteLogin(ctx, site, p, devIdentity(username), nil)
}

// Callback completes an upstream login (the IdP redirected back with code or
// error). A refused login is audited as login.failed with the reason.
func (s *Server) Callback(ctx context.Context, site tenants.Site, p *tenants.PendingAuthorization, code, upstreamErr string) (*Step, *Error) {
	if p.IdP == "" || p.IdP == tenants.IdPDev || p.UpstreamVerifierSealed == "" {
		return nil, newErr(ErrInvalidRequest, "no upstream sign-in is in progress for this request")
	}
	fail := func(reason string) {
		s.audit(ctx, tenants.AuditEvent{TenantID: p.TenantID, Action: tenants.ActLoginFailed, ClientID: p.ClientID, Outcome: tenants.OutcomeFailure,
			Reason: reason, Details: tenants.JSONMap{tenants.DetailIdP: p.IdP}})
	}
	if upstreamErr != "" {
		fail("upstream_" + truncate(upstreamErr, 40))
		_ = s.Store.DeletePending(ctx, p.TenantID, p.ID)
		if upstreamErr == ErrAccessDenied {
			return nil, newErr(ErrAccessDenied, "the user denied the sign-in at the identity provider").WithRedirect(p.RedirectURI, p.State)
		}
		return nil, newErr(ErrAccessDenied, "the identity provider refused the sign-in (%s)", truncate(upstreamErr, 40))
	}
	if code == "" {
		return nil, newErr(ErrInvalidRequest, "the identity provider returned no code")
	}
	cfg, err := s.Store.GetIdP(ctx, p.TenantID, p.IdP)
	if err != nil {
		return nil, newErr(ErrInvalidRequest, "identity provider %q is no longer configured", p.IdP)
	}
	prov, e := s.provider(ctx, site, cfg)
	if e != nil {
		return nil, e
	}
	verifier, err := s.Sealer.Open(p.UpstreamVerifierSealed, tenants.PendingVerifierContext(p.TenantID, p.ID))
	if err != nil {
		return nil, serverError(err)
	}
	// The pending row is single use from here: a replayed callback finds nothing.
	p.UpstreamVerifierSealed = ""
	if err := s.Store.UpdatePending(ctx, p); err != nil {
		return nil, serverError(err)
	}
	ident, tok, err := prov.Exchange(ctx, code, p.UpstreamNonce, verifier)
	if err != nil {
		var le *idp.LoginError
		if errors.As(err, &le) {
			fail(le.Reason)
			return nil, &Error{Code: ErrAccessDenied, Description: le.Message, Cause: err}
		}
		fail("upstream_error")
		return nil, &Error{Code: ErrTemporarilyUnavailable, Description: "signing in with the identity provider failed; try again", Cause: err}
	}
	return s.CompleteLogin(ctx, site, p, ident, tok)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// CompleteLogin records who logged in, then either issues the code (consent
// not needed) or asks for consent.
func (s *Server) CompleteLogin(ctx context.Context, site tenants.Site, p *tenants.PendingAuthorization, ident *idp.Identity, tok *idp.Token) (*Step, *Error) {
	if ident == nil || ident.Subject == "" {
		return nil, serverError(errors.New("identity without subject"))
	}
	u := &tenants.User{TenantID: p.TenantID, IdP: p.IdP, IdPIssuer: ident.Issuer, IdPSubject: ident.Subject, Email: ident.Email,
		Name: truncate(ident.Name, 200), Username: truncate(ident.Username, 200), Orgs: tenants.Strings(ident.Orgs)}
	if err := s.Store.UpsertUser(ctx, u); err != nil {
		return nil, serverError(err)
	}
	p.UserID = u.ID
	if tok != nil && tok.AccessToken != "" {
		raw, _ := json.Marshal(tok)
		sealed, err := s.Sealer.Seal(string(raw), tenants.PendingUpstreamTokenContext(p.TenantID, p.ID))
		if err != nil {
			return nil, serverError(err)
		}
		p.UpstreamTokenSealed = sealed
	}
	s.audit(ctx, tenants.AuditEvent{TenantID: p.TenantID, Action: tenants.ActLoginSucceeded, ClientID: p.ClientID, Subject: u.ID,
		Details: tenants.JSONMap{tenants.DetailIdP: p.IdP, tenants.DetailEmail: u.Email}})
	client, e := s.storedClient(ctx, site, p.ClientID)
	if e != nil {
		return nil, e
	}
	skip, err := s.consentSatisfied(ctx, site, p, client)
	if err != nil {
		return nil, serverError(err)
	}
	if skip {
		return s.issueCode(ctx, site, p, client)
	}
	p.ConsentRequired = true
	if err := s.savePending(ctx, p); err != nil {
		return nil, serverError(err)
	}
	return &Step{Consent: true, Pending: p}, nil
}

// consentSatisfied: skip_consent (the tenant's or the client's) for clients
// the tenant pre-registered, or a remembered consent covering the scopes.
// Whatever the IdP, the dev IdP included (docs/RULES.md §5): consent is what stops a
// client that registered itself from getting a code without the user seeing
// who asks, and the consent page, its CSRF check and its escaping must be
// exercised by local trials and tests as users will see them.
func (s *Server) consentSatisfied(ctx context.Context, site tenants.Site, p *tenants.PendingAuthorization, c *tenants.Client) (bool, error) {
	if c.Kind == tenants.ClientPreregistered && (c.SkipConsent || site.Tenant.Settings.SkipConsent) {
		return true, nil
	}
	got, err := s.Store.GetConsent(ctx, p.TenantID, p.UserID, c.ID)
	if errors.Is(err, tenants.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return subset(p.Scopes, got.Scopes), nil
}

// ConsentInfo is what the consent page shows.
type ConsentInfo struct {
	ClientName     string
	ClientID       string
	ClientURI      string
	RedirectOrigin string
	Scopes         []string
	// ScopeDescriptions are the tenant's words for its scopes (settings).
	ScopeDescriptions map[string]string
	User              *tenants.User
	CIMD              bool
}

// ConsentDetails describes a pending authorization waiting for consent.
func (s *Server) ConsentDetails(ctx context.Context, site tenants.Site, p *tenants.PendingAuthorization) (*ConsentInfo, *Error) {
	if p.UserID == "" || !p.ConsentRequired {
		return nil, newErr(ErrInvalidRequest, "this sign-in is not waiting for consent")
	}
	c, e := s.storedClient(ctx, site, p.ClientID)
	if e != nil {
		return nil, e
	}
	u, err := s.Store.GetUser(ctx, p.TenantID, p.UserID)
	if err != nil {
		return nil, serverError(err)
	}
	name := c.Name
	if name == "" {
		name = c.ID
	}
	return &ConsentInfo{ClientName: name, ClientID: c.ID, ClientURI: c.ClientURI, RedirectOrigin: RedirectOrigin(p.RedirectURI), Scopes: p.Scopes, User: u,
		CIMD: c.Kind == tenants.ClientCIMD, ScopeDescriptions: site.Tenant.Settings.ScopeDescriptions}, nil
}

// Consent records the user's answer: approve issues the code (and remembers
// the consent), deny sends access_denied to the client.
func (s *Server) Consent(ctx context.Context, site tenants.Site, p *tenants.PendingAuthorization, approve bool) (*Step, *Error) {
	if p.UserID == "" || !p.ConsentRequired {
		return nil, newErr(ErrInvalidRequest, "this sign-in is not waiting for consent")
	}
	if !approve {
		s.audit(ctx, tenants.AuditEvent{TenantID: p.TenantID, Action: tenants.ActConsentDenied, ClientID: p.ClientID, Subject: p.UserID, Outcome: tenants.OutcomeFailure})
		_ = s.Store.DeletePending(ctx, p.TenantID, p.ID)
		return nil, newErr(ErrAccessDenied, "the user denied access").WithRedirect(p.RedirectURI, p.State)
	}
	client, e := s.storedClient(ctx, site, p.ClientID)
	if e != nil {
		return nil, e
	}
	if err := s.Store.PutConsent(ctx, &tenants.Consent{TenantID: p.TenantID, UserID: p.UserID, ClientID: p.ClientID, Scopes: p.Scopes}); err != nil {
		return nil, serverError(err)
	}
	s.audit(ctx, tenants.AuditEvent{TenantID: p.TenantID, Action: tenants.ActConsentGranted, ClientID: p.ClientID, Subject: p.UserID,
		Details: tenants.JSONMap{tenants.DetailScopes: p.Scopes}})
	return s.issueCode(ctx, site, p, client)
}

// issueCode creates the grant (short-lived until the code is exchanged) and
// the code, and answers with code, state and iss (RFC 6749 §4.1.2, RFC 9207).
func (s *Server) issueCode(ctx context.Context, site tenants.Site, p *tenants.PendingAuthorization, c *tenants.Client) (*Step, *Error) {
	now := s.now()
	g := &tenants.Grant{TenantID: p.TenantID, ID: tenants.RandomID(), UserID: p.UserID, Subject: p.UserID, ClientID: c.ID, Scopes: p.Scopes,
		Resource: p.Resource, CreatedAt: now, ExpiresAt: now.Add(CodeTTL), UpstreamIdP: p.IdP}
	if p.UpstreamTokenSealed != "" {
		raw, err := s.Sealer.Open(p.UpstreamTokenSealed, tenants.PendingUpstreamTokenContext(p.TenantID, p.ID))
		if err != nil {
			return nil, serverError(err)
		}
		var tok idp.Token
		if json.Unmarshal([]byte(raw), &tok) == nil && !tok.Expiry.IsZero() {
			exp := tok.Expiry.UTC()
			g.UpstreamTokenExpiry = &exp
		}
		if g.UpstreamTokenSealed, err = s.Sealer.Seal(raw, tenants.UpstreamTokenContext(p.TenantID, g.ID)); err != nil {
			return nil, serverError(err)
		}
	}
	code := tenants.RandomToken()
	ac := &tenants.AuthCode{TenantID: p.TenantID, Hash: tenants.HashSecret(code), GrantID: g.ID, ClientID: c.ID, RedirectURI: p.RedirectURI,
		CodeChallenge: p.CodeChallenge, Resource: p.Resource, Scopes: p.Scopes, UserID: p.UserID, Mode: p.Mode, Issuer: p.Issuer, CreatedAt: now, ExpiresAt: now.Add(CodeTTL)}
	err := s.Store.InTx(ctx, func(st tenants.Store) error {
		if err := st.CreateGrant(ctx, g); err != nil {
			return err
		}
		if err := st.CreateAuthCode(ctx, ac); err != nil {
			return err
		}
		// Single use: a second completion of the same pending finds nothing.
		if p.Unsaved {
			return nil
		}
		return st.DeletePending(ctx, p.TenantID, p.ID)
	})
	if errors.Is(err, tenants.ErrNotFound) {
		return nil, newErr(ErrInvalidRequest, "this sign-in request was already completed")
	}
	if err != nil {
		return nil, serverError(err)
	}
	s.audit(ctx, tenants.AuditEvent{TenantID: p.TenantID, Action: tenants.ActCodeIssued, ClientID: c.ID, Subject: p.UserID,
		Details: tenants.JSONMap{tenants.DetailGrantID: g.ID, tenants.DetailScopes: p.Scopes, tenants.DetailRedirectOrigin: RedirectOrigin(p.RedirectURI)}})
	q := url.Values{}
	q.Set("code", code)
	if p.State != "" {
		q.Set("state", p.State)
	}
	q.Set("iss", site.Issuer)
	return &Step{RedirectURL: appendQuery(p.RedirectURI, q)}, nil
}
