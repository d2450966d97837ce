package idp

import (
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
)

// The bearer token goes with every page request: a Link header pointing at
// another origin must not be followed.
func TestGitHubNextLinkSameOriginOnly(t *testing.T) {
	g := newGitHub(Config{IdP: &tenants.IdPConfig{Type: tenants.IdPGitHub}, Endpoints: &Endpoints{APIURL: "https://api.github.com"}})
	cases := map[string]string{
		`<https://api.github.com/user/orgs?page=2>; rel="next", <https://api.github.com/user/orgs?page=5>; rel="last"`: "https://api.github.com/user/orgs?page=2",
		`<https://api.github.com/user/orgs?page=5>; rel="last"`:                                                        "",
		`<https://evil.example/user/orgs?page=2>; rel="next"`:                                                          "",
		`<http://api.github.com/user/orgs?page=2>; rel="next"`:                                                         "",
		``: "",
	}
	for h, want := range cases {
		if got := g.nextLink(h); got != want {
			t.Errorf("nextLink(%q) = %q, want %q", h, got, want)
		}
	}
}
