package console

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
)

// Cookie names. The session cookie holds a random token naming a
// server-side session (tenants.AccountSession, stored by hash): logout,
// password change and "end other sessions" end it on the server, and a value
// planted before sign-in never becomes a session. The other cookies hold
// sealed values (AES-GCM under the platform key), unreadable and unforgeable.
const (
	sessionCookie = "gatehouse_console"
	preCookie     = "gatehouse_pre"   // binds CSRF tokens on forms shown before sign-in
	flashCookie   = "gatehouse_flash" // a one-time value for the next page
	totpCookie    = "gatehouse_2fa"   // password accepted, second factor pending
	idpCookie     = "gatehouse_idp"   // platform IdP login in flight

	flashContext = "console-flash"
	totpContext  = "console-2fa"
	idpContext   = "console-idp"

	flashTTL   = 5 * time.Minute
	pendingTTL = 5 * time.Minute
)

// session is the signed-in account of a request.
type session struct {
	*tenants.AccountSession
	Account *tenants.Account
}

// IsOperator is for templates.
func (s *session) IsOperator() bool { return s != nil && s.Account.Operator() }

// flash carries a secret to the next page exactly once (POST-redirect-GET),
// so a reload never re-submits a form and never shows the secret again.
type flash struct {
	Binding string            `json:"b"` // session id it belongs to
	Kind    string            `json:"k"` // "api_key", "client", "notice", "recovery_codes", "invite"
	Values  map[string]string `json:"v"`
	List    []string          `json:"l,omitempty"`
	Exp     int64             `json:"exp"`
}

// pending is a sign-in waiting for its second factor, or a platform IdP
// login waiting for its callback.
type pending struct {
	AccountID string `json:"a,omitempty"`
	Method    string `json:"m,omitempty"`
	Next      string `json:"n,omitempty"`
	State     string `json:"s,omitempty"`
	Nonce     string `json:"o,omitempty"`
	Verifier  string `json:"v,omitempty"`
	Provider  string `json:"p,omitempty"`
	Exp       int64  `json:"exp"`
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

// signIn starts a new server-side session for a and sets its cookie. A
// session the browser already had is ended first: sign-in always rotates
// the session id (no fixation).
func (u *ui) signIn(c *gin.Context, a *tenants.Account, method string) error {
	if s := sessionOf(c); s != nil {
		_ = u.acc.EndSession(c.Request.Context(), s.Account, s.ID)
	}
	tok, _, err := u.acc.StartSession(c.Request.Context(), a, method)
	if err != nil {
		return err
	}
	http.SetCookie(c.Writer, u.cookie(sessionCookie, tok, "/", accounts.SessionTTL))
	http.SetCookie(c.Writer, u.cookie(totpCookie, "", "/console/login", -1))
	return nil
}
