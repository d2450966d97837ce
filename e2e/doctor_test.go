package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants/doctor"
)

func report(m map[string]any) doctor.Report {
	b, _ := json.Marshal(m)
	var r doctor.Report
	_ = json.Unmarshal(b, &r)
	return r
}

func problemOf(m map[string]any, clientID string) *doctor.Problem {
	for _, c := range report(m).Clients {
		if c.ClientID == clientID {
			return c.Problem
		}
	}
	return nil
}

// oauthDone runs a complete DCR + authorization + token flow as the given
// client and returns the flow and its access and refresh tokens.
func oauthDone(t *testing.T, tn tenant, mode, ua, name string) (f *flow, access, refresh string) {
	t.Helper()
	f = newFlow(t, tn.urls(mode), ua)
	f.discover(f.probe(http.MethodPost))
	f.registerPublic(name, []string{"https://claude.ai/api/mcp/auth_callback"}, nil)
	access, refresh = f.connect(nil)
	return f, access, refresh
}

// The failure reported in modelcontextprotocol/modelcontextprotocol#2157,
// reproduced exactly: OAuth completes, then GET /mcp and POST /mcp arrive
// without Authorization. The doctor must name it (docs/RULES.md §8).
func TestDoctorNamesTokenNotSent(t *testing.T) {
	inEachMode(t, func(t *testing.T, s *server, mode string) {
		tn := newTenant(t, s, "nohdr", nil)
		f, _, _ := oauthDone(t, tn, mode, "Claude-User", "Claude")
		// The token was issued; the client sends neither request with it.
		f.probe(http.MethodGet)
		f.probe(http.MethodPost)
		// Audit events land in batches: wait for all four (the probe,
		// the token, the two refusals).
		m := pollDoctor(t, s, tn.slug, 15*time.Second, func(m map[string]any) bool {
			p := problemOf(m, f.clientID)
			return p != nil && p.Code == doctor.ProblemNoAuthHeader && p.Count == 2 && len(report(m).Unattributed) > 0
		})
		p := problemOf(m, f.clientID)
		want := "to client 'Claude'; 2 requests from the same client since then carried no Authorization header (User-Agent: Claude-User)"
		if !strings.Contains(p.Detail, want) || !strings.HasPrefix(p.Detail, "token issued ") {
			t.Errorf("detail %q\nwant it to contain %q", p.Detail, want)
		}
		r := report(m)
		if r.Status != doctor.StatusFailing || !strings.Contains(r.Summary, "no Authorization header") {
			t.Errorf("report status %s: %s", r.Status, r.Summary)
		}
		// The client's own discovery probe before OAuth is not counted.
		if len(r.Unattributed) != 1 || r.Unattributed[0].Count != 1 {
			t.Errorf("unattributed %+v", r.Unattributed)
		}
		t.Logf("doctor: %s — %s", p.Title, p.Detail)
	})
}

// A token used at the other URL mode's connector URL is refused (docs/RULES.md §5:
// each mode is its own issuer/resource pair) and the doctor says why.
func TestDoctorNamesWrongAudience(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	tn := newTenant(t, s, "wrongaud", nil)
	f, access, _ := oauthDone(t, tn, "path", "Claude-User", "Claude")
	f.useToken(access, "ok in path mode")
	st, hdr, _ := rawMCP(tn.host.Resource, access)
	if st != http.StatusUnauthorized || !strings.Contains(hdr.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("path-mode token at the host-mode URL: %d %q", st, hdr.Get("WWW-Authenticate"))
	}
	m := pollDoctor(t, s, tn.slug, 15*time.Second, func(m map[string]any) bool {
		p := problemOf(m, f.clientID)
		return p != nil && p.Code == doctor.ProblemWrongAudience
	})
	t.Logf("doctor: %s", problemOf(m, f.clientID).Detail)
}

// The tenant's upstream MCP server is down: the gateway answers 502 and the
// doctor names the upstream.
func TestDoctorNamesUpstreamDown(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	port, _ := freePort() // nothing listens there
	upstream := fmt.Sprintf("http://127.0.0.1:%d/mcp", port)
	tn := newTenant(t, s, "updown", map[string]any{"upstream_mcp_url": upstream})
	f, access, _ := oauthDone(t, tn, "host", "Claude-User", "Claude")
	st, _, body := rawMCP(f.site.Resource, access)
	if st != http.StatusBadGateway && st != http.StatusGatewayTimeout {
		t.Fatalf("upstream down: %d %s", st, body)
	}
	m := pollDoctor(t, s, tn.slug, 15*time.Second, func(m map[string]any) bool {
		p := problemOf(m, f.clientID)
		return p != nil && p.Code == doctor.ProblemUpstreamFailed
	})
	if p := problemOf(m, f.clientID); !strings.Contains(p.Detail, upstream) {
		t.Errorf("detail does not name the upstream: %q", p.Detail)
	}
}

// The self-check, run by the binary itself through its public URLs (the
// TLS front), passes every check in both URL modes.
func TestDoctorSelfCheck(t *testing.T) {
	t.Parallel()
	s := sharedServer(t)
	tn := newTenant(t, s, "selfcheck", nil)
	st, m := s.api(t, http.MethodGet, "/api/v1/tenants/"+tn.slug+"/doctor", nil)
	if st != http.StatusOK {
		t.Fatalf("doctor: %d %v", st, m)
	}
	r := report(m)
	if len(r.SelfCheck) != 2 {
		t.Fatalf("self-check ran for %d modes, want 2", len(r.SelfCheck))
	}
	for _, sc := range r.SelfCheck {
		for _, c := range sc.Checks {
			if !c.OK {
				t.Errorf("%s mode: %s %s: %s", sc.Mode, c.ID, c.URL, c.Detail)
			}
		}
		if sc.Failed != 0 || sc.Passed < 15 {
			t.Errorf("%s mode: %d passed, %d failed", sc.Mode, sc.Passed, sc.Failed)
		}
		t.Logf("self-check %s mode: %d passed, %d failed", sc.Mode, sc.Passed, sc.Failed)
	}
	// Its own probes are not mistaken for a client failing.
	if len(r.Clients) != 0 || len(r.Unattributed) != 0 {
		t.Errorf("self-check traffic shows up as clients: %+v %+v", r.Clients, r.Unattributed)
	}
}
