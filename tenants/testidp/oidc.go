package testidp

import (
	"net"
	"testing"

	"github.com/oauth2-proxy/mockoidc"
)

// StartOIDC starts mockoidc, a generic OpenID Connect provider (the upstream
// IdP of a tenant's sign-in), on a loopback port until the test ends. setup,
// when not nil, adjusts it before it serves (middleware, PKCE methods).
func StartOIDC(t testing.TB, setup func(*mockoidc.MockOIDC) error) *mockoidc.MockOIDC {
	t.Helper()
	m, err := mockoidc.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		if err := setup(m); err != nil {
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
