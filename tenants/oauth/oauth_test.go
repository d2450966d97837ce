package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// RFC 7636 §4.6: BASE64URL(SHA256(verifier)) == challenge; verifiers are
// 43–128 unreserved characters.
func TestPKCE_RFC7636(t *testing.T) {
	v := strings.Repeat("a", 43)
	sum := sha256.Sum256([]byte(v))
	ch := base64.RawURLEncoding.EncodeToString(sum[:])
	if !validChallenge(ch) || !pkceMatches(v, ch) {
		t.Fatal("S256 pair refused")
	}
	if pkceMatches(v+"b", ch) || pkceMatches(v, v) {
		t.Error("mismatch accepted (plain comparison must never pass)")
	}
	if validVerifier(strings.Repeat("a", 42)) || validVerifier(strings.Repeat("a", 129)) || validVerifier(strings.Repeat("a", 42)+"+") {
		t.Error("verifier length/charset not enforced")
	}
}

// RFC 9111 §5.2.2: max-age sets the lifetime; no-store/no-cache disable caching.
func TestCIMDCacheTTL(t *testing.T) {
	for cc, want := range map[string]time.Duration{
		"":                        cimdDefaultTTL,
		"max-age=120":             120 * time.Second,
		"public, max-age=30":      30 * time.Second,
		"no-store":                0,
		"no-cache, max-age=60":    0,
		"max-age=99999999":        cimdMaxTTL,
		"max-age=bogus":           0,
		`public, max-age="45"`:    45 * time.Second,
		"must-revalidate":         cimdDefaultTTL,
		"max-age=0":               0,
		"private, max-age=10":     10 * time.Second,
		"immutable, max-age=3600": time.Hour,
	} {
		h := http.Header{}
		if cc != "" {
			h.Set("Cache-Control", cc)
		}
		if got := cacheTTL(h); got != want {
			t.Errorf("%q: %v, want %v", cc, got, want)
		}
	}
}

func TestValidateCIMDURL(t *testing.T) {
	for u, ok := range map[string]bool{
		"https://claude.ai/oauth/mcp-oauth-client-metadata": true,
		"https://claude.ai":              false,
		"https://claude.ai/":             false,
		"http://claude.ai/meta":          false,
		"https://user:pw@claude.ai/meta": false,
		"https://claude.ai/meta#x":       false,
		"https://claude.ai/a/../meta":    false,
	} {
		if got := ValidateCIMDURL(u) == nil; got != ok {
			t.Errorf("%s: valid=%v, want %v", u, got, ok)
		}
	}
}

// The default CIMD client is https-only and refuses loopback addresses.
func TestCIMDResolverRefusesPrivateAndHTTP(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("a private address was fetched")
	}))
	defer srv.Close()
	r := NewCIMDResolver(nil)
	if _, err := r.Resolve(context.Background(), srv.URL+"/client.json"); err == nil || !strings.Contains(err.Error(), "non-public") {
		t.Errorf("loopback document: %v", err)
	}
	if _, err := r.Resolve(context.Background(), strings.Replace(srv.URL, "https", "http", 1)+"/client.json"); err == nil {
		t.Error("http document accepted")
	}
}

func TestHostAllowed(t *testing.T) {
	list := []string{"claude.ai", "*.example.com"}
	for h, want := range map[string]bool{"claude.ai": true, "CLAUDE.AI": true, "a.example.com": true, "example.com": false, "evilclaude.ai": false, "x.claude.ai": false} {
		if hostAllowed(h, list) != want {
			t.Errorf("%s: want %v", h, want)
		}
	}
	if !hostAllowed("anything.test", nil) {
		t.Error("empty list must allow")
	}
}

// RFC 6749 §4.1.2.1 + RFC 9207: the error redirect keeps the redirect URI's
// own query and adds error, error_description, state and iss.
func TestErrorRedirectURL(t *testing.T) {
	e := &Error{Code: ErrAccessDenied, Description: "no", RedirectURI: "https://app.example/cb?keep=1", State: "s"}
	u, _ := url.Parse(e.RedirectURL("https://iss.example/t/x"))
	q := u.Query()
	if q.Get("keep") != "1" || q.Get("error") != "access_denied" || q.Get("error_description") != "no" || q.Get("state") != "s" || q.Get("iss") != "https://iss.example/t/x" {
		t.Errorf("redirect %s", u)
	}
}

// failingClients is a store whose client lookups fail like a database
// outage; every other method is unused by the calls under test.
type failingClients struct{ tenants.Store }

var errOutage = errors.New("database is unreachable")

func (failingClients) GetClient(context.Context, string, string) (*tenants.Client, error) {
	return nil, errOutage
}

// A store failure during login or consent is a 500 with its cause kept for
// the log, never a 400 the client is blamed for (errors are changed by
// copying, not rebuilt by hand).
func TestStoreFailureAtConsentIsServerError(t *testing.T) {
	s := &Server{Store: failingClients{}}
	site := tenants.Site{Tenant: &tenants.Tenant{ID: "t1"}}
	p := &tenants.PendingAuthorization{TenantID: "t1", ID: "p1", ClientID: "c1", UserID: "u1", ConsentRequired: true,
		RedirectURI: "https://app.example/cb", State: "s"}
	check := func(name string, e *Error) {
		t.Helper()
		if e == nil {
			t.Fatalf("%s: no error", name)
		}
		if e.HTTPStatus() != http.StatusInternalServerError || !errors.Is(e, errOutage) || e.Redirectable() {
			t.Fatalf("%s: status %d, cause %v, redirect %q; want 500 with the cause, shown as a page", name, e.HTTPStatus(), e.Cause, e.RedirectURI)
		}
	}
	_, e := s.ConsentDetails(context.Background(), site, p)
	check("consent page", e)
	_, e = s.Consent(context.Background(), site, p, true)
	check("consent approval", e)
	_, e = s.Authorize(context.Background(), site, AuthorizeRequest{ClientID: "c1"}, "")
	check("authorize", e)
}

// WithX returns copies: the original value is never changed.
func TestErrorsChangedByCopying(t *testing.T) {
	base := newErr(ErrInvalidGrant, "unknown code")
	c := base.WithStatus(401).WithDescription("other %d", 1).WithCause(errOutage).WithRedirect("https://a.example/cb", "st")
	if base.Status != 0 || base.Description != "unknown code" || base.Cause != nil || base.RedirectURI != "" {
		t.Fatalf("original changed: %+v", base)
	}
	if c.Status != 401 || c.Description != "other 1" || c.Cause != errOutage || c.RedirectURI != "https://a.example/cb" || c.State != "st" || c.Code != ErrInvalidGrant {
		t.Fatalf("copy: %+v", c)
	}
}

// pendingWrites is a store with two IdPs that counts pending-authorization
// writes; every other method is unused by the calls under test.
type pendingWrites struct {
	tenants.Store
	created, updated int
}

func (*pendingWrites) ListIdPs(context.Context, string) ([]tenants.IdPConfig, error) {
	return []tenants.IdPConfig{{Type: tenants.IdPDev}, {Type: tenants.IdPGitHub}}, nil
}
func (w *pendingWrites) CreatePending(context.Context, *tenants.PendingAuthorization) error {
	w.created++
	return nil
}
func (w *pendingWrites) UpdatePending(context.Context, *tenants.PendingAuthorization) error {
	w.updated++
	return nil
}

// The login chooser stores a flow Authorize just built (the chooser is the
// first step that outlives the request) and never rewrites a stored one: a
// copy loaded before another tab's step would undo that step.
func TestLoginChooserWritesOnlyANewFlow(t *testing.T) {
	w := &pendingWrites{}
	s := &Server{Store: w, AllowDevIdP: true}
	site := tenants.Site{Tenant: &tenants.Tenant{ID: "t1"}}
	fresh := &tenants.PendingAuthorization{TenantID: "t1", ID: "p1", Unsaved: true}
	st, e := s.BeginLogin(context.Background(), site, fresh, "")
	if e != nil || len(st.Chooser) != 2 || w.created != 1 || w.updated != 0 || fresh.Unsaved {
		t.Fatalf("new flow: step %+v, error %v, %d created, %d updated, unsaved %v; want the chooser and one create", st, e, w.created, w.updated, fresh.Unsaved)
	}
	stored := &tenants.PendingAuthorization{TenantID: "t1", ID: "p1"}
	st, e = s.BeginLogin(context.Background(), site, stored, "")
	if e != nil || len(st.Chooser) != 2 || w.created != 1 || w.updated != 0 {
		t.Fatalf("stored flow: step %+v, error %v, %d created, %d updated; want the chooser and no write", st, e, w.created, w.updated)
	}
}
