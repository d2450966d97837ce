package testkit

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
)

// secretShapes are values no audit event may carry (docs/SECURITY.md:
// tokens never in logs): a JWT (access tokens, ID-JAGs, assertions), a
// secret Gatehouse mints (tenants.ClientSecretPrefix, APIKeyPrefix,
// AdminTokenPrefix) or an upstream GitHub token, and a bare
// tenants.RandomToken (authorization codes, refresh tokens, session and
// link tokens: 32 random bytes, base64url).
var secretShapes = []struct {
	name string
	re   *regexp.Regexp
}{
	{"JWT", regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`)},
	{"minted secret", regexp.MustCompile(`(?:` + tenants.ClientSecretPrefix + `|` + tenants.APIKeyPrefix + `|` + tenants.AdminTokenPrefix + `|gho_|ghu_|ghr_)[A-Za-z0-9_-]{8,}`)},
	{"random token (code, refresh token, session)", regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)},
}

// Auditor records audit events in memory (and hands them to Next, when
// set) and fails the test when an event carries a token-, code- or
// secret-shaped value, or any value Watch was told about, naming the
// offending field or detail key.
type Auditor struct {
	t    testing.TB
	Next tenants.Auditor

	mu      sync.Mutex
	evs     []tenants.AuditEvent
	secrets []string
}

// NewAuditor returns an Auditor failing t.
func NewAuditor(t testing.TB) *Auditor { return &Auditor{t: t} }

// Watch adds secrets (admin tokens, client secrets, API keys, upstream
// tokens a test planted) that must never reach an audit event.
func (a *Auditor) Watch(secrets ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range secrets {
		if s != "" {
			a.secrets = append(a.secrets, s)
		}
	}
}

// Record implements tenants.Auditor.
func (a *Auditor) Record(ctx context.Context, ev tenants.AuditEvent) {
	ev.Complete(ctx)
	if leaks := a.Leaks(ev); len(leaks) > 0 {
		// Errorf, not Fatalf: Record runs on server goroutines.
		a.t.Errorf("audit event %s carries a secret: %s", ev.Action, strings.Join(leaks, "; "))
	}
	a.mu.Lock()
	a.evs = append(a.evs, ev)
	a.mu.Unlock()
	if a.Next != nil {
		a.Next.Record(ctx, ev)
	}
}

// Leaks lists the fields of ev ("details.<key>…" for details) holding a
// secret-shaped or watched value, with what it looks like.
func (a *Auditor) Leaks(ev tenants.AuditEvent) []string {
	a.mu.Lock()
	watched := append([]string(nil), a.secrets...)
	a.mu.Unlock()
	fields := map[string]string{"actor": ev.Actor, "client_id": ev.ClientID, "subject": ev.Subject,
		"user_agent": ev.UserAgent, "reason": ev.Reason, "request_id": ev.RequestID}
	if len(ev.Details) > 0 {
		raw, _ := json.Marshal(ev.Details)
		var details any
		_ = json.Unmarshal(raw, &details)
		strings_("details", details, fields)
	}
	var out []string
	for key, v := range fields {
		for _, s := range secretShapes {
			if s.re.MatchString(v) {
				out = append(out, fmt.Sprintf("%s looks like a %s", key, s.name))
			}
		}
		for _, w := range watched {
			if strings.Contains(v, w) {
				out = append(out, key+" holds a secret the test minted")
			}
		}
	}
	sort.Strings(out)
	return out
}

// strings_ collects every string in v under its dotted path.
func strings_(path string, v any, into map[string]string) {
	switch v := v.(type) {
	case string:
		into[path] = v
	case map[string]any:
		for k, e := range v {
			strings_(path+"."+k, e, into)
		}
	case []any:
		for i, e := range v {
			strings_(fmt.Sprintf("%s[%d]", path, i), e, into)
		}
	}
}

// Find returns the recorded events with action.
func (a *Auditor) Find(action string) []tenants.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []tenants.AuditEvent
	for _, e := range a.evs {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// Last returns the last event with action, nil when there is none.
func (a *Auditor) Last(action string) *tenants.AuditEvent {
	evs := a.Find(action)
	if len(evs) == 0 {
		return nil
	}
	return &evs[len(evs)-1]
}

// All returns every recorded event.
func (a *Auditor) All() []tenants.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]tenants.AuditEvent(nil), a.evs...)
}
