package workers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/egress/egresstest"
	"github.com/gatehouse/gatehouse/tenants/idp"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// Hole 2 (docs/SECURITY.md §2): the worker's upstream token refresh goes
// through the outbound address policy like the server's IdP calls: a
// tenant whose OIDC issuer is a loopback address gets no connection from
// the refresh worker. With private fetch allowed (tests) the same refresh
// does dial it (the control).
func TestSecurity_02_IssuerURLSSRF_WorkerRefresh(t *testing.T) {
	for _, allow := range []bool{false, true} {
		trap := egresstest.NewTLSTrap(t)
		e := newEnv(t, testdb.Open(t, testdb.SQLite(t)), startMiniredis(t), func(o *Options) { o.AllowPrivateFetch = allow })
		tn := newTenant(t, e.store, "refresh-trap")
		sealed, err := e.sealer.Seal("s", tenants.IdPSecretContext(tn.ID, tenants.IdPOIDC))
		must(t, err)
		must(t, e.store.PutIdP(ctx, &tenants.IdPConfig{TenantID: tn.ID, Type: tenants.IdPOIDC, ClientID: "c", ClientSecretSealed: sealed,
			IssuerURL: trap.URL + "/refresh-" + tenants.RandomID()[:6]}))
		_, err = e.rt.refresh.Refresh(ctx, tn, tenants.IdPOIDC, &idp.Token{AccessToken: "a", RefreshToken: "r", Expiry: time.Now().Add(time.Minute)})
		if err == nil {
			t.Fatalf("allowPrivate=%v: refresh against the trap succeeded", allow)
		}
		trap.DialedIf(t, allow)
	}
}

// Webhooks go through the same policy (TestWebhookRefusesPrivateAddresses)
// and follow no redirect: a receiver answering 307 to the loopback trap is
// a failed delivery, and the trap sees no connection — even with private
// fetch allowed, where the policy alone would let it be dialed.
func TestSecurity_02_WebhookFollowsNoRedirect(t *testing.T) {
	trap := egresstest.NewTrap(t)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, trap.URL+"/hook", http.StatusTemporaryRedirect)
	}))
	defer recv.Close()
	e := newEnv(t, testdb.Open(t, testdb.SQLite(t)), startMiniredis(t), nil)
	tn := webhookTenant(t, e, "hook-redirect", recv.URL+"/hook", "k")
	status, err := e.rt.deliver(ctx, tn, &tenants.WebhookDelivery{ID: "d", TenantID: tn.ID})
	if err == nil || status != http.StatusTemporaryRedirect || !strings.Contains(err.Error(), "307") {
		t.Fatalf("redirecting receiver: status %d err %v", status, err)
	}
	trap.Untouched(t)
}
