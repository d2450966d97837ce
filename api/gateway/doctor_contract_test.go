package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/doctor"
)

// The audit contract between the gateway (writer) and the connection doctor
// (reader): real requests go through the gateway, the events it records are
// stored and read back as the doctor reads them, and the doctor's words must
// name what happened. A fixture written with the reader's keys cannot catch
// a writer that uses other keys; this test can.
func TestAuditContract_GatewayEventsReadByDoctor(t *testing.T) {
	e := newEnv(t, nil)
	up := okUpstream()
	us := httptest.NewServer(up)
	defer us.Close()
	ctx := context.Background()
	// Each case has its own tenant, so its own client and events.
	newTenant := func(slug string) (*tenants.Tenant, string) {
		tn := e.tenant(slug, us.URL+"/mcp", &tenants.Settings{
			Scopes: []string{"mcp", "admin"}, ToolScopes: map[string]string{"delete_repo": "admin"}, AuditMCPCalls: tenants.AuditMCPAll,
		})
		return tn, e.mcpURL(tn)
	}

	// diagnose stores what the gateway recorded (plus the AS's token.issued
	// that anchors the client), reads it back and runs the doctor.
	diagnose := func(t *testing.T, tn *tenants.Tenant, g *tenants.Grant, since time.Time) doctor.ClientReport {
		t.Helper()
		evs := []tenants.AuditEvent{{ID: tenants.OrderedID(since), TenantID: tn.ID, Time: since, Action: tenants.ActTokenIssued,
			ClientID: g.ClientID, Subject: g.Subject, Outcome: tenants.OutcomeSuccess, Details: tenants.JSONMap{tenants.DetailGrantID: g.ID}}}
		for _, ev := range e.audit.All() {
			if ev.TenantID == tn.ID && !ev.Time.Before(since) {
				evs = append(evs, ev)
			}
		}
		if err := e.store.InsertAuditEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}
		stored, _, err := e.store.ListAuditEvents(ctx, tn.ID, tenants.AuditFilter{ClientID: g.ClientID, After: since.Add(-time.Millisecond), Page: tenants.Page{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		if len(stored) < 2 {
			t.Fatalf("stored %d events, want the token and the gateway's", len(stored))
		}
		rep := doctor.Diagnose(doctor.Input{Tenant: tn, Now: time.Now().Add(time.Second), Events: stored})
		for _, c := range rep.Clients {
			if c.ClientID == g.ClientID {
				return c
			}
		}
		t.Fatalf("doctor has no report for client %s: %+v", g.ClientID, rep)
		return doctor.ClientReport{}
	}

	t.Run("scope denial names the tool and the scope", func(t *testing.T) {
		tn, url := newTenant("scope")
		since := time.Now().Add(-time.Second).UTC()
		tok, g := e.token(tn, &tokOpts{scope: "mcp"})
		res := e.do(http.MethodPost, url, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"delete_repo","arguments":{}}}`,
			map[string]string{"Authorization": "Bearer " + tok})
		res.Body.Close()
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", res.StatusCode)
		}
		c := diagnose(t, tn, g, since)
		if c.Problem == nil || c.Problem.Code != doctor.ProblemScope {
			t.Fatalf("problem %+v, want %s", c.Problem, doctor.ProblemScope)
		}
		for _, want := range []string{"tool 'delete_repo'", "'admin'"} {
			if !strings.Contains(c.Problem.Detail, want) {
				t.Errorf("detail %q does not contain %q", c.Problem.Detail, want)
			}
		}
	})

	t.Run("wrong audience names the token's audience", func(t *testing.T) {
		tn, url := newTenant("aud")
		since := time.Now().Add(-time.Second).UTC()
		other := e.pathSite(tn)
		other.Resource = e.base + "/t/aud/other-mcp"
		tok, g := e.token(tn, &tokOpts{site: &other})
		res := e.do(http.MethodPost, url, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + tok})
		res.Body.Close()
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", res.StatusCode)
		}
		c := diagnose(t, tn, g, since)
		if c.Problem == nil || c.Problem.Code != doctor.ProblemWrongAudience {
			t.Fatalf("problem %+v, want %s", c.Problem, doctor.ProblemWrongAudience)
		}
		if !strings.Contains(c.Problem.Detail, other.Resource) {
			t.Errorf("detail %q does not name the token's audience %s", c.Problem.Detail, other.Resource)
		}
	})

	t.Run("timeline names the forwarded method and the tool", func(t *testing.T) {
		tn, url := newTenant("timeline")
		since := time.Now().Add(-time.Second).UTC()
		tok, g := e.token(tn, &tokOpts{scope: "mcp"})
		for _, body := range []string{`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{}}}`} {
			res := e.do(http.MethodPost, url, body, map[string]string{"Authorization": "Bearer " + tok})
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d", res.StatusCode)
			}
		}
		c := diagnose(t, tn, g, since)
		labels := []string{}
		for _, en := range c.Timeline {
			labels = append(labels, en.Label)
		}
		all := strings.Join(labels, " | ")
		for _, want := range []string{"MCP request forwarded: tools/list", "Tool called: echo"} {
			if !strings.Contains(all, want) {
				t.Errorf("timeline %q lacks %q", all, want)
			}
		}
	})
}
