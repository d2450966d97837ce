package tenants_test

import (
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
)

func TestDropClientHeader(t *testing.T) {
	for name, drop := range map[string]bool{
		"X-Gatehouse-Subject": true, "x-gatehouse-subject": true, "X_Gatehouse_Subject": true, "X-GATEHOUSE_tenant": true,
		"X-Gatehouse-": true, "Authorization": true, "authorization": true, "COOKIE": true, "Proxy-Authorization": true,
		"DPoP": true, "Authori_zation": true, "X-Custom_Thing": true,
		"X-Gatehouse": false, "X-Gatehous-Subject": false, "Content-Type": false, "Accept": false, "Mcp-Session-Id": false,
		"Authorizations": false, "Cookie2": false, "": false,
	} {
		if got := tenants.DropClientHeader(name); got != drop {
			t.Errorf("DropClientHeader(%q) = %v, want %v", name, got, drop)
		}
	}
	if !tenants.IsIdentityHeader("x_gatehouse_assertion") || tenants.IsIdentityHeader("X-Gate") {
		t.Error("IsIdentityHeader")
	}
}
