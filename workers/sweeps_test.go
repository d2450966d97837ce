package workers

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// The periodic sweeps, run by the worker through the queue, remove exactly
// what is expired under each tenant's settings and nothing live (docs/RULES.md §7),
// on both Redis flavours and both databases. (The store methods are checked
// case by case in tenants/conformance/sweep.go.)
func TestSweepsThroughQueue(t *testing.T) {
	for _, rb := range redisBackends() {
		for _, sb := range testdb.Backends() {
			t.Run(rb.name+"/"+sb.Name, func(t *testing.T) {
				t.Parallel()
				testSweeps(t, testdb.Open(t, sb.DSN(t)), rb)
			})
		}
	}
}

func testSweeps(t *testing.T, s tenants.Store, rb redisBackend) {
	now := time.Now().UTC()
	short, long := newTenant(t, s, "short"), newTenant(t, s, "long")
	// short: 1-day client TTL, 1-day audit retention, no refresh grace.
	one, zero := 1, 0
	short.Settings.ClientIdleTTLDays, short.Settings.AuditRetentionDays, short.Settings.RefreshGraceSeconds = &one, &one, &zero
	must(t, s.UpdateTenant(ctx, short))
	twoDaysAgo := now.Add(-48 * time.Hour)
	later := now.Add(time.Hour)

	for _, tn := range []*tenants.Tenant{short, long} {
		must(t, s.CreateClient(ctx, &tenants.Client{TenantID: tn.ID, ID: "idle", Kind: tenants.ClientDCR, CreatedAt: twoDaysAgo}))
		must(t, s.CreateClient(ctx, &tenants.Client{TenantID: tn.ID, ID: "idle-live-grant", Kind: tenants.ClientDCR, CreatedAt: twoDaysAgo}))
		must(t, s.CreateGrant(ctx, &tenants.Grant{TenantID: tn.ID, ID: "g", ClientID: "idle-live-grant", CreatedAt: twoDaysAgo, ExpiresAt: later}))
		must(t, s.CreateAuthCode(ctx, &tenants.AuthCode{TenantID: tn.ID, Hash: "code-old", GrantID: "g", CreatedAt: twoDaysAgo, ExpiresAt: now.Add(-time.Hour)}))
		must(t, s.CreateAuthCode(ctx, &tenants.AuthCode{TenantID: tn.ID, Hash: "code-live", GrantID: "g", CreatedAt: now, ExpiresAt: later}))
		must(t, s.CreatePending(ctx, &tenants.PendingAuthorization{TenantID: tn.ID, ID: "p-old", CreatedAt: twoDaysAgo, ExpiresAt: now.Add(-time.Minute)}))
		rotated := now.Add(-30 * time.Second)
		must(t, s.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: tn.ID, Hash: "rt-rotated", GrantID: "g", CreatedAt: now, ExpiresAt: later, IdleExpiresAt: later, RotatedAt: &rotated}))
		must(t, s.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: tn.ID, Hash: "rt-live", GrantID: "g", CreatedAt: now, ExpiresAt: later, IdleExpiresAt: later}))
		must(t, s.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: tn.ID, Hash: "rt-expired", GrantID: "g", CreatedAt: twoDaysAgo, ExpiresAt: now.Add(-time.Second), IdleExpiresAt: later}))
		old := tenants.AuditEvent{TenantID: tn.ID, Action: tenants.ActTokenIssued, Time: twoDaysAgo}
		old.Complete(ctx)
		recent := tenants.AuditEvent{TenantID: tn.ID, Action: tenants.ActTokenIssued}
		recent.Complete(ctx)
		must(t, s.InsertAuditEvents(ctx, []tenants.AuditEvent{old, recent}))
	}

	acct := &tenants.Account{ID: "acct", Email: "a@example.com", CreatedAt: now, UpdatedAt: now}
	must(t, s.CreateAccount(ctx, acct))
	must(t, s.CreateAccountSession(ctx, &tenants.AccountSession{ID: "cs-old", TokenHash: "h-old", AccountID: acct.ID, CreatedAt: twoDaysAgo, LastSeenAt: twoDaysAgo, ExpiresAt: now.Add(-time.Minute)}))
	must(t, s.CreateAccountSession(ctx, &tenants.AccountSession{ID: "cs-live", TokenHash: "h-live", AccountID: acct.ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: later}))
	must(t, s.UseJTI(ctx, short.ID, "jti-old", now.Add(-time.Minute), now.Add(-2*time.Minute)))
	must(t, s.UseJTI(ctx, short.ID, "jti-live", later, now))

	e := newEnv(t, s, rb.open(t), func(o *Options) {
		o.Schedule = fastSchedule(time.Second)
		o.RefreshReuseWindow = -1 // rotated tokens go right after the grace
		o.CodeReuseWindow = time.Minute
	})
	seen := newRuns()
	e.rt.observe = seen.observe
	e.start()
	testdb.Eventually(t, "every sweep to complete twice", 60*time.Second, func() bool {
		for _, typ := range []string{TypeSweepCodes, TypeSweepTokens, TypeSweepClients, TypeSweepAudit, TypeSweepGrants} {
			if seen.slots(typ) < 2 {
				return false
			}
		}
		return true
	})
	e.stop() // also flushes the client.expired audit events

	gone := func(err error) bool { return errors.Is(err, tenants.ErrNotFound) }
	if left, _ := s.ListAccountSessions(ctx, acct.ID, twoDaysAgo.Add(-time.Hour)); len(left) != 1 || left[0].ID != "cs-live" {
		t.Errorf("account sessions after the sweep: %+v (want only the live one)", left)
	}
	if n, err := s.DeleteExpiredJTIs(ctx, now, 100); n != 0 || err != nil {
		t.Errorf("expired used jti kept by the sweep (%d left, %v)", n, err)
	}
	if err := s.UseJTI(ctx, short.ID, "jti-live", later, now); !errors.Is(err, tenants.ErrReplayed) {
		t.Errorf("live used jti removed by the sweep (%v)", err)
	}
	for _, tn := range []*tenants.Tenant{short, long} {
		if _, err := s.GetClient(ctx, tn.ID, "idle-live-grant"); err != nil {
			t.Errorf("%s: idle client with a live grant must be kept: %v", tn.Slug, err)
		}
		if _, err := s.GetGrant(ctx, tn.ID, "g"); err != nil {
			t.Errorf("%s: live grant removed: %v", tn.Slug, err)
		}
		if _, err := s.ConsumeAuthCode(ctx, tn.ID, "code-old", now); !gone(err) {
			t.Errorf("%s: expired code kept (%v)", tn.Slug, err)
		}
		if _, err := s.ConsumeAuthCode(ctx, tn.ID, "code-live", now); err != nil {
			t.Errorf("%s: live code removed: %v", tn.Slug, err)
		}
		if _, err := s.GetRefreshToken(ctx, tn.ID, "rt-live"); err != nil {
			t.Errorf("%s: live refresh token removed: %v", tn.Slug, err)
		}
		if _, err := s.GetRefreshToken(ctx, tn.ID, "rt-expired"); !gone(err) {
			t.Errorf("%s: expired refresh token kept (%v)", tn.Slug, err)
		}
		if err := s.CreatePending(ctx, &tenants.PendingAuthorization{TenantID: tn.ID, ID: "p-old", CreatedAt: now, ExpiresAt: later}); err != nil {
			t.Errorf("%s: expired pending authorization kept (re-insert: %v)", tn.Slug, err)
		}
	}
	// Per-tenant settings: short's idle client, rotated token (grace 0) and
	// old audit event go; long (defaults: 90 days, 60 s grace) keeps them.
	if _, err := s.GetClient(ctx, short.ID, "idle"); !gone(err) {
		t.Errorf("short: client idle past its 1-day TTL kept (%v)", err)
	}
	if _, err := s.GetClient(ctx, long.ID, "idle"); err != nil {
		t.Errorf("long: client within its 90-day TTL removed: %v", err)
	}
	if _, err := s.GetRefreshToken(ctx, short.ID, "rt-rotated"); !gone(err) {
		t.Errorf("short: token rotated past a 0 s grace kept (%v)", err)
	}
	if _, err := s.GetRefreshToken(ctx, long.ID, "rt-rotated"); err != nil {
		t.Errorf("long: token rotated within the 60 s grace removed: %v", err)
	}
	evs, _, err := s.ListAuditEvents(ctx, short.ID, tenants.AuditFilter{Action: tenants.ActTokenIssued})
	must(t, err)
	if len(evs) != 1 {
		t.Errorf("short: want only the recent token.issued event after a 1-day retention prune, got %d", len(evs))
	}
	if evs, _, _ = s.ListAuditEvents(ctx, long.ID, tenants.AuditFilter{Action: tenants.ActTokenIssued}); len(evs) != 2 {
		t.Errorf("long: 90-day retention must keep both events, got %d", len(evs))
	}
	// docs/RULES.md §8: the expiry is audited as client.expired, once.
	exp, _, err := s.ListAuditEvents(ctx, short.ID, tenants.AuditFilter{Action: tenants.ActClientExpired})
	must(t, err)
	if len(exp) != 1 || exp[0].ClientID != "idle" || exp[0].Actor != "system" {
		t.Errorf("want one client.expired event for 'idle', got %+v", exp)
	}
	if exp, _, _ = s.ListAuditEvents(ctx, long.ID, tenants.AuditFilter{Action: tenants.ActClientExpired}); len(exp) != 0 {
		t.Errorf("long: no client expired, got %d client.expired events", len(exp))
	}
}
