package tenants_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/jsonx"
)

func TestDecodeStrict(t *testing.T) {
	var s tenants.Settings
	for _, tc := range []struct{ in, field string }{
		{`{"access_token_ttl":"x"}`, "settings.access_token_ttl"},
		{`{"tool_scopes":{"a":1}}`, "settings.tool_scopes"},
		{`{"nope":1}`, "settings.nope"},
	} {
		err := tenants.DecodeStrict([]byte(tc.in), &s, "settings.")
		v, ok := err.(*tenants.ValidationError)
		if !ok || v.Errors[0].Field != tc.field {
			t.Errorf("%s: %v", tc.in, err)
		}
	}
	for _, in := range []string{`{"a":`, `{} {}`, ``, `{}x`} {
		if _, ok := tenants.DecodeStrict([]byte(in), &s, "").(*jsonx.SyntaxError); !ok {
			t.Errorf("%q: want a syntax error", in)
		}
	}
}

// Pre-registered client rules (docs/RULES.md §5 redirect URIs; RFC 7591 §2 defaults).
func TestPreregisteredClientValidate(t *testing.T) {
	ok := []tenants.PreregisteredClientInput{
		{RedirectURIs: []string{"https://claude.ai/api/mcp/auth_callback"}},
		{RedirectURIs: []string{"http://127.0.0.1:33418/callback", "http://[::1]/cb", "http://localhost:9/x"}, TokenEndpointAuthMethod: "none"},
		{RedirectURIs: []string{"cursor://anysphere.cursor-mcp/oauth/callback"}, ApplicationType: "web"},
		{GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_post"},
	}
	for i, in := range ok {
		if v := in.Validate(tenants.Settings{}); v.Err() != nil {
			t.Errorf("ok[%d]: %v", i, v)
		}
	}
	in := tenants.PreregisteredClientInput{RedirectURIs: []string{"https://a.example/cb"}}
	in.Validate(tenants.Settings{})
	if in.TokenEndpointAuthMethod != "client_secret_basic" || len(in.GrantTypes) != 2 {
		t.Fatalf("defaults: %+v", in)
	}
	bad := map[string]tenants.PreregisteredClientInput{
		"redirect_uris":              {RedirectURIs: []string{"http://10.0.0.1/cb"}},
		"token_endpoint_auth_method": {RedirectURIs: []string{"https://a.example/cb"}, TokenEndpointAuthMethod: "tls_client_auth"},
		"grant_types":                {GrantTypes: []string{"implicit"}},
		"scope":                      {RedirectURIs: []string{"https://a.example/cb"}, Scope: "mcp admin"},
		"client_id":                  {RedirectURIs: []string{"https://a.example/cb"}, ClientID: "a b"},
		"application_type":           {RedirectURIs: []string{"https://a.example/cb"}, ApplicationType: "desktop"},
	}
	for field, in := range bad {
		v := in.Validate(tenants.Settings{})
		if v.Err() == nil || v.Errors[0].Field != field {
			t.Errorf("%s: %+v", field, v.Errors)
		}
	}
}
