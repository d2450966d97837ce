package testkit

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/tenants"
)

// The auditor catches a secret planted in an audit event — by shape (a JWT,
// a minted secret, a bare random token) or because the test told it the
// value — and names the offending key; clean events pass.
func TestAuditorCatchesPlantedSecrets(t *testing.T) {
	const watched = "upstream-token-the-test-planted"
	for _, tc := range []struct {
		name string
		ev   tenants.AuditEvent
		key  string // "" for a clean event
	}{
		{"clean", tenants.AuditEvent{Action: tenants.ActMCPDenied, Reason: tenants.ReasonRevoked, ClientID: "dcr_0123456789abcdef",
			Details: tenants.JSONMap{tenants.DetailTool: "whoami", "grant": tenants.RandomID()}}, ""},
		{"access token in a detail", tenants.AuditEvent{Action: tenants.ActMCPDenied,
			Details: tenants.JSONMap{"authorization": "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"}}, "details.authorization"},
		{"client secret nested in a list", tenants.AuditEvent{Action: tenants.ActClientRegistered,
			Details: tenants.JSONMap{"request": map[string]any{"secrets": []any{"ok", tenants.ClientSecretPrefix + tenants.RandomToken()}}}}, "details.request.secrets[1]"},
		{"API key as the actor", tenants.AuditEvent{Action: tenants.ActMCPDenied, Actor: tenants.APIKeyPrefix + tenants.RandomToken()}, "actor"},
		{"authorization code as the reason", tenants.AuditEvent{Action: tenants.ActMCPDenied, Reason: tenants.RandomToken()}, "reason"},
		{"a value the test minted", tenants.AuditEvent{Action: tenants.ActMCPDenied, Details: tenants.JSONMap{"note": "got " + watched}}, "details.note"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := NewAuditor(t)
			a.Watch(watched)
			leaks := a.Leaks(tc.ev)
			if tc.key == "" {
				if len(leaks) != 0 {
					t.Fatalf("a clean event was flagged: %v", leaks)
				}
				a.Record(context.Background(), tc.ev) // must not fail the test
				return
			}
			if len(leaks) == 0 || !strings.HasPrefix(leaks[0], tc.key+" ") {
				t.Fatalf("leaks %v, want one naming %s", leaks, tc.key)
			}
			// Record fails the test it was built with.
			rec := &recordingTB{TB: t}
			(&Auditor{t: rec, secrets: []string{watched}}).Record(context.Background(), tc.ev)
			if !strings.Contains(rec.failed, tc.key) {
				t.Fatalf("Record did not fail the test naming %s: %q", tc.key, rec.failed)
			}
		})
	}
}

// recordingTB captures Errorf instead of failing.
type recordingTB struct {
	testing.TB
	failed string
}

func (r *recordingTB) Errorf(format string, args ...any) { r.failed += fmt.Sprintf(format, args...) }
