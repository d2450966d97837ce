package provision_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/doctor"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// GET /api/v1/tenants/{slug}/doctor returns the doctor's report for the
// tenant (docs/RULES.md §8, §9), scoped like every tenant resource.
func TestDoctorEndpoint(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.mkTenant("acme", nil)
		e.mkTenant("other", nil)
		ten := e.tenant("acme")
		ctx := context.Background()
		now := time.Now().UTC()
		if err := e.store.CreateClient(ctx, &tenants.Client{TenantID: ten.ID, ID: "c1", Kind: tenants.ClientDCR, Name: "Claude", CreatedAt: now.Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
		evs := []tenants.AuditEvent{
			{TenantID: ten.ID, Time: now.Add(-10 * time.Minute), Action: tenants.ActAuthorizeStarted, ClientID: "c1"},
			{TenantID: ten.ID, Time: now.Add(-9 * time.Minute), Action: tenants.ActCodeIssued, ClientID: "c1"},
			{TenantID: ten.ID, Time: now.Add(-8 * time.Minute), Action: tenants.ActTokenIssued, ClientID: "c1", UserAgent: "Claude-User"},
			{TenantID: ten.ID, Time: now.Add(-7 * time.Minute), Action: tenants.ActMCPDenied, Reason: tenants.ReasonNoHeader, UserAgent: "Claude-User"},
			{TenantID: ten.ID, Time: now.Add(-6 * time.Minute), Action: tenants.ActMCPDenied, Reason: tenants.ReasonNoHeader, UserAgent: "Claude-User"},
		}
		for i := range evs {
			evs[i].Complete(ctx)
		}
		if err := e.store.InsertAuditEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}

		rep, body := e.doctor(t, "acme", "?self_check=false")
		if rep.Tenant != "acme" || len(rep.Clients) != 1 || rep.Clients[0].Problem == nil ||
			rep.Clients[0].Problem.Code != doctor.ProblemNoAuthHeader || rep.Clients[0].Problem.Count != 2 {
			t.Fatalf("report: %s", body)
		}
		if len(rep.SelfCheck) != 0 {
			t.Errorf("self_check=false still ran it: %+v", rep.SelfCheck)
		}

		// A tenant API key sees its own tenant's doctor, and 404 for another's.
		key, _ := e.mkKey("other")
		if r := e.do(req{method: "GET", path: "/api/v1/tenants/other/doctor?self_check=false", token: key}); r.status != http.StatusOK {
			t.Errorf("own doctor with API key: %d %s", r.status, r.body)
		}
		e.do(req{method: "GET", path: "/api/v1/tenants/acme/doctor", token: key}).problem(t, http.StatusNotFound)
		if r := e.do(req{method: "GET", path: "/api/v1/tenants/acme/doctor"}); r.status != http.StatusUnauthorized {
			t.Errorf("no credentials: %d", r.status)
		}

		p := e.admin("GET", "/api/v1/tenants/acme/doctor?window=forever&self_check=maybe", nil).problem(t, http.StatusBadRequest)
		fieldErr(t, p, "window", "duration")
		fieldErr(t, p, "self_check", "true or false")

		// A window that ends before the client's events leaves them out.
		if rep, body := e.doctor(t, "acme", "?self_check=false&window=1m"); len(rep.Clients) != 1 || rep.Clients[0].Problem != nil || len(rep.Clients[0].Timeline) != 0 {
			t.Errorf("window=1m: %s", body)
		}
	})
}

// The self-check runs by default, once per URL mode: path mode always.
// This server serves only the API, so its discovery checks fail — and say so.
func TestDoctorEndpointRunsSelfCheck(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), nil)
	e.mkTenant("acme", nil)
	rep, _ := e.doctor(t, "acme", "")
	if len(rep.SelfCheck) != 1 || rep.SelfCheck[0].Mode != tenants.ModePath || rep.SelfCheck[0].Resource != publicURL+"/t/acme/mcp" {
		t.Fatalf("self check: %+v", rep.SelfCheck)
	}
	if len(rep.SelfCheck[0].Checks) == 0 || rep.SelfCheck[0].Failed == 0 {
		t.Errorf("self check against a server without the discovery endpoints passed: %+v", rep.SelfCheck[0])
	}
}

// doctor reads the tenant's doctor report (query: "" or "?…") as the admin;
// it returns the body too, for messages.
func (e *env) doctor(t *testing.T, slug, query string) (doctor.Report, []byte) {
	t.Helper()
	r := e.admin("GET", "/api/v1/tenants/"+slug+"/doctor"+query, nil)
	if r.status != http.StatusOK {
		t.Fatalf("doctor%s: %d %s", query, r.status, r.body)
	}
	var rep doctor.Report
	if err := json.Unmarshal(r.body, &rep); err != nil {
		t.Fatal(err)
	}
	return rep, r.body
}
