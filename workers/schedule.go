package workers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Task types.
const (
	TypeAuditEvent = "audit:event" // one event, grouped for aggregation
	TypeAuditBatch = "audit:batch" // the aggregated multi-row insert
	TypeWebhook    = "webhook:deliver"

	TypeSweepCodes     = "sweep:codes"      // expired codes and pending authorizations
	TypeSweepTokens    = "sweep:tokens"     // expired refresh tokens, rotated ones past grace
	TypeSweepGrants    = "sweep:grants"     // ended grants past retention
	TypeSweepClients   = "sweep:clients"    // idle DCR/CIMD clients without live grants
	TypeSweepAudit     = "sweep:audit"      // audit events and deliveries past retention
	TypeRotateKeys     = "keys:rotate"      // per-tenant signing key rotation
	TypeRefreshUp      = "upstream:refresh" // upstream IdP tokens about to expire
	TypeWebhookResume  = "webhook:resume"   // deliveries whose task was never enqueued
	TypeVerifyDomains  = "domains:verify"   // DNS TXT challenges of unverified custom domains
	periodicTaskPrefix = "periodic:"        // task id prefix of periodic tasks
)

// ScheduleEntry is one periodic task.
type ScheduleEntry struct {
	Type   string
	Period time.Duration
	Queue  string
}

// DefaultSchedule is the periodic work and how often it runs (docs/RULES.md §7).
var DefaultSchedule = []ScheduleEntry{
	{TypeSweepCodes, time.Minute, QueueDefault},
	{TypeSweepTokens, 5 * time.Minute, QueueDefault},
	{TypeSweepGrants, time.Hour, QueueDefault},
	{TypeSweepClients, time.Hour, QueueDefault},
	{TypeSweepAudit, time.Hour, QueueDefault},
	{TypeRotateKeys, time.Hour, QueueDefault},
	{TypeRefreshUp, 2 * time.Minute, QueueDefault},
	{TypeWebhookResume, time.Minute, QueueLow},
	{TypeVerifyDomains, time.Minute, QueueLow},
}

type periodic struct {
	typ    string
	period time.Duration
	queue  string
}

func schedule(over map[string]time.Duration) []periodic {
	var out []periodic
	for _, e := range DefaultSchedule {
		p := periodic{typ: e.Type, period: e.Period, queue: e.Queue}
		if d, ok := over[e.Type]; ok && d > 0 {
			p.period = d
		}
		out = append(out, p)
	}
	return out
}

// slotPayload is a periodic task's payload: which period it runs for.
type slotPayload struct {
	Slot int64 `json:"slot"`
}

// slotOf numbers the period t falls in; every replica computes the same.
func slotOf(t time.Time, period time.Duration) int64 { return t.UnixMilli() / period.Milliseconds() }

// runScheduler enqueues each periodic task once per period slot. Every
// replica runs it; the task id "periodic:<type>:<slot>" makes the second
// enqueue of a slot fail with ErrTaskIDConflict, and Retention keeps the
// finished task (and so its id) for two periods, so a slot that already ran
// is not run again by a replica that comes late (replica clocks must agree
// to within a period, which NTP gives by far).
func (r *Runtime) runScheduler(ctx context.Context) {
	tick := time.Second
	for _, p := range r.sched {
		if q := p.period / 4; q < tick {
			tick = q
		}
	}
	if tick < 50*time.Millisecond {
		tick = 50 * time.Millisecond
	}
	last := map[string]int64{}
	failing := map[string]bool{} // warn once per outage, not every tick
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		for _, p := range r.sched {
			slot := slotOf(r.now(), p.period)
			if last[p.typ] == slot {
				continue
			}
			if err := r.enqueuePeriodic(ctx, p, slot); err != nil {
				if !failing[p.typ] && ctx.Err() == nil {
					r.log.Warn("periodic task not enqueued; retrying", "type", p.typ, "err", err)
				}
				failing[p.typ] = true
				continue
			}
			last[p.typ], failing[p.typ] = slot, false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Runtime) enqueuePeriodic(ctx context.Context, p periodic, slot int64) error {
	payload, _ := json.Marshal(slotPayload{Slot: slot})
	timeout := p.period
	if timeout < time.Minute {
		timeout = time.Minute
	}
	ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := r.client.EnqueueContext(ectx, asynq.NewTask(p.typ, payload),
		asynq.Queue(p.queue), asynq.TaskID(fmt.Sprintf("%s%s:%d", periodicTaskPrefix, p.typ, slot)),
		asynq.Retention(2*p.period), asynq.MaxRetry(3), asynq.Timeout(timeout))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil // another replica enqueued this slot
	}
	return err
}

// periodicHandler runs one slot of p.
func (r *Runtime) periodicHandler(p periodic) asynq.HandlerFunc {
	run := r.periodicWork(p.typ)
	return func(ctx context.Context, t *asynq.Task) error {
		var sp slotPayload
		_ = json.Unmarshal(t.Payload(), &sp)
		err := run(ctx)
		if r.observe != nil {
			r.observe(p.typ, sp.Slot, err)
		}
		return err
	}
}

func (r *Runtime) periodicWork(typ string) func(context.Context) error {
	switch typ {
	case TypeSweepCodes:
		return r.sweepCodes
	case TypeSweepTokens:
		return r.sweepTokens
	case TypeSweepGrants:
		return r.sweepGrants
	case TypeSweepClients:
		return r.sweepClients
	case TypeSweepAudit:
		return r.sweepAudit
	case TypeRotateKeys:
		return r.rotateKeys
	case TypeRefreshUp:
		return r.refreshUpstream
	case TypeWebhookResume:
		return r.resumeWebhooks
	case TypeVerifyDomains:
		return r.verifyDomains
	}
	return func(context.Context) error { return fmt.Errorf("no handler for %s", typ) }
}
