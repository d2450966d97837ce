package workers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/gatehouse/gatehouse/tenants"
)

// Audit webhooks (docs/WEBHOOKS.md). A delivery carries one batch of a
// tenant's audit events, signed with HMAC-SHA256 over "<timestamp>.<body>"
// under the tenant's audit_webhook_secret:
//
//	Gatehouse-Signature: t=<unix seconds>,v1=<hex>
//
// It is retried with exponential backoff and dead-lettered (status "dead",
// the asynq task archived) after WebhookMaxAttempts attempts.

// Webhook headers.
const (
	HeaderSignature = "Gatehouse-Signature"
	HeaderDelivery  = "Gatehouse-Delivery"
)

// WebhookBody is the JSON posted to a tenant's audit webhook.
type WebhookBody struct {
	DeliveryID string               `json:"delivery_id"`
	Tenant     string               `json:"tenant"` // slug
	TenantID   string               `json:"tenant_id"`
	Events     []tenants.AuditEvent `json:"events"`
}

// Sign returns the Gatehouse-Signature header value for body at ts.
func Sign(secret string, ts time.Time, body []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(t))
	m.Write([]byte{'.'})
	m.Write(body)
	return "t=" + t + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks a Gatehouse-Signature header against body, and that
// its timestamp is within tolerance of now (replay protection). Receivers
// written in Go may use it; docs/WEBHOOKS.md describes it for others.
func VerifySignature(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts int64
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return errors.New("webhook signature: bad timestamp")
			}
			ts = n
		case "v1":
			sigs = append(sigs, v)
		}
	}
	if ts == 0 || len(sigs) == 0 {
		return errors.New("webhook signature: missing t or v1")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook signature: timestamp outside tolerance")
	}
	want := Sign(secret, time.Unix(ts, 0), body)
	want = want[strings.Index(want, "v1=")+3:]
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("webhook signature: no matching v1 signature")
}

type webhookPayload struct {
	TenantID   string `json:"tenant_id"`
	DeliveryID string `json:"delivery_id"`
}

// enqueueWebhook queues a delivery once: the task id is the delivery id.
func (r *Runtime) enqueueWebhook(ctx context.Context, d *tenants.WebhookDelivery) error {
	payload, _ := json.Marshal(webhookPayload{TenantID: d.TenantID, DeliveryID: d.ID})
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), enqueueTimeout)
	defer cancel()
	_, err := r.client.EnqueueContext(ectx, asynq.NewTask(TypeWebhook, payload), asynq.Queue(QueueLow),
		asynq.TaskID("webhook:"+d.ID), asynq.MaxRetry(r.opts.WebhookMaxAttempts-1), asynq.Timeout(r.opts.WebhookTimeout+30*time.Second))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return nil
	}
	return err
}

// resumeWebhooks enqueues pending deliveries whose task never made it to the
// queue (Redis was down when their events were written).
// Deliveries already queued (retrying) conflict on their task id, cheaply.
func (r *Runtime) resumeWebhooks(ctx context.Context) error {
	before, after := r.now().Add(-time.Minute), ""
	for i := 0; i < maxBatchesPerRun; i++ {
		ds, err := r.opts.Store.ListStalledWebhookDeliveries(ctx, before, after, r.opts.SweepBatch)
		if err != nil {
			return err
		}
		for j := range ds {
			if err := r.enqueueWebhook(ctx, &ds[j]); err != nil {
				return err
			}
		}
		if len(ds) < r.opts.SweepBatch {
			return nil
		}
		after = ds[len(ds)-1].ID
	}
	return nil
}

// handleWebhook makes one delivery attempt.
func (r *Runtime) handleWebhook(ctx context.Context, task *asynq.Task) error {
	var p webhookPayload
	if err := json.Unmarshal(task.Payload(), &p); err != nil {
		return fmt.Errorf("%w: bad webhook payload: %v", asynq.SkipRetry, err)
	}
	st := r.opts.Store
	d, err := st.GetWebhookDelivery(ctx, p.TenantID, p.DeliveryID)
	if errors.Is(err, tenants.ErrNotFound) {
		return nil // pruned or tenant deleted
	}
	if err != nil {
		return err
	}
	if d.Status != tenants.WebhookPending {
		return nil
	}
	t, err := st.GetTenant(ctx, d.TenantID)
	if errors.Is(err, tenants.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	if !ok {
		maxRetry = r.opts.WebhookMaxAttempts - 1
	}
	last := retried >= maxRetry
	d.Attempts++

	status, attemptErr := r.deliver(ctx, t, d)
	d.LastStatus = status
	switch {
	case attemptErr == nil:
		now := r.now()
		d.Status, d.LastError, d.DeliveredAt = tenants.WebhookDelivered, "", &now
		r.metrics.webhooks.WithLabelValues("delivered").Inc()
	case errors.Is(attemptErr, errWebhookGone) || last:
		d.Status, d.LastError = tenants.WebhookDead, attemptErr.Error()
		r.metrics.webhooks.WithLabelValues("dead").Inc()
	default:
		d.LastError = attemptErr.Error()
		r.metrics.webhooks.WithLabelValues("retry").Inc()
	}
	if err := st.UpdateWebhookDelivery(ctx, d); err != nil {
		return err
	}
	switch {
	case attemptErr == nil:
		return nil
	case errors.Is(attemptErr, errWebhookGone):
		return fmt.Errorf("%w: %v", asynq.SkipRetry, attemptErr)
	default:
		return attemptErr // retried with backoff; archived after the last attempt
	}
}

// errWebhookGone: the tenant removed its webhook; the delivery is dead.
var errWebhookGone = errors.New("tenant has no audit webhook configured any more")

// deliver POSTs the signed batch; any 2xx is success.
func (r *Runtime) deliver(ctx context.Context, t *tenants.Tenant, d *tenants.WebhookDelivery) (int, error) {
	url := t.Settings.AuditWebhookURL
	if url == "" {
		return 0, errWebhookGone
	}
	secret, err := tenants.OpenTenantSecret(r.opts.Sealer, t, tenants.SecretAuditWebhookSecret)
	if err != nil {
		return 0, fmt.Errorf("webhook secret cannot be opened: %w", err)
	}
	evs, err := r.opts.Store.GetAuditEventsByID(ctx, t.ID, d.EventIDs)
	if err != nil {
		return 0, err
	}
	body, err := json.Marshal(WebhookBody{DeliveryID: d.ID, Tenant: t.Slug, TenantID: t.ID, Events: evs})
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, r.opts.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook URL: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Gatehouse-Webhook/1")
	req.Header.Set(HeaderDelivery, d.ID)
	if secret != "" {
		req.Header.Set(HeaderSignature, Sign(secret, r.now(), body))
	}
	resp, err := r.webhooks.Do(req)
	if err != nil {
		return 0, fmt.Errorf("webhook POST: %s", redactURL(err, url))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook answered HTTP %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// redactURL drops the URL (it may carry a token in its query) from a
// transport error, keeping the cause.
func redactURL(err error, url string) string {
	return strings.ReplaceAll(err.Error(), url, "<webhook url>")
}
