package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/api/demo"
	"github.com/gatehouse/gatehouse/api/gateway"
	"github.com/gatehouse/gatehouse/tenants/egress/egresstest"
)

// Hole 2 (docs/SECURITY.md "Outbound address policy"): the gateway dials
// upstream MCP servers through the same policy as every fetch. With
// GATEHOUSE_REFUSE_PRIVATE_UPSTREAMS on it refuses CGNAT, 198.18/15, 0/8,
// NAT64, loopback and metadata addresses; off, it still refuses link-local
// and metadata (and 0/8): each answer is 502 forbidden_address and no
// connection is attempted. Off, a loopback upstream still works (the
// embedded demo upstream).
func TestSecurity_02_GatewayDialerRefusesSpecialRanges(t *testing.T) {
	metadata := []string{"169.254.169.254", "[fd00:ec2::254]", "100.100.100.200", "[fe80::1]", "0.0.0.1", "[::ffff:169.254.169.254]", "[64:ff9b::a9fe:a9fe]"}
	for _, refuse := range []bool{true, false} {
		trap := egresstest.NewTrap(t)
		rec := &egresstest.Dials{}
		e := newEnv(t, &envOpts{gw: &gateway.Options{RefusePrivateUpstreams: refuse, Connect: rec.Connect}})
		addrs := metadata
		if refuse {
			addrs = append([]string{"100.64.0.1", "198.18.0.1", "[64:ff9b::7f00:1]", "10.0.0.1", "[fd12::1]",
				strings.TrimPrefix(trap.URL, "http://")}, metadata...)
		}
		for i, a := range addrs {
			tn := e.tenant("up"+string(rune('a'+i))+map[bool]string{true: "r", false: "o"}[refuse], "http://"+a+"/mcp", nil)
			tok, _ := e.token(tn, nil)
			resp := e.do(http.MethodPost, e.mcpURL(tn), `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tok})
			raw := readAll(t, resp.Body)
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(raw, "forbidden_address") {
				t.Errorf("refuse=%v upstream %s: %d %s", refuse, a, resp.StatusCode, raw)
			}
		}
		if got := rec.Attempts(); len(got) != 0 {
			t.Errorf("refuse=%v: connection attempts %v", refuse, got)
		}
		trap.Untouched(t)
		if !refuse {
			up := egresstest.NewTrap(t)
			up.Config.Handler = demo.Handler()
			tn := e.tenant("loopback-ok", up.URL+"/mcp", nil)
			tok, _ := e.token(tn, nil)
			resp := e.do(http.MethodPost, e.mcpURL(tn), `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`,
				map[string]string{"Authorization": "Bearer " + tok, "Accept": "application/json, text/event-stream", "Content-Type": "application/json"})
			raw := readAll(t, resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("loopback upstream with REFUSE_PRIVATE_UPSTREAMS=false: %d %s", resp.StatusCode, raw)
			}
			up.Touched(t)
		}
	}
}
