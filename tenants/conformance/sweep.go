package conformance

import (
	"errors"
	"reflect"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Sweep conformance (docs/RULES.md §7): each sweep removes exactly what is expired
// and nothing live, in bounded batches, and a tenant-scoped sweep never
// touches another tenant.

func init() {
	Register("SweepAuthCodes", testSweepAuthCodes)
	Register("SweepPending", testSweepPending)
	Register("SweepRefreshTokens", testSweepRefreshTokens)
	Register("SweepRotatedRefreshTokensPastGrace", testSweepRotated)
	Register("SweepEndedGrants", testSweepEndedGrants)
	Register("GrantsRevokedSinceFeed", testGrantsRevokedSince)
	Register("ExpireIdleClientsKeepsClientWithLiveGrant", testExpireIdleClients)
	Register("UpstreamRefreshDue", testUpstreamRefreshDue)
	Register("AuditEventsByIDAndWebhookDeliveries", testAuditByIDAndDeliveries)
}

type fixture struct {
	t   *testing.T
	s   tenants.Store
	now time.Time
}

func newFixture(t *testing.T, s tenants.Store) *fixture {
	return &fixture{t: t, s: s, now: time.Now().UTC().Truncate(time.Second)}
}

func (f *fixture) client(tid, id, kind string, created time.Time, lastUsed *time.Time) {
	f.t.Helper()
	must(f.t, f.s.CreateClient(ctx, &tenants.Client{TenantID: tid, ID: id, Kind: kind, RedirectURIs: tenants.Strings{"http://127.0.0.1/cb"},
		CreatedAt: created, LastUsedAt: lastUsed}))
}

func (f *fixture) grant(tid, id, clientID string, expires time.Time, revoked *time.Time) {
	f.t.Helper()
	must(f.t, f.s.CreateGrant(ctx, &tenants.Grant{TenantID: tid, ID: id, ClientID: clientID, Subject: "u-" + id,
		CreatedAt: f.now.Add(-time.Hour), ExpiresAt: expires, RevokedAt: revoked}))
}

func (f *fixture) refresh(tid, hash, grantID string, expires, idle time.Time, rotated *time.Time) {
	f.t.Helper()
	must(f.t, f.s.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: tid, Hash: hash, GrantID: grantID, ClientID: "c",
		CreatedAt: f.now.Add(-time.Hour), ExpiresAt: expires, IdleExpiresAt: idle, RotatedAt: rotated}))
}

func (f *fixture) code(tid, hash, grantID string, expires time.Time) {
	f.t.Helper()
	must(f.t, f.s.CreateAuthCode(ctx, &tenants.AuthCode{TenantID: tid, Hash: hash, GrantID: grantID, ClientID: "c",
		CreatedAt: expires.Add(-time.Minute), ExpiresAt: expires}))
}

func (f *fixture) pending(tid, id, clientID string, expires time.Time) {
	f.t.Helper()
	must(f.t, f.s.CreatePending(ctx, &tenants.PendingAuthorization{TenantID: tid, ID: id, ClientID: clientID,
		CreatedAt: expires.Add(-10 * time.Minute), ExpiresAt: expires}))
}

func (f *fixture) hasRefresh(tid, hash string) bool {
	_, err := f.s.GetRefreshToken(ctx, tid, hash)
	return err == nil
}

func (f *fixture) hasGrant(tid, id string) bool {
	_, err := f.s.GetGrant(ctx, tid, id)
	return err == nil
}

func (f *fixture) hasClient(tid, id string) bool {
	_, err := f.s.GetClient(ctx, tid, id)
	return err == nil
}

// hasCode probes a code without consuming a live one twice: a consumed code
// still exists (ErrConflict), a missing one is ErrNotFound.
func (f *fixture) hasCode(tid, hash string) bool {
	_, err := f.s.ConsumeAuthCode(ctx, tid, hash, f.now)
	return err == nil || err != nil && !isNotFound(err)
}

func isNotFound(err error) bool { return errors.Is(err, tenants.ErrNotFound) }

// drain calls fn until it returns fewer than limit, checking each batch is bounded.
func drain(t *testing.T, limit int, fn func() (int64, error)) int64 {
	t.Helper()
	var total int64
	for i := 0; i < 1000; i++ {
		n, err := fn()
		must(t, err)
		if n > int64(limit) {
			t.Fatalf("batch removed %d rows, limit was %d", n, limit)
		}
		total += n
		if n < int64(limit) {
			return total
		}
	}
	t.Fatal("sweep never finished")
	return total
}

func testSweepAuthCodes(t *testing.T, s tenants.Store) {
	f := newFixture(t, s)
	a, b := NewTenant(t, s, "codes-a"), NewTenant(t, s, "codes-b")
	for i := 0; i < 5; i++ {
		f.code(a.ID, "old-a-"+string(rune('0'+i)), "g", f.now.Add(-time.Duration(i+1)*time.Minute))
	}
	f.code(b.ID, "old-b", "g", f.now.Add(-time.Second))
	f.code(a.ID, "live-a", "g", f.now.Add(time.Minute))
	f.code(b.ID, "live-b", "g", f.now.Add(time.Second))
	n, err := s.DeleteExpiredAuthCodes(ctx, f.now, 2)
	must(t, err)
	if n != 2 {
		t.Fatalf("first batch: want 2 (the limit), got %d", n)
	}
	if total := n + drain(t, 2, func() (int64, error) { return s.DeleteExpiredAuthCodes(ctx, f.now, 2) }); total != 6 {
		t.Fatalf("want 6 expired codes removed, got %d", total)
	}
	for _, c := range []struct{ tid, hash string }{{a.ID, "old-a-0"}, {a.ID, "old-a-4"}, {b.ID, "old-b"}} {
		if f.hasCode(c.tid, c.hash) {
			t.Errorf("expired code %s kept", c.hash)
		}
	}
	for _, c := range []struct{ tid, hash string }{{a.ID, "live-a"}, {b.ID, "live-b"}} {
		if !f.hasCode(c.tid, c.hash) {
			t.Errorf("live code %s removed", c.hash)
		}
	}
}

func testSweepPending(t *testing.T, s tenants.Store) {
	f := newFixture(t, s)
	a := NewTenant(t, s, "pending-a")
	f.pending(a.ID, "old1", "c", f.now.Add(-time.Minute))
	f.pending(a.ID, "old2", "c", f.now.Add(-time.Hour))
	f.pending(a.ID, "live", "c", f.now.Add(time.Minute))
	if total := drain(t, 1, func() (int64, error) { return s.DeleteExpiredPending(ctx, f.now, 1) }); total != 2 {
		t.Fatalf("want 2 expired pending authorizations removed, got %d", total)
	}
	if _, err := s.GetPending(ctx, a.ID, "live"); err != nil {
		t.Fatalf("live pending authorization removed: %v", err)
	}
	// GetPending hides expired rows, so look for the rows themselves through a re-insert.
	if err := s.CreatePending(ctx, &tenants.PendingAuthorization{TenantID: a.ID, ID: "old1", CreatedAt: f.now, ExpiresAt: f.now.Add(time.Minute)}); err != nil {
		t.Fatalf("expired pending row still present (re-insert failed: %v)", err)
	}
}

func testSweepRefreshTokens(t *testing.T, s tenants.Store) {
	f := newFixture(t, s)
	a := NewTenant(t, s, "rt-a")
	later, past := f.now.Add(time.Hour), f.now.Add(-time.Second)
	f.grant(a.ID, "live", "c", f.now.Add(24*time.Hour), nil)
	revokedAt := f.now.Add(-time.Minute)
	f.grant(a.ID, "revoked", "c", f.now.Add(24*time.Hour), &revokedAt)
	f.grant(a.ID, "expired", "c", past, nil)
	f.refresh(a.ID, "ok", "live", later, later, nil)
	f.refresh(a.ID, "abs-expired", "live", past, later, nil)
	f.refresh(a.ID, "idle-expired", "live", later, past, nil)
	f.refresh(a.ID, "of-revoked", "revoked", later, later, nil)
	f.refresh(a.ID, "of-expired", "expired", later, later, nil)
	rotated := f.now.Add(-10 * time.Second)
	f.refresh(a.ID, "rotated-recently", "live", later, later, &rotated)
	if total := drain(t, 2, func() (int64, error) { return s.DeleteExpiredRefreshTokens(ctx, f.now, 2) }); total != 4 {
		t.Fatalf("want 4 expired refresh tokens removed, got %d", total)
	}
	for _, h := range []string{"abs-expired", "idle-expired", "of-revoked", "of-expired"} {
		if f.hasRefresh(a.ID, h) {
			t.Errorf("refresh token %s should be gone", h)
		}
	}
	for _, h := range []string{"ok", "rotated-recently"} {
		if !f.hasRefresh(a.ID, h) {
			t.Errorf("live refresh token %s removed", h)
		}
	}
}

// RFC 9700 §4.14.2 rotation: a rotated token stays redeemable within the
// tenant's grace window (docs/RULES.md §5), so only tokens rotated before the
// cutoff go, and only the named tenant's.
func testSweepRotated(t *testing.T, s tenants.Store) {
	f := newFixture(t, s)
	a, b := NewTenant(t, s, "rot-a"), NewTenant(t, s, "rot-b")
	later := f.now.Add(time.Hour)
	grace := 60 * time.Second
	old, recent := f.now.Add(-2*grace), f.now.Add(-grace/2)
	f.grant(a.ID, "g", "c", f.now.Add(24*time.Hour), nil)
	f.grant(b.ID, "g", "c", f.now.Add(24*time.Hour), nil)
	f.refresh(a.ID, "a-old", "g", later, later, &old)
	f.refresh(a.ID, "a-old2", "g", later, later, &old)
	f.refresh(a.ID, "a-recent", "g", later, later, &recent)
	f.refresh(a.ID, "a-current", "g", later, later, nil)
	f.refresh(b.ID, "b-old", "g", later, later, &old)
	if total := drain(t, 1, func() (int64, error) { return s.DeleteRotatedRefreshTokens(ctx, a.ID, f.now.Add(-grace), 1) }); total != 2 {
		t.Fatalf("want 2 rotated tokens past grace removed, got %d", total)
	}
	if f.hasRefresh(a.ID, "a-old") || f.hasRefresh(a.ID, "a-old2") {
		t.Error("token rotated before the grace window kept")
	}
	if !f.hasRefresh(a.ID, "a-recent") {
		t.Error("token rotated within the grace window removed")
	}
	if !f.hasRefresh(a.ID, "a-current") {
		t.Error("current (unrotated) token removed")
	}
	if !f.hasRefresh(b.ID, "b-old") {
		t.Error("sweep of tenant a removed tenant b's token")
	}
}

func testSweepEndedGrants(t *testing.T, s tenants.Store) {
	f := newFixture(t, s)
	a, b := NewTenant(t, s, "eg-a"), NewTenant(t, s, "eg-b")
	cutoff := f.now.Add(-24 * time.Hour)
	longAgo, recently := f.now.Add(-48*time.Hour), f.now.Add(-time.Hour)
	later := f.now.Add(time.Hour)
	f.grant(a.ID, "live", "c", f.now.Add(24*time.Hour), nil)
	f.grant(a.ID, "expired-long-ago", "c", longAgo, nil)
	f.grant(b.ID, "revoked-long-ago", "c", f.now.Add(24*time.Hour), &longAgo)
	f.grant(a.ID, "revoked-recently", "c", f.now.Add(24*time.Hour), &recently)
	f.grant(a.ID, "expired-recently", "c", recently, nil)
	f.refresh(a.ID, "rt-live", "live", later, later, nil)
	f.refresh(a.ID, "rt-dead", "expired-long-ago", later, later, nil)
	f.code(a.ID, "code-live", "live", later)
	f.code(a.ID, "code-dead", "expired-long-ago", later)
	if total := drain(t, 1, func() (int64, error) { return s.DeleteEndedGrants(ctx, cutoff, 1) }); total != 2 {
		t.Fatalf("want 2 ended grants removed, got %d", total)
	}
	if f.hasGrant(a.ID, "expired-long-ago") || f.hasGrant(b.ID, "revoked-long-ago") {
		t.Error("grant ended before the cutoff kept")
	}
	for _, id := range []string{"live", "revoked-recently", "expired-recently"} {
		if !f.hasGrant(a.ID, id) {
			t.Errorf("grant %s removed", id)
		}
	}
	if f.hasRefresh(a.ID, "rt-dead") || f.hasCode(a.ID, "code-dead") {
		t.Error("tokens of a removed grant kept")
	}
	if !f.hasRefresh(a.ID, "rt-live") || !f.hasCode(a.ID, "code-live") {
		t.Error("tokens of a live grant removed")
	}
}

// docs/RULES.md §6: the revocation feed lists every tenant's grants revoked
// at or after the time asked, oldest first, and never a live grant.
func testGrantsRevokedSince(t *testing.T, s tenants.Store) {
	f := newFixture(t, s)
	a, b := NewTenant(t, s, "rf-a"), NewTenant(t, s, "rf-b")
	before, first, second := f.now.Add(-time.Hour), f.now.Add(-2*time.Second), f.now.Add(-time.Second)
	later := f.now.Add(time.Hour)
	f.grant(a.ID, "live", "c", later, nil)
	f.grant(a.ID, "revoked-before", "c", later, &before)
	f.grant(b.ID, "revoked-second", "c", later, &second)
	f.grant(a.ID, "revoked-first", "c", later, &first)
	got, err := s.ListGrantsRevokedSince(ctx, first, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []tenants.GrantRef{{TenantID: a.ID, ID: "revoked-first"}, {TenantID: b.ID, ID: "revoked-second"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("revoked since %v: %+v, want %+v", first, got, want)
	}
	if got, _ := s.ListGrantsRevokedSince(ctx, first, 1); len(got) != 1 || got[0].ID != "revoked-first" {
		t.Fatalf("limit 1: %+v", got)
	}
	// RevokeGrant (the path every revocation takes) shows in the feed.
	if err := s.RevokeGrant(ctx, a.ID, "live", tenants.RevokedByAdmin, f.now); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ListGrantsRevokedSince(ctx, f.now, 10); len(got) != 1 || got[0] != (tenants.GrantRef{TenantID: a.ID, ID: "live"}) {
		t.Fatalf("after RevokeGrant: %+v", got)
	}
	if got, _ := s.ListGrantsRevokedSince(ctx, f.now.Add(time.Second), 10); len(got) != 0 {
		t.Fatalf("nothing revoked after now, got %+v", got)
	}
}

// docs/RULES.md §5: registered clients idle past the tenant's TTL expire, but never
// while they hold a live grant.
func testExpireIdleClients(t *testing.T, s tenants.Store) {
	f := newFixture(t, s)
	a, b := NewTenant(t, s, "idle-a"), NewTenant(t, s, "idle-b")
	ttl := 90 * 24 * time.Hour
	idleBefore := f.now.Add(-ttl)
	old := f.now.Add(-ttl - time.Hour)
	recent := f.now.Add(-time.Hour)
	f.client(a.ID, "idle-dcr", tenants.ClientDCR, old, nil)
	f.client(a.ID, "idle-cimd", tenants.ClientCIMD, old, &old)
	f.client(a.ID, "idle-with-live-grant", tenants.ClientDCR, old, &old)
	f.grant(a.ID, "g-live", "idle-with-live-grant", f.now.Add(time.Hour), nil)
	f.client(a.ID, "idle-with-dead-grants", tenants.ClientDCR, old, nil)
	f.grant(a.ID, "g-expired", "idle-with-dead-grants", f.now.Add(-time.Hour), nil)
	revoked := f.now.Add(-time.Minute)
	f.grant(a.ID, "g-revoked", "idle-with-dead-grants", f.now.Add(time.Hour), &revoked)
	f.client(a.ID, "idle-with-pending", tenants.ClientDCR, old, nil)
	f.pending(a.ID, "p1", "idle-with-pending", f.now.Add(5*time.Minute))
	f.client(a.ID, "recently-used", tenants.ClientDCR, old, &recent)
	f.client(a.ID, "new", tenants.ClientDCR, recent, nil)
	f.client(a.ID, "preregistered", tenants.ClientPreregistered, old, nil)
	f.client(b.ID, "idle-dcr", tenants.ClientDCR, old, nil)
	must(t, s.CreateRefreshToken(ctx, &tenants.RefreshToken{TenantID: a.ID, Hash: "rt-dead", GrantID: "g-revoked", ClientID: "idle-with-dead-grants",
		CreatedAt: f.now, ExpiresAt: f.now.Add(time.Hour), IdleExpiresAt: f.now.Add(time.Hour)}))

	var got []string
	for i := 0; i < 10; i++ {
		cs, err := s.ExpireIdleClients(ctx, a.ID, idleBefore, f.now, 2)
		must(t, err)
		if len(cs) > 2 {
			t.Fatalf("batch expired %d clients, limit 2", len(cs))
		}
		for _, c := range cs {
			if c.TenantID != a.ID {
				t.Fatalf("returned client of tenant %s", c.TenantID)
			}
			got = append(got, c.ID)
		}
		if len(cs) < 2 {
			break
		}
	}
	sort.Strings(got)
	want := []string{"idle-cimd", "idle-dcr", "idle-with-dead-grants"}
	if !slices.Equal(got, want) {
		t.Fatalf("expired clients: want %v, got %v", want, got)
	}
	for _, id := range want {
		if f.hasClient(a.ID, id) {
			t.Errorf("expired client %s still stored", id)
		}
	}
	for _, id := range []string{"idle-with-live-grant", "idle-with-pending", "recently-used", "new", "preregistered"} {
		if !f.hasClient(a.ID, id) {
			t.Errorf("client %s must be kept", id)
		}
	}
	if !f.hasClient(b.ID, "idle-dcr") {
		t.Error("sweep of tenant a expired tenant b's client")
	}
	if f.hasRefresh(a.ID, "rt-dead") {
		t.Error("refresh token of an expired client kept")
	}
	// Once its grant is revoked, the idle client goes on the next pass.
	must(t, s.RevokeGrant(ctx, a.ID, "g-live", "test", f.now))
	cs, err := s.ExpireIdleClients(ctx, a.ID, idleBefore, f.now, 10)
	must(t, err)
	if len(cs) != 1 || cs[0].ID != "idle-with-live-grant" {
		t.Fatalf("after revoking its grant: want idle-with-live-grant expired, got %+v", cs)
	}
}

func testUpstreamRefreshDue(t *testing.T, s tenants.Store) {
	f := newFixture(t, s)
	a := NewTenant(t, s, "up-a")
	mk := func(id string, exp time.Duration, sealed string, revoked bool, errMsg string) {
		e := f.now.Add(exp)
		g := &tenants.Grant{TenantID: a.ID, ID: id, ClientID: "c", CreatedAt: f.now, ExpiresAt: f.now.Add(24 * time.Hour),
			UpstreamIdP: "oidc", UpstreamTokenSealed: sealed, UpstreamTokenExpiry: &e, UpstreamRefreshError: errMsg}
		if revoked {
			g.RevokedAt = &f.now
		}
		must(t, s.CreateGrant(ctx, g))
	}
	mk("due-later", 4*time.Minute, "sealed", false, "")
	mk("due-soon", time.Minute, "sealed", false, "")
	mk("not-due", time.Hour, "sealed", false, "")
	mk("no-token", time.Minute, "", false, "")
	mk("revoked", time.Minute, "sealed", true, "")
	mk("failed", time.Minute, "sealed", false, "invalid_grant")
	gs, err := s.ListUpstreamRefreshDue(ctx, f.now.Add(5*time.Minute), f.now, 10)
	must(t, err)
	var ids []string
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	if !slices.Equal(ids, []string{"due-soon", "due-later"}) {
		t.Fatalf("due grants: want [due-soon due-later] soonest first, got %v", ids)
	}
	exp := f.now.Add(2 * time.Hour)
	must(t, s.SetUpstreamRefreshError(ctx, a.ID, "due-later", "refresh failed"))
	must(t, s.SetUpstreamToken(ctx, a.ID, "due-soon", "sealed-2", &exp))
	g, err := s.GetGrant(ctx, a.ID, "due-soon")
	must(t, err)
	if g.UpstreamTokenSealed != "sealed-2" || g.UpstreamTokenExpiry == nil || !g.UpstreamTokenExpiry.Equal(exp) || g.UpstreamRefreshError != "" {
		t.Fatalf("refreshed grant not updated: %+v", g)
	}
	gs, err = s.ListUpstreamRefreshDue(ctx, f.now.Add(5*time.Minute), f.now, 10)
	must(t, err)
	if len(gs) != 0 {
		t.Fatalf("after refresh and failure, nothing is due; got %d", len(gs))
	}
	g, err = s.GetGrant(ctx, a.ID, "due-later")
	must(t, err)
	if g.UpstreamRefreshError != "refresh failed" {
		t.Fatalf("refresh error not recorded: %q", g.UpstreamRefreshError)
	}
	// A later success clears the error.
	must(t, s.SetUpstreamToken(ctx, a.ID, "due-later", "sealed-3", &exp))
	if g, _ = s.GetGrant(ctx, a.ID, "due-later"); g.UpstreamRefreshError != "" {
		t.Fatal("successful refresh must clear the error")
	}
}

func testAuditByIDAndDeliveries(t *testing.T, s tenants.Store) {
	f := newFixture(t, s)
	a, b := NewTenant(t, s, "abi-a"), NewTenant(t, s, "abi-b")
	var evs []tenants.AuditEvent
	for i := 0; i < 3; i++ {
		ev := tenants.AuditEvent{TenantID: a.ID, Action: tenants.ActTokenIssued}
		ev.Complete(ctx)
		evs = append(evs, ev)
	}
	other := tenants.AuditEvent{TenantID: b.ID, Action: tenants.ActTokenIssued}
	other.Complete(ctx)
	must(t, s.InsertAuditEvents(ctx, append(slices.Clone(evs), other)))
	got, err := s.GetAuditEventsByID(ctx, a.ID, []string{evs[2].ID, evs[0].ID, other.ID, "missing"})
	must(t, err)
	if len(got) != 2 || got[0].ID != evs[0].ID || got[1].ID != evs[2].ID {
		t.Fatalf("GetAuditEventsByID: want [%s %s] (own tenant only, oldest first), got %+v", evs[0].ID, evs[2].ID, got)
	}
	ids, err := s.ExistingAuditEventIDs(ctx, []string{evs[1].ID, other.ID, "missing"})
	must(t, err)
	sort.Strings(ids)
	want := []string{evs[1].ID, other.ID}
	sort.Strings(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("ExistingAuditEventIDs: want %v, got %v", want, ids)
	}

	mkd := func(tid, id, status string, created time.Time) {
		must(t, s.CreateWebhookDelivery(ctx, &tenants.WebhookDelivery{ID: id, TenantID: tid, Status: status, CreatedAt: created}))
	}
	mkd(a.ID, "d1", tenants.WebhookPending, f.now.Add(-10*time.Minute))
	mkd(b.ID, "d2", tenants.WebhookPending, f.now.Add(-5*time.Minute))
	mkd(a.ID, "d3", tenants.WebhookPending, f.now)
	mkd(a.ID, "d4", tenants.WebhookDelivered, f.now.Add(-20*time.Minute))
	ds, err := s.ListStalledWebhookDeliveries(ctx, f.now.Add(-time.Minute), "", 10)
	must(t, err)
	if len(ds) != 2 || ds[0].ID != "d1" || ds[1].ID != "d2" {
		t.Fatalf("stalled deliveries: want [d1 d2], got %+v", ds)
	}
	if ds, err = s.ListStalledWebhookDeliveries(ctx, f.now.Add(-time.Minute), "d1", 1); err != nil || len(ds) != 1 || ds[0].ID != "d2" {
		t.Fatalf("stalled deliveries after d1: want [d2], got %+v (%v)", ds, err)
	}
	n, err := s.DeleteWebhookDeliveriesBefore(ctx, a.ID, f.now.Add(-time.Minute), 10)
	must(t, err)
	if n != 2 {
		t.Fatalf("want d1 and d4 pruned, got %d", n)
	}
	if _, err := s.GetWebhookDelivery(ctx, b.ID, "d2"); err != nil {
		t.Fatal("prune of tenant a removed tenant b's delivery")
	}
	if _, err := s.GetWebhookDelivery(ctx, a.ID, "d3"); err != nil {
		t.Fatal("recent delivery pruned")
	}
}
