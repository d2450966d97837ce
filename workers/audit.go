package workers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"

	"github.com/gatehouse/gatehouse/tenants"
)

// The audit pipeline (docs/RULES.md §7, §8).
//
// Record enqueues each event on the critical queue in an asynq group; the
// server's GroupAggregator turns a group into one audit:batch task whose
// handler writes all its events in one multi-row insert (idempotent by
// event id) and creates the tenants' webhook deliveries in the same
// transaction.
//
// Nothing is dropped:
//   - Redis unreachable: Record writes the event synchronously instead.
//   - Redis lost what it held (a crash without persistence): the recording
//     process keeps every enqueued event until it sees it in the database;
//     an event not there after AuditConfirmAfter is written by the recording
//     process itself. Inserts skip ids already stored, so a late batch
//     arriving afterwards changes nothing.
//   - Database down: the event stays held and is retried.
// Only the loss of the recording process and of Redis' data together can
// lose an event; both are the price of not writing every event
// synchronously.
//
// While the queue is known up (the last enqueue succeeded), Record only
// holds the event and hands it to a sender goroutine: the Redis round trip
// is off the request path (docs/PERFORMANCE.md). An event the senders have
// not enqueued yet is in the held set like any other, so the confirmation
// loop writes it if it never reaches Redis; a crash of the process loses at
// most the few milliseconds of events in the outbox. When the queue is down
// or its state unknown (start), Record enqueues or writes before it returns.

const (
	// enqueueTimeout bounds what a request pays for an unreachable Redis
	// (a healthy one answers in well under a millisecond).
	enqueueTimeout = 500 * time.Millisecond
	// queueDownFor: after a failed enqueue, events go straight to the
	// database for this long instead of paying a timeout each; it doubles
	// while Redis stays down, up to queueDownMax.
	queueDownFor = time.Second
	queueDownMax = 15 * time.Second
	// maxHeld bounds the events held for confirmation; past it Record writes
	// synchronously (back-pressure instead of unbounded memory).
	maxHeld = 200_000
	// confirmBatch is how many held events one confirmation query checks.
	confirmBatch = 1000
	// outboxSize bounds the events waiting for a sender; when it is full,
	// Record enqueues itself (back-pressure).
	outboxSize = 1024
	// auditSenders is the number of goroutines enqueueing from the outbox.
	auditSenders = 4
)

type heldEvent struct {
	ev tenants.AuditEvent
	at time.Time // enqueued (zero: write failed, retry at once)
}

type queuedAuditor struct {
	r *Runtime

	mu        sync.Mutex
	held      map[string]heldEvent
	downUntil time.Time
	downFor   time.Duration

	stopped  atomic.Bool // after Close, Record writes synchronously
	stopOnce sync.Once
	stopc    chan struct{}
	done     chan struct{}

	// queueUp: the last enqueue succeeded, so Record may leave the enqueue
	// to the senders.
	queueUp atomic.Bool
	// gate orders Record's hand-off against stop: once stop holds it, no
	// event can enter the outbox after the senders drained it.
	gate    sync.RWMutex
	outbox  chan tenants.AuditEvent
	senders sync.WaitGroup
}

func newQueuedAuditor(r *Runtime) *queuedAuditor {
	a := &queuedAuditor{r: r, held: map[string]heldEvent{}, stopc: make(chan struct{}), done: make(chan struct{}),
		outbox: make(chan tenants.AuditEvent, outboxSize)}
	for i := 0; i < auditSenders; i++ {
		a.senders.Add(1)
		go a.sendLoop()
	}
	go a.confirmLoop()
	return a
}

// Record implements tenants.Auditor.
func (a *queuedAuditor) Record(ctx context.Context, ev tenants.AuditEvent) {
	ev.Complete(ctx)
	ctx = context.WithoutCancel(ctx)
	if a.handOff(ev) {
		return
	}
	a.send(ctx, ev)
}

// handOff holds ev and puts it in the outbox when the queue is known up and
// the outbox has room.
func (a *queuedAuditor) handOff(ev tenants.AuditEvent) bool {
	a.gate.RLock()
	defer a.gate.RUnlock()
	if !a.queueUp.Load() || !a.queueUsable() {
		return false
	}
	a.hold(ev)
	select {
	case a.outbox <- ev:
		return true
	default:
		a.release(map[string]bool{ev.ID: true})
		return false
	}
}

func (a *queuedAuditor) hold(ev tenants.AuditEvent) {
	a.mu.Lock()
	a.held[ev.ID] = heldEvent{ev: ev, at: time.Now()}
	a.mu.Unlock()
}

// sendLoop enqueues the outbox until stop, then drains it.
func (a *queuedAuditor) sendLoop() {
	defer a.senders.Done()
	ctx := context.Background()
	for {
		select {
		case ev := <-a.outbox:
			a.send(ctx, ev)
		case <-a.stopc:
			for {
				select {
				case ev := <-a.outbox:
					a.send(ctx, ev)
				default:
					return
				}
			}
		}
	}
}

// send enqueues ev, or writes it when the queue is unusable (down, or the
// auditor stopping).
func (a *queuedAuditor) send(ctx context.Context, ev tenants.AuditEvent) {
	if a.queueUsable() {
		err := a.enqueue(ctx, ev)
		if err == nil {
			a.markUp()
			a.r.metrics.auditEvents.WithLabelValues("queued").Inc()
			return
		}
		a.markDown()
		a.r.log.Warn("audit queue unreachable; writing the event synchronously", "err", err, "action", ev.Action, "tenant", ev.TenantID)
	}
	a.r.metrics.auditEvents.WithLabelValues("sync").Inc()
	if err := a.r.persist(ctx, []tenants.AuditEvent{ev}); err != nil {
		// Held with a zero time: the confirm loop retries it at once.
		a.r.log.Error("audit write failed; holding the event for retry", "err", err, "action", ev.Action, "tenant", ev.TenantID, "event_id", ev.ID)
		a.mu.Lock()
		a.held[ev.ID] = heldEvent{ev: ev}
		a.mu.Unlock()
		return
	}
	a.release(map[string]bool{ev.ID: true})
}

func (a *queuedAuditor) queueUsable() bool {
	if a.stopped.Load() {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return time.Now().After(a.downUntil) && len(a.held) < maxHeld
}

func (a *queuedAuditor) isDown() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return time.Now().Before(a.downUntil)
}

func (a *queuedAuditor) markDown() {
	a.queueUp.Store(false)
	a.mu.Lock()
	if time.Now().Before(a.downUntil) {
		a.mu.Unlock()
		return // concurrent failures of one attempt window count once
	}
	a.downFor = min(max(2*a.downFor, queueDownFor), queueDownMax)
	a.downUntil = time.Now().Add(a.downFor)
	a.mu.Unlock()
}

func (a *queuedAuditor) markUp() {
	a.queueUp.Store(true)
	a.mu.Lock()
	a.downFor = 0
	a.mu.Unlock()
}

func (a *queuedAuditor) enqueue(ctx context.Context, ev tenants.AuditEvent) error {
	payload, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	// Held before the enqueue: a batch may be written before Enqueue returns.
	a.hold(ev)
	ectx, cancel := context.WithTimeout(ctx, enqueueTimeout)
	defer cancel()
	_, err = a.r.client.EnqueueContext(ectx, asynq.NewTask(TypeAuditEvent, payload),
		asynq.Queue(QueueCritical), asynq.Group(a.shard(ev.ID)))
	return err
}

// shard spreads events over AuditShards groups: asynq aggregates at most one
// set per group per check interval, so several groups raise the ceiling.
func (a *queuedAuditor) shard(id string) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return fmt.Sprintf("audit-%d", h.Sum32()%uint32(a.r.opts.AuditShards))
}

func (a *queuedAuditor) confirmLoop() {
	defer close(a.done)
	every := a.r.opts.AuditConfirmAfter / 4
	if every < 100*time.Millisecond {
		every = 100 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-a.stopc:
			a.senders.Wait()                     // the outbox is drained
			a.confirm(time.Now().Add(time.Hour)) // everything still held
			a.logUnwritten()
			return
		case <-t.C:
			a.confirm(time.Now().Add(-a.r.opts.AuditConfirmAfter))
		}
	}
}

// confirm checks events held since before cutoff: those stored are
// released, the others are written now.
func (a *queuedAuditor) confirm(cutoff time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		a.mu.Lock()
		var due []tenants.AuditEvent
		for _, h := range a.held {
			if h.at.Before(cutoff) {
				due = append(due, h.ev)
				if len(due) == confirmBatch {
					break
				}
			}
		}
		a.mu.Unlock()
		if len(due) == 0 {
			return
		}
		ids := make([]string, len(due))
		for i := range due {
			ids[i] = due[i].ID
		}
		stored, err := a.r.opts.Store.ExistingAuditEventIDs(ctx, ids)
		if err != nil {
			a.r.log.Error("audit confirmation failed; will retry", "err", err, "held", len(ids))
			return
		}
		have := map[string]bool{}
		for _, id := range stored {
			have[id] = true
		}
		var missing []tenants.AuditEvent
		for _, ev := range due {
			if !have[ev.ID] {
				missing = append(missing, ev)
			}
		}
		if len(missing) > 0 {
			if err := a.r.persist(ctx, missing); err != nil {
				a.r.log.Error("audit write of unconfirmed events failed; will retry", "err", err, "events", len(missing))
				a.release(have)
				return
			}
			a.r.metrics.auditEvents.WithLabelValues("late").Add(float64(len(missing)))
			a.r.log.Warn("audit events not written through the queue in time; written directly", "events", len(missing))
		}
		for _, ev := range missing {
			have[ev.ID] = true
		}
		a.release(have)
		if len(due) < confirmBatch {
			return
		}
	}
}

func (a *queuedAuditor) release(ids map[string]bool) {
	a.mu.Lock()
	for id := range ids {
		delete(a.held, id)
	}
	a.mu.Unlock()
}

// heldCount is the number of events not yet confirmed stored.
func (a *queuedAuditor) heldCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.held)
}

// logUnwritten puts events that could not be written at shutdown (database
// down) into the log, whole, so an operator can replay them; audit events
// hold no token, code or secret.
func (a *queuedAuditor) logUnwritten() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, h := range a.held {
		b, _ := json.Marshal(h.ev)
		a.r.log.Error("audit event not written before shutdown", "event", string(b))
	}
}

// stop confirms (and if needed writes) everything held, then ends the loop.
func (a *queuedAuditor) stop() {
	a.stopOnce.Do(func() {
		a.gate.Lock() // no hand-off is in flight past this point
		a.stopped.Store(true)
		a.gate.Unlock()
		close(a.stopc)
	})
	<-a.done
}

// aggregateAudit joins the grouped events' JSON into one array payload.
func aggregateAudit(_ string, tasks []*asynq.Task) *asynq.Task {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, t := range tasks {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(t.Payload())
	}
	b.WriteByte(']')
	return asynq.NewTask(TypeAuditBatch, b.Bytes(), asynq.MaxRetry(20))
}

// handleAuditBatch writes an aggregated batch (or a lone event).
func (r *Runtime) handleAuditBatch(ctx context.Context, t *asynq.Task) error {
	var evs []tenants.AuditEvent
	p := bytes.TrimSpace(t.Payload())
	if len(p) > 0 && p[0] == '{' {
		var ev tenants.AuditEvent
		if err := json.Unmarshal(p, &ev); err != nil {
			return fmt.Errorf("%w: bad audit event: %v", asynq.SkipRetry, err)
		}
		evs = append(evs, ev)
	} else if err := json.Unmarshal(p, &evs); err != nil {
		return fmt.Errorf("%w: bad audit batch: %v", asynq.SkipRetry, err)
	}
	if err := r.persist(ctx, evs); err != nil {
		return err
	}
	r.metrics.auditBatch.Observe(float64(len(evs)))
	return nil
}

// persist writes events in one multi-row insert and, in the same
// transaction, one webhook delivery per tenant that has a webhook; then it
// enqueues those deliveries. Every write path of the auditor comes here.
func (r *Runtime) persist(ctx context.Context, evs []tenants.AuditEvent) error {
	if len(evs) == 0 {
		return nil
	}
	ds := r.planDeliveries(ctx, evs)
	err := r.opts.Store.InTx(ctx, func(s tenants.Store) error {
		if err := s.InsertAuditEvents(ctx, evs); err != nil {
			return err
		}
		for _, d := range ds {
			// A retried batch plans the same delivery id: create it once.
			// (Checked first: a failed insert would abort a Postgres transaction.)
			if _, err := s.GetWebhookDelivery(ctx, d.TenantID, d.ID); err == nil {
				continue
			} else if !errors.Is(err, tenants.ErrNotFound) {
				return err
			}
			if err := s.CreateWebhookDelivery(ctx, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, d := range ds {
		// Not enqueued (Redis down): the webhook:resume task picks it up.
		// While the queue is known down, do not make the caller wait for it.
		if r.auditor.isDown() {
			break
		}
		if err := r.enqueueWebhook(ctx, d); err != nil {
			r.auditor.markDown()
		}
	}
	return nil
}

// planDeliveries makes one pending delivery per tenant of evs that has an
// audit webhook. Its id is derived from the event ids, so the same batch
// always plans the same delivery; its first half is the oldest event id's
// time part, so deliveries page in time order.
func (r *Runtime) planDeliveries(ctx context.Context, evs []tenants.AuditEvent) []*tenants.WebhookDelivery {
	byTenant := map[string][]string{}
	for i := range evs {
		byTenant[evs[i].TenantID] = append(byTenant[evs[i].TenantID], evs[i].ID)
	}
	var out []*tenants.WebhookDelivery
	for tid, ids := range byTenant {
		if tid == "" {
			continue
		}
		t, _, err := r.tcache.Get(ctx, tid, func(ctx context.Context) (*tenants.Tenant, error) { return r.opts.Store.GetTenant(ctx, tid) })
		if err != nil || t.Settings.AuditWebhookURL == "" {
			continue
		}
		sort.Strings(ids)
		sum := sha256.Sum256([]byte(strings.Join(ids, ",")))
		id := ids[0]
		if len(id) > 16 {
			id = id[:16]
		}
		out = append(out, &tenants.WebhookDelivery{ID: id + hex.EncodeToString(sum[:8]), TenantID: tid, EventIDs: ids,
			Status: tenants.WebhookPending, CreatedAt: r.now()})
	}
	return out
}
