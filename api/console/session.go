package console

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Cookie names. The session cookie holds a sealed value (AES-GCM under the
// platform secret key, bound to the "console-session" context): nothing in
// it can be read or forged by the browser.
const (
	sessionCookie = "gatehouse_console"
	preCookie     = "gatehouse_pre" // binds CSRF tokens on the login and signup forms
	flashCookie   = "gatehouse_flash"

	sessionContext = "console-session"
	flashContext   = "console-flash"

	// sessionTTL is the absolute session lifetime (at most 12 h by design).
	sessionTTL = 12 * time.Hour
	flashTTL   = 5 * time.Minute

	adminKeyID = "admin"
)

// session is what the sealed cookie carries.
type session struct {
	SID      string `json:"sid"`           // random; CSRF tokens are bound to it
	KeyID    string `json:"kid"`           // API key id, or "admin"
	TenantID string `json:"tid,omitempty"` // the key's tenant ("" for admin)
	AdminFP  string `json:"afp,omitempty"` // admin token fingerprint: a changed token ends admin sessions
	Exp      int64  `json:"exp"`
}

func (s *session) admin() bool { return s != nil && s.KeyID == adminKeyID }

// flash carries a secret to the next page exactly once (POST-redirect-GET),
// so a reload never re-submits a form and never shows the secret again.
type flash struct {
	Binding string            `json:"b"`   // session id it belongs to
	Kind    string            `json:"k"`   // "api_key", "client", "signup", "notice"
	Once    string            `json:"o"`   // signup: single-use marker checked server side
	Values  map[string]string `json:"v"`   //
	Exp     int64             `json:"exp"` //
}

func (u *ui) sealJSON(v any, context string) (string, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return u.d.Sealer.Seal(string(raw), context)
}

func (u *ui) openJSON(sealed, context string, v any) bool {
	raw, err := u.d.Sealer.Open(sealed, context)
	if err != nil || raw == "" {
		return false
	}
	return json.Unmarshal([]byte(raw), v) == nil
}

// adminFingerprint names the current admin token hash without revealing it.
func (u *ui) adminFingerprint() string {
	return u.d.Sealer.MACText("console-admin-fp", []byte(u.d.AdminTokenHash), 12)
}

// adminFingerprintOK checks a session's fingerprint under any configured
// secret key, so rotating GATEHOUSE_SECRET_KEY keeps admin sessions.
func (u *ui) adminFingerprintOK(fp string) bool {
	return u.d.Sealer.VerifyMACText("console-admin-fp", []byte(u.d.AdminTokenHash), fp)
}

// csrfFor derives the CSRF token of a binding (session id or pre-session
// value); it is never stored.
func (u *ui) csrfFor(binding string) string {
	if binding == "" {
		return ""
	}
	return u.d.Sealer.MACText("console-csrf", []byte(binding), 0)
}

// csrfOK accepts a token made under any configured secret key (a rotation
// does not break forms already on screen).
func (u *ui) csrfOK(binding, got string) bool {
	if binding == "" || got == "" {
		return false
	}
	return u.d.Sealer.VerifyMACText("console-csrf", []byte(binding), got)
}

func (u *ui) cookie(name, value, path string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: path, HttpOnly: true, Secure: u.secure, SameSite: http.SameSiteLaxMode}
	if maxAge < 0 {
		c.MaxAge = -1
		c.Expires = time.Unix(1, 0)
	} else if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
		c.Expires = u.now().Add(maxAge)
	}
	return c
}

// newSession starts a console session: a row server-side (so logout ends
// it for every copy of the cookie, docs/SECURITY.md §14) and the sealed
// cookie value naming it.
func (u *ui) newSession(ctx context.Context, keyID, tenantID string) (*session, string, error) {
	now := u.now().UTC()
	s := &session{SID: tenants.RandomID(), KeyID: keyID, TenantID: tenantID, Exp: now.Add(sessionTTL).Unix()}
	if keyID == adminKeyID {
		s.AdminFP = u.adminFingerprint()
	}
	if err := u.d.Store.CreateConsoleSession(ctx, &tenants.ConsoleSession{ID: s.rowID(), TenantID: tenantID, KeyID: keyID,
		CreatedAt: now, ExpiresAt: time.Unix(s.Exp, 0).UTC()}); err != nil {
		return nil, "", err
	}
	v, err := u.sealJSON(s, sessionContext)
	return s, v, err
}

// rowID names the session's server-side row: a hash, so a database reader
// cannot rebuild CSRF tokens from it.
func (s *session) rowID() string { return tenants.HashSecret("console-session:" + s.SID) }

// endSession ends the session server-side (logout).
func (u *ui) endSession(ctx context.Context, s *session) error {
	return u.d.Store.EndConsoleSession(ctx, s.rowID(), u.now())
}

// IsAdmin is for templates.
func (s *session) IsAdmin() bool { return s.admin() }
