package testidp

import (
	"net"
	"net/http"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
)

// StartOIDC runs mockoidc, a generic OpenID Connect provider (a team's or
// a platform's sign-in IdP), on a loopback port until the test ends.
// configure, when not nil, adjusts it before it serves; mw wrap its
// handlers (to record or alter what it answers).
func StartOIDC(t testing.TB, configure func(*mockoidc.MockOIDC), mw ...func(http.Handler) http.Handler) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if configure != nil {
		configure(m)
	}
	for _, f := range mw {
		if err := m.AddMiddleware(f); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ln, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Shutdown() })
	return m
}
