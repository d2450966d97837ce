package idp

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/tenants"
)

// GoogleIssuer is Google's OIDC issuer.
const GoogleIssuer = tenants.GoogleIssuer

// googleConsumerDomains have no hosted domain (hd claim).
var googleConsumerDomains = []string{"gmail.com", "googlemail.com"}

type oidcProvider struct {
	typ      string
	cfg      Config
	p        *oidc.Provider
	oc       *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newOIDC(ctx context.Context, cfg Config, typ, issuer string) (*oidcProvider, error) {
	p, err := discover(ctx, cfg.HTTPClient, issuer)
	if err != nil {
		// Not a LoginError: an unreachable issuer is transient (workers
		// retry; the authorization server shows "try again later").
		return nil, fmt.Errorf("idp: OIDC discovery of %s: %w", issuer, truncated(err))
	}
	ep := p.Endpoint()
	if typ == tenants.IdPGoogle {
		ep.AuthStyle = oauth2.AuthStyleInParams
	} else {
		ep.AuthStyle = authStyleFor(p)
	}
	scopes := scopesOr(cfg.IdP.Scopes, []string{oidc.ScopeOpenID, "email", "profile"}, oidc.ScopeOpenID)
	return &oidcProvider{
		typ: typ, cfg: cfg, p: p,
		oc: &oauth2.Config{
			ClientID: cfg.IdP.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
			Endpoint: ep, Scopes: scopes,
		},
		// Checks signature (keys from the discovered jwks_uri), iss, aud
		// contains our client id, and exp.
		verifier: p.Verifier(&oidc.Config{ClientID: cfg.IdP.ClientID}),
	}, nil
}

// authStyleFor picks client authentication from the discovery document:
// one advertised method is used as is; otherwise x/oauth2 probes (header
// first, then form) and remembers what worked.
func authStyleFor(p *oidc.Provider) oauth2.AuthStyle {
	var meta struct {
		Methods []string `json:"token_endpoint_auth_methods_supported"`
	}
	_ = p.Claims(&meta)
	basic, post := containsFold(meta.Methods, "client_secret_basic"), containsFold(meta.Methods, "client_secret_post")
	switch {
	case post && !basic:
		return oauth2.AuthStyleInParams
	case basic && !post:
		return oauth2.AuthStyleInHeader
	}
	return oauth2.AuthStyleAutoDetect
}

func (o *oidcProvider) Type() string { return o.typ }

func (o *oidcProvider) AuthCodeURL(state, nonce, verifier string) string {
	opts := pkceChallenge(verifier)
	if nonce != "" {
		opts = append(opts, oidc.Nonce(nonce))
	}
	if o.typ == tenants.IdPGoogle {
		// Offline access + consent so Google issues a refresh token (it
		// only does on consent) for the workers to renew the access token.
		opts = append(opts, oauth2.AccessTypeOffline, oauth2.ApprovalForce)
		if len(o.cfg.IdP.AllowedDomains) == 1 {
			// Account chooser hint only; enforced at Exchange.
			opts = append(opts, oauth2.SetAuthURLParam("hd", strings.ToLower(o.cfg.IdP.AllowedDomains[0])))
		}
	}
	return o.oc.AuthCodeURL(state, opts...)
}

// flexBool accepts true/false and "true"/"false" (some IdPs send strings).
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch t := v.(type) {
	case bool:
		*b = flexBool(t)
	case string:
		*b = flexBool(strings.EqualFold(t, "true"))
	default:
		*b = false
	}
	return nil
}

type oidcClaims struct {
	Subject           string   `json:"sub"`
	Email             string   `json:"email"`
	EmailVerified     flexBool `json:"email_verified"`
	Name              string   `json:"name"`
	PreferredUsername string   `json:"preferred_username"`
	HostedDomain      string   `json:"hd"`
	AuthorizedParty   string   `json:"azp"`
}

func badIDToken(msg string, err error) error {
	return &LoginError{Reason: ReasonBadIDToken, Message: msg, Err: err}
}

func (o *oidcProvider) Exchange(ctx context.Context, code, nonce, verifier string) (*Identity, *Token, error) {
	ctx = clientContext(ctx, o.cfg.HTTPClient)
	tok, err := o.oc.Exchange(ctx, code, pkceVerifier(verifier)...)
	if err != nil {
		return nil, nil, exchangeError(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, nil, badIDToken("The identity provider returned no ID token.", nil)
	}
	idt, err := o.verifier.Verify(ctx, raw)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, nil, err
		}
		return nil, nil, badIDToken("The identity provider's ID token could not be verified.", err)
	}
	// go-oidc leaves the nonce to the caller (OIDC Core §3.1.3.7 step 11):
	// it binds the id_token to this browser's login attempt.
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, nil, &LoginError{Reason: ReasonNonceMismatch,
			Message: "The sign-in response does not belong to this login attempt. Please start again."}
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, nil, badIDToken("The identity provider's ID token does not match its access token.", err)
		}
	}
	var c oidcClaims
	if err := idt.Claims(&c); err != nil {
		return nil, nil, badIDToken("The identity provider's ID token could not be read.", err)
	}
	// OIDC Core §3.1.3.7 steps 4-5: with several audiences, azp must be us.
	if len(idt.Audience) > 1 && c.AuthorizedParty != o.cfg.IdP.ClientID {
		return nil, nil, badIDToken("The identity provider's ID token was issued to another party.", nil)
	}
	if c.Subject == "" {
		return nil, nil, badIDToken("The identity provider's ID token has no subject.", nil)
	}
	if c.Email == "" && o.p.UserInfoEndpoint() != "" {
		o.userinfo(ctx, tok, &c)
	}

	id := &Identity{Issuer: o.cfg.IdP.Issuer(), Subject: c.Subject, Name: c.Name, Username: c.PreferredUsername}
	if c.Email != "" && bool(c.EmailVerified) {
		id.Email, id.EmailVerified = c.Email, true
	}
	if err := o.checkRules(c); err != nil {
		return nil, nil, err
	}
	return id, fromOAuth2(tok), nil
}

// checkRules applies the tenant's sign-in rules to the user's claims: at
// login and at every refresh that yields claims.
func (o *oidcProvider) checkRules(c oidcClaims) error {
	if err := checkDomain(o.cfg.IdP, c.Email, bool(c.EmailVerified)); err != nil {
		return err
	}
	if o.typ == tenants.IdPGoogle {
		return checkGoogle(o.cfg.IdP, c)
	}
	return nil
}

// userinfo fills email (and missing names) from the userinfo endpoint when
// the id_token carries no email; its sub must equal the id_token's (OIDC
// Core §5.3.2). Failures leave c unchanged: the domain policy decides.
func (o *oidcProvider) userinfo(ctx context.Context, tok *oauth2.Token, c *oidcClaims) {
	ui, err := o.p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return
	}
	var u oidcClaims
	if err := ui.Claims(&u); err != nil || u.Subject != c.Subject {
		return
	}
	c.Email, c.EmailVerified = u.Email, u.EmailVerified
	if c.Name == "" {
		c.Name = u.Name
	}
	if c.PreferredUsername == "" {
		c.PreferredUsername = u.PreferredUsername
	}
}

// checkGoogle: Google always reports email_verified; an unverified address
// is refused outright. With allowed domains, a non-Gmail address must also
// belong to that Workspace (hd claim): any Google account can carry a
// verified address of any domain, so the email alone does not prove the
// account is managed by the domain (Google's OIDC guidance).
func checkGoogle(cfg *tenants.IdPConfig, c oidcClaims) error {
	if c.Email == "" || !bool(c.EmailVerified) {
		return &LoginError{Reason: ReasonEmailUnverified, Message: "Your Google account's email address is not verified."}
	}
	if len(cfg.AllowedDomains) == 0 {
		return nil
	}
	d := emailDomain(c.Email)
	if containsFold(googleConsumerDomains, d) {
		return nil
	}
	if !strings.EqualFold(c.HostedDomain, d) {
		return &LoginError{Reason: ReasonDomainNotAllowed,
			Message: fmt.Sprintf("Sign in with the Google Workspace account of %s.", d)}
	}
	return nil
}

// Refresh renews the token; while the tenant restricts domains, the
// user's claims are read again — from the refreshed id_token (verified as
// at login; OIDC Core §12.2 gives it no nonce), else from userinfo with the
// renewed access token — and the rules (email domain, Google's hd) applied,
// so an account moved out of the domain or disabled loses access at the
// next refresh. An IdP that gives neither cannot be asked.
func (o *oidcProvider) Refresh(ctx context.Context, t *Token) (*Token, error) {
	nt, raw, err := refreshRaw(ctx, o.oc, o.cfg.HTTPClient, t)
	if err != nil || raw == nil || len(o.cfg.IdP.AllowedDomains) == 0 {
		return nt, err
	}
	ctx = clientContext(ctx, o.cfg.HTTPClient)
	var c oidcClaims
	if rawID, _ := raw.Extra("id_token").(string); rawID != "" {
		idt, err := o.verifier.Verify(ctx, rawID)
		if err != nil {
			return nil, fmt.Errorf("idp: refreshed id_token: %w", truncated(err))
		}
		if err := idt.Claims(&c); err != nil {
			return nil, fmt.Errorf("idp: refreshed id_token claims: %w", err)
		}
		if c.Email == "" && o.p.UserInfoEndpoint() != "" {
			o.userinfo(ctx, raw, &c)
		}
	} else if o.p.UserInfoEndpoint() != "" {
		ui, err := o.p.UserInfo(ctx, oauth2.StaticTokenSource(raw))
		if err != nil {
			return nil, fmt.Errorf("idp: userinfo after refresh: %w", truncated(err))
		}
		if err := ui.Claims(&c); err != nil {
			return nil, fmt.Errorf("idp: userinfo claims: %w", err)
		}
	} else {
		return nt, nil
	}
	if err := o.checkRules(c); err != nil {
		return nil, err
	}
	return nt, nil
}

// truncatedError caps an error text (go-oidc quotes whole response bodies).
type truncatedError struct{ err error }

func (e truncatedError) Error() string {
	s := e.err.Error()
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func (e truncatedError) Unwrap() error { return e.err }

func truncated(err error) error { return truncatedError{err} }
