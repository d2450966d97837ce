package gateway_test

import (
	"context"
	"net/http"
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
	upURL := serveMCP(t, okUpstream())
	ctx := context.Background()
	// Each case has its own tenant, so its own client and events.
	newTenant := func(slug string) (*tenants.Tenant, string) {
		tn := e.tenant(slug, upURL, &tenants.Settings{
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

	// A refusal: the doctor names its problem and, in the detail, its cause.
	otherAudience := e.base + "/t/aud/other-mcp"
	for _, c := range []struct {
		name, slug, body string
		tok              func(tn *tenants.Tenant) *tokOpts
		status           int
		problem          string
		detail           []string
	}{
		{"scope denial names the tool and the scope", "scope",
			`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"delete_repo","arguments":{}}}`,
			func(*tenants.Tenant) *tokOpts { return &tokOpts{scope: "mcp"} },
			http.StatusForbidden, doctor.ProblemScope, []string{"tool 'delete_repo'", "'admin'"}},
		{"wrong audience names the token's audience", "aud", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			func(tn *tenants.Tenant) *tokOpts {
				site := e.pathSite(tn)
				site.Resource = otherAudience
				return &tokOpts{site: &site}
			},
			http.StatusUnauthorized, doctor.ProblemWrongAudience, []string{otherAudience}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tn, url := newTenant(c.slug)
			since := time.Now().Add(-time.Second).UTC()
			tok, g := e.token(tn, c.tok(tn))
			res := e.do(http.MethodPost, url, c.body, map[string]string{"Authorization": "Bearer " + tok})
			res.Body.Close()
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d", res.StatusCode, c.status)
			}
			rep := diagnose(t, tn, g, since)
			if rep.Problem == nil || rep.Problem.Code != c.problem {
				t.Fatalf("problem %+v, want %s", rep.Problem, c.problem)
			}
			for _, want := range c.detail {
				if !strings.Contains(rep.Problem.Detail, want) {
					t.Errorf("detail %q does not name %q", rep.Problem.Detail, want)
				}
			}
		})
	}

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
