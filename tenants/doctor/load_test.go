package doctor_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/doctor"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// Diagnosis reads events, clients and grants from the real store (both
// backends), pages through more events than one page holds, and keeps to
// the tenant asked for.
func TestDiagnosisFromStore(t *testing.T) {
	testdb.EachStore(t, func(t *testing.T, s *gormstore.Store) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		for _, id := range []string{"ta", "tb"} {
			if err := s.CreateTenant(ctx, &tenants.Tenant{ID: id, Slug: "slug-" + id, Name: id, UpstreamMCPURL: "https://up.example/mcp"}); err != nil {
				t.Fatal(err)
			}
			if err := s.CreateClient(ctx, &tenants.Client{TenantID: id, ID: "c1", Kind: tenants.ClientDCR, Name: "Claude", CreatedAt: now.Add(-time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		tok := now.Add(-30 * time.Minute)
		evs := []tenants.AuditEvent{
			{TenantID: "ta", Time: tok.Add(-time.Minute), Action: tenants.ActClientRegistered, ClientID: "c1", UserAgent: "Claude-User"},
			{TenantID: "ta", Time: tok.Add(-50 * time.Second), Action: tenants.ActAuthorizeStarted, ClientID: "c1"},
			{TenantID: "ta", Time: tok.Add(-40 * time.Second), Action: tenants.ActLoginSucceeded, ClientID: "c1"},
			{TenantID: "ta", Time: tok.Add(-30 * time.Second), Action: tenants.ActCodeIssued, ClientID: "c1"},
			{TenantID: "ta", Time: tok, Action: tenants.ActTokenIssued, ClientID: "c1", UserAgent: "Claude-User"},
		}
		// More refusals than one store page (200) holds.
		for i := 0; i < 250; i++ {
			evs = append(evs, tenants.AuditEvent{TenantID: "ta", Time: tok.Add(time.Duration(i+1) * time.Second), Action: tenants.ActMCPDenied,
				Reason: tenants.ReasonNoHeader, UserAgent: "Claude-User"})
		}
		// The other tenant's client is healthy.
		evs = append(evs, tenants.AuditEvent{TenantID: "tb", Time: tok, Action: tenants.ActTokenIssued, ClientID: "c1"},
			tenants.AuditEvent{TenantID: "tb", Time: tok.Add(time.Second), Action: tenants.ActMCPToolCalled, ClientID: "c1"})
		for i := range evs {
			evs[i].Complete(ctx)
			evs[i].ID = fmt.Sprintf("%s-%04d", evs[i].TenantID, i)
		}
		if err := s.InsertAuditEvents(ctx, evs); err != nil {
			t.Fatal(err)
		}

		ta, _ := s.GetTenant(ctx, "ta")
		rep, err := doctor.Diagnosis(ctx, s, ta, &doctor.LoadOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if rep.EventsRead != 255 || rep.Truncated {
			t.Errorf("events read %d truncated %v", rep.EventsRead, rep.Truncated)
		}
		if len(rep.Clients) != 1 {
			t.Fatalf("clients %+v", rep.Clients)
		}
		p := rep.Clients[0].Problem
		if p == nil || p.Code != doctor.ProblemNoAuthHeader || p.Count != 250 {
			t.Fatalf("problem %+v", p)
		}

		// A cap on events reads the newest and says so.
		rep, err = doctor.Diagnosis(ctx, s, ta, &doctor.LoadOptions{Now: now, MaxEvents: 100})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Truncated || rep.EventsRead != 200 {
			t.Errorf("capped read: events %d truncated %v", rep.EventsRead, rep.Truncated)
		}

		tb, _ := s.GetTenant(ctx, "tb")
		rep, err = doctor.Diagnosis(ctx, s, tb, &doctor.LoadOptions{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Status != doctor.StatusOK || rep.EventsRead != 2 {
			t.Errorf("tenant b: %s, %d events", rep.Status, rep.EventsRead)
		}
	})
}
