package reseal_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
	"github.com/gatehouse/gatehouse/tenants/keys"
	"github.com/gatehouse/gatehouse/tenants/reseal"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

func key(t *testing.T) []byte {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func sealer(t *testing.T, ks ...[]byte) *tenants.Sealer {
	s, err := tenants.NewSealer(ks)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// After a rotation (NEW,OLD) every sealed value is re-sealed under NEW, so
// a sealer holding only NEW opens all of them; a second run finds nothing.
func TestResealAfterRotation(t *testing.T) {
	testdb.EachStore(t, func(t *testing.T, store *gormstore.Store) {
		ctx := context.Background()
		oldKey, newKey := key(t), key(t)
		old := sealer(t, oldKey)
		prov := &tenants.Provisioner{Store: store, Sealer: old, Auditor: &tenants.SyncAuditor{Store: store}}
		tn, err := prov.CreateTenant(ctx, tenants.TenantInput{Slug: "sealed", Name: "S", UpstreamMCPURL: "https://mcp.example.com/mcp",
			IdP:      &tenants.IdPInput{Type: tenants.IdPGitHub, ClientID: "Iv1", ClientSecret: "gh-secret"},
			Settings: &tenants.Settings{AuditWebhookSecret: "whsec", UpstreamHeaders: map[string]string{"X-Api-Key": "k"}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := keys.New(store, old, nil).Ensure(ctx, tn.ID); err != nil {
			t.Fatal(err)
		}
		tokenSealed, _ := old.Seal(`{"access_token":"up"}`, tenants.UpstreamTokenContext(tn.ID, "g1"))
		now := time.Now().UTC()
		if err := store.CreateGrant(ctx, &tenants.Grant{TenantID: tn.ID, ID: "g1", Subject: "u", ClientID: "c", CreatedAt: now,
			ExpiresAt: now.Add(time.Hour), UpstreamTokenSealed: tokenSealed}); err != nil {
			t.Fatal(err)
		}

		verifier, _ := old.Seal("pkce-verifier", tenants.PendingVerifierContext(tn.ID, "p1"))
		if err := store.DB().Create(&tenants.PendingAuthorization{TenantID: tn.ID, ID: "p1", ClientID: "c", CreatedAt: now,
			ExpiresAt: now.Add(10 * time.Minute), UpstreamVerifierSealed: verifier}).Error; err != nil {
			t.Fatal(err)
		}

		rotated := sealer(t, newKey, oldKey)
		dry, err := reseal.Run(ctx, store.DB(), rotated, true)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"tenant secrets": 2, "idp client secrets": 1, "signing keys": 2, "grant upstream tokens": 1, "pending authorizations": 1}
		for _, r := range dry {
			if r.Old < 1 || r.Old != r.Checked || r.Resealed != 0 {
				t.Errorf("dry run %+v", r)
			}
			if w := want[r.Kind]; r.Old < w || (r.Kind != "signing keys" && r.Old != w) {
				t.Errorf("%s: %d old, want %d", r.Kind, r.Old, w)
			}
		}
		reps, err := reseal.Run(ctx, store.DB(), rotated, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reps {
			if r.Resealed != r.Old || r.Failed != 0 {
				t.Errorf("reseal %+v", r)
			}
		}

		// Only the new key now: everything still opens.
		only := sealer(t, newKey)
		idp, err := store.GetIdP(ctx, tn.ID, tenants.IdPGitHub)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := only.Open(idp.ClientSecretSealed, tenants.IdPSecretContext(tn.ID, tenants.IdPGitHub)); err != nil || v != "gh-secret" {
			t.Errorf("idp secret: %q %v", v, err)
		}
		got, err := store.GetTenantBySlug(ctx, "sealed")
		if err != nil {
			t.Fatal(err)
		}
		if v, err := only.Open(got.SealedSecrets[tenants.SecretAuditWebhookSecret], "tenant:"+tn.ID+":"+tenants.SecretAuditWebhookSecret); err != nil || v != "whsec" {
			t.Errorf("webhook secret: %q %v", v, err)
		}
		g, err := store.GetGrant(ctx, tn.ID, "g1")
		if err != nil {
			t.Fatal(err)
		}
		if v, err := only.Open(g.UpstreamTokenSealed, tenants.UpstreamTokenContext(tn.ID, "g1")); err != nil || v != `{"access_token":"up"}` {
			t.Errorf("upstream token: %q %v", v, err)
		}
		var pa tenants.PendingAuthorization
		if err := store.DB().Where("tenant_id = ? AND id = ?", tn.ID, "p1").First(&pa).Error; err != nil {
			t.Fatal(err)
		}
		if v, err := only.Open(pa.UpstreamVerifierSealed, tenants.PendingVerifierContext(tn.ID, "p1")); err != nil || v != "pkce-verifier" {
			t.Errorf("pending verifier: %q %v", v, err)
		}
		if _, err := keys.New(store, only, nil).Sign(ctx, tn.ID, "at+jwt", map[string]any{"sub": "x"}); err != nil {
			t.Errorf("signing with the re-sealed key: %v", err)
		}
		again, err := reseal.Run(ctx, store.DB(), rotated, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range again {
			if r.Old != 0 || r.Resealed != 0 {
				t.Errorf("second run %+v", r)
			}
		}

		// A value no configured key opens is reported, not destroyed.
		stranger := sealer(t, key(t))
		bad, _ := stranger.Seal("x", tenants.IdPSecretContext(tn.ID, tenants.IdPGitHub))
		idp.ClientSecretSealed = bad
		if err := store.DB().Save(idp).Error; err != nil {
			t.Fatal(err)
		}
		reps, err = reseal.Run(ctx, store.DB(), rotated, false)
		if !errors.Is(err, reseal.ErrUnopenable) {
			t.Fatalf("unopenable value: %v", err)
		}
		after, _ := store.GetIdP(ctx, tn.ID, tenants.IdPGitHub)
		if after.ClientSecretSealed != bad {
			t.Error("an unopenable value was changed")
		}
	})
}
