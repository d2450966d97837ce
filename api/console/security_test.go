package console

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// Issue 9, hole 13: after a GATEHOUSE_SECRET_KEY rotation (new key first,
// old key kept) the console's MACs made under the old key must still
// verify: admin sessions (admin token fingerprint), session CSRF tokens of
// forms on screen, and the login form's pre-session CSRF token.
func TestSecurity_13_ConsoleSurvivesSecretKeyRotation(t *testing.T) {
	for name, dsn := range map[string]func(testing.TB) string{"sqlite": testdb.SQLite, "postgres": testdb.Postgres} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, envOpts{dsn: dsn(t)})
			admin := e.browser()
			admin.login(testAdminToken)
			sessionCSRF := admin.csrf("/console")
			visitor := e.browser()
			loginCSRF := visitor.csrf("/console/login")

			e.rekey([]byte("web-test-key-rotated-0123456789a"), testSecretKey)

			if r := admin.get("/console"); r.StatusCode != http.StatusOK {
				t.Errorf("admin session after a key rotation: %d (Location %q)", r.StatusCode, r.Header.Get("Location"))
			}
			if r := admin.post("/console/logout", url.Values{"csrf": {sessionCSRF}}); r.StatusCode != http.StatusSeeOther {
				t.Errorf("session CSRF token after a key rotation: %d %.200s", r.StatusCode, r.Body)
			}
			if r := visitor.post("/console/login", url.Values{"csrf": {loginCSRF}, "token": {testAdminToken}}); r.StatusCode != http.StatusSeeOther {
				t.Errorf("login form CSRF token after a key rotation: %d %.200s", r.StatusCode, r.Body)
			}
		})
	}
}
