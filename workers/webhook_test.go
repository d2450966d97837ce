package workers

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// webhookTenant creates a tenant whose audit webhook is url, with a sealed
// secret (as the provisioning API stores it).
func webhookTenant(t *testing.T, e *env, slug, url, secret string) *tenants.Tenant {
	t.Helper()
	tn := newTenant(t, e.store, slug)
	tn.Settings.AuditWebhookURL = url
	sealed, err := e.sealer.Seal(secret, "tenant:"+tn.ID+":"+tenants.SecretAuditWebhookSecret)
	must(t, err)
	tn.SealedSecrets = tenants.Sealed{tenants.SecretAuditWebhookSecret: sealed}
	must(t, e.store.UpdateTenant(ctx, tn))
	if got, err := tenants.OpenTenantSecret(e.sealer, tn, tenants.SecretAuditWebhookSecret); err != nil || got != secret {
		t.Fatalf("webhook secret does not round-trip: %v", err)
	}
	return tn
}

type receiver struct {
	mu       sync.Mutex
	secret   string
	status   int
	hits     int
	badSig   int
	events   map[string]tenants.AuditEvent
	bodies   []WebhookBody
	delivery map[string]bool
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hits++
	if err := VerifySignature(rc.secret, r.Header.Get(HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
		rc.badSig++
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if rc.status != 0 {
		w.WriteHeader(rc.status)
		return
	}
	var b WebhookBody
	if err := json.Unmarshal(body, &b); err != nil || b.DeliveryID != r.Header.Get(HeaderDelivery) {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	rc.bodies = append(rc.bodies, b)
	for _, ev := range b.Events {
		rc.events[ev.ID] = ev
	}
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.events)
}

// Audit events reach the tenant's webhook in signed batches (HMAC-SHA256
// over "<t>.<body>", docs/WEBHOOKS.md); deliveries are recorded.
func TestWebhookDeliversSignedBatches(t *testing.T) {
	combos := []struct {
		rb redisBackend
		sb testdb.Backend
	}{{redisBackends()[0], testdb.Backends()[0]}, {redisBackends()[1], testdb.Backends()[1]}}
	for _, c := range combos {
		t.Run(c.rb.name+"/"+c.sb.Name, func(t *testing.T) {
			t.Parallel()
			rc := &receiver{secret: "whsec_" + tenants.RandomToken(), events: map[string]tenants.AuditEvent{}}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			e := newEnv(t, testdb.Open(t, c.sb.DSN(t)), c.rb.open(t), func(o *Options) { o.AuditShards = 1 })
			tn := webhookTenant(t, e, "hooked", srv.URL+"/audit", rc.secret)
			quiet := newTenant(t, e.store, "quiet") // no webhook: nothing is sent for it
			e.start()
			const n = 40
			for i := 0; i < n; i++ {
				e.rt.Auditor().Record(ctx, tenants.AuditEvent{TenantID: tn.ID, Action: tenants.ActTokenIssued, ClientID: "c", Subject: "u"})
				e.rt.Auditor().Record(ctx, tenants.AuditEvent{TenantID: quiet.ID, Action: tenants.ActTokenIssued})
			}
			testdb.Eventually(t, "all events at the webhook", 60*time.Second, func() bool { return rc.count() == n })
			testdb.Eventually(t, "deliveries marked delivered", 30*time.Second, func() bool {
				ds, _, err := e.store.ListWebhookDeliveries(ctx, tn.ID, tenants.Page{Limit: 200})
				must(t, err)
				for _, d := range ds {
					if d.Status != tenants.WebhookDelivered {
						return false
					}
				}
				return len(ds) > 0
			})
			rc.mu.Lock()
			defer rc.mu.Unlock()
			if rc.badSig != 0 {
				t.Fatalf("%d deliveries failed signature verification", rc.badSig)
			}
			if len(rc.bodies) > n/4 {
				t.Fatalf("events must be delivered in batches: %d deliveries for %d events", len(rc.bodies), n)
			}
			for _, b := range rc.bodies {
				if b.TenantID != tn.ID || b.Tenant != "hooked" {
					t.Fatalf("delivery for tenant %s/%s", b.Tenant, b.TenantID)
				}
				for _, ev := range b.Events {
					if ev.TenantID != tn.ID {
						t.Fatal("another tenant's event delivered")
					}
				}
			}
			ds, _, err := e.store.ListWebhookDeliveries(ctx, tn.ID, tenants.Page{Limit: 200})
			must(t, err)
			events := 0
			for _, d := range ds {
				if d.Attempts != 1 || d.LastStatus != http.StatusNoContent || d.DeliveredAt == nil {
					t.Errorf("delivery %+v", d)
				}
				events += len(d.EventIDs)
			}
			if events != n {
				t.Errorf("deliveries name %d events, want %d", events, n)
			}
			if qd, _, _ := e.store.ListWebhookDeliveries(ctx, quiet.ID, tenants.Page{}); len(qd) != 0 {
				t.Errorf("tenant without webhook has %d deliveries", len(qd))
			}
		})
	}
}

// A receiver that keeps failing gets WebhookMaxAttempts attempts with
// backoff; then the delivery is dead-lettered: status "dead" in the store and
// the task archived in asynq (visible to the Inspector).
func TestWebhookDeadLettersAfterRetries(t *testing.T) {
	for _, rb := range redisBackends() {
		t.Run(rb.name, func(t *testing.T) {
			t.Parallel()
			rc := &receiver{secret: "s3cret-" + tenants.RandomToken(), status: http.StatusServiceUnavailable, events: map[string]tenants.AuditEvent{}}
			srv := httptest.NewServer(rc)
			defer srv.Close()
			e := newEnv(t, testdb.Open(t, testdb.SQLite(t)), rb.open(t), func(o *Options) {
				o.WebhookMaxAttempts, o.WebhookBackoff = 3, 100*time.Millisecond
			})
			tn := webhookTenant(t, e, "failing", srv.URL, rc.secret)
			e.start()
			e.rt.Auditor().Record(ctx, tenants.AuditEvent{TenantID: tn.ID, Action: tenants.ActGrantRevoked})
			var d tenants.WebhookDelivery
			testdb.Eventually(t, "the delivery to be dead-lettered", 60*time.Second, func() bool {
				ds, _, err := e.store.ListWebhookDeliveries(ctx, tn.ID, tenants.Page{})
				if err != nil { // a query deadline on a loaded machine: ask again
					return false
				}
				if len(ds) == 1 && ds[0].Status == tenants.WebhookDead {
					d = ds[0]
					return true
				}
				return false
			})
			if d.Attempts != 3 || d.LastStatus != http.StatusServiceUnavailable || !strings.Contains(d.LastError, "503") {
				t.Fatalf("dead delivery: %+v", d)
			}
			rc.mu.Lock()
			hits := rc.hits
			rc.mu.Unlock()
			if hits != 3 {
				t.Fatalf("receiver got %d attempts, want 3", hits)
			}
			var archived int
			testdb.Eventually(t, "the task to be archived", 30*time.Second, func() bool {
				ts, err := e.rt.Inspector().ListArchivedTasks(QueueLow)
				if err != nil {
					return false
				}
				archived = 0
				for _, ti := range ts {
					if ti.Type == TypeWebhook {
						archived++
					}
				}
				return archived == 1
			})
		})
	}
}

func TestWebhookSignature(t *testing.T) {
	body := []byte(`{"events":[]}`)
	now := time.Unix(1_800_000_000, 0)
	h := Sign("k", now, body)
	if !strings.HasPrefix(h, "t=1800000000,v1=") {
		t.Fatalf("header %q", h)
	}
	if err := VerifySignature("k", h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"tampered body": VerifySignature("k", h, []byte(`{"events":[1]}`), now, 5*time.Minute),
		"wrong secret":  VerifySignature("other", h, body, now, 5*time.Minute),
		"replayed late": VerifySignature("k", h, body, now.Add(time.Hour), 5*time.Minute),
		"no signature":  VerifySignature("k", "t=1800000000", body, now, 5*time.Minute),
	} {
		if err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

// SSRF (docs/RULES.md §3): without GATEHOUSE_ALLOW_PRIVATE_FETCH a webhook to a
// loopback address, or over plain http, is refused before any request.
func TestWebhookRefusesPrivateAddresses(t *testing.T) {
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer tls.Close()
	e := newEnv(t, testdb.Open(t, testdb.SQLite(t)), startMiniredis(t), func(o *Options) { o.AllowPrivateFetch = false })
	for _, url := range []string{srv.URL, tls.URL} {
		tn := webhookTenant(t, e, "ssrf"+tenants.RandomID()[:6], url, "k")
		_, err := e.rt.deliver(ctx, tn, &tenants.WebhookDelivery{ID: "d", TenantID: tn.ID})
		if err == nil {
			t.Fatalf("delivery to %s allowed", url)
		}
		if strings.Contains(err.Error(), url) {
			t.Errorf("error leaks the webhook URL: %v", err)
		}
	}
	if hits != 0 {
		t.Fatalf("private receiver was contacted %d times", hits)
	}
}

// Events written while Redis was unreachable still reach the webhook: their
// delivery is created with them, and webhook:resume enqueues it once the
// queue is back.
func TestWebhookResumesDeliveriesCreatedWhileRedisWasDown(t *testing.T) {
	rc := &receiver{secret: "k-" + tenants.RandomToken(), events: map[string]tenants.AuditEvent{}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	port := testdb.FreePort(t)
	var offset atomic.Int64
	e := newEnv(t, testdb.Open(t, testdb.SQLite(t)), asynq.RedisClientOpt{Addr: fmt.Sprintf("127.0.0.1:%d", port), DialTimeout: 200 * time.Millisecond},
		func(o *Options) {
			o.Schedule = fastSchedule(time.Second)
			o.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
		})
	tn := webhookTenant(t, e, "resume", srv.URL, rc.secret)
	for i := 0; i < 3; i++ {
		e.rt.Auditor().Record(ctx, tenants.AuditEvent{TenantID: tn.ID, Action: tenants.ActTokenRevoked})
	}
	ds, _, err := e.store.ListWebhookDeliveries(ctx, tn.ID, tenants.Page{})
	must(t, err)
	if len(ds) == 0 || ds[0].Status != tenants.WebhookPending || ds[0].Attempts != 0 {
		t.Fatalf("want pending deliveries created with the synchronous writes, got %+v", ds)
	}
	startRedisServer(t, port)
	offset.Store(int64(2 * time.Minute)) // the deliveries are now "stalled"
	e.start()
	testdb.Eventually(t, "the stalled deliveries to be sent", 60*time.Second, func() bool { return rc.count() == 3 })
	testdb.Eventually(t, "deliveries marked delivered", 30*time.Second, func() bool {
		ds, _, err := e.store.ListWebhookDeliveries(ctx, tn.ID, tenants.Page{})
		must(t, err)
		for _, d := range ds {
			if d.Status != tenants.WebhookDelivered {
				return false
			}
		}
		return true
	})
}
