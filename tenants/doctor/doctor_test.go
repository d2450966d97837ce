package doctor_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/doctor"
)

// t0 is 12:03:04 UTC, the time in docs/RULES.md §8's example sentence.
var t0 = time.Date(2026, 3, 1, 12, 3, 4, 0, time.UTC)

type events struct {
	list []tenants.AuditEvent
}

type opt func(*tenants.AuditEvent)

func ua(s string) opt               { return func(e *tenants.AuditEvent) { e.UserAgent = s } }
func ip(s string) opt               { return func(e *tenants.AuditEvent) { e.IP = s } }
func reason(s string) opt           { return func(e *tenants.AuditEvent) { e.Reason = s } }
func failed() opt                   { return func(e *tenants.AuditEvent) { e.Outcome = tenants.OutcomeFailure } }
func details(d tenants.JSONMap) opt { return func(e *tenants.AuditEvent) { e.Details = d } }

func (b *events) add(at time.Duration, action, client string, opts ...opt) {
	ev := tenants.AuditEvent{ID: fmt.Sprintf("ev%04d", len(b.list)), TenantID: "t1", Time: t0.Add(at), Action: action,
		ClientID: client, Outcome: tenants.OutcomeSuccess}
	for _, o := range opts {
		o(&ev)
	}
	b.list = append(b.list, ev)
}

// flow adds a complete OAuth flow for client ending with token.issued at t0.
func (b *events) flow(client string, opts ...opt) {
	b.add(-50*time.Second, tenants.ActClientRegistered, client, opts...)
	b.add(-40*time.Second, tenants.ActAuthorizeStarted, client)
	b.add(-30*time.Second, tenants.ActLoginSucceeded, client)
	b.add(-20*time.Second, tenants.ActConsentGranted, client)
	b.add(-10*time.Second, tenants.ActCodeIssued, client)
	b.add(0, tenants.ActTokenIssued, client, opts...)
}

var tenant = &tenants.Tenant{ID: "t1", Slug: "acme", UpstreamMCPURL: "https://mcp.acme.test/mcp"}

func clients(ids ...string) []tenants.Client {
	var out []tenants.Client
	for i := 0; i < len(ids); i += 2 {
		out = append(out, tenants.Client{TenantID: "t1", ID: ids[i], Name: ids[i+1], Kind: tenants.ClientDCR, CreatedAt: t0.Add(-time.Minute)})
	}
	return out
}

func diagnose(b *events, now time.Duration, cs []tenants.Client) doctor.Report {
	return doctor.Diagnose(doctor.Input{Tenant: tenant, Now: t0.Add(now), Events: b.list, Clients: cs})
}

func only(t *testing.T, r doctor.Report, id string) doctor.ClientReport {
	t.Helper()
	for _, c := range r.Clients {
		if c.ClientID == id {
			return c
		}
	}
	t.Fatalf("no report for client %s in %+v", id, r.Clients)
	return doctor.ClientReport{}
}

func wantProblem(t *testing.T, c doctor.ClientReport, code string) *doctor.Problem {
	t.Helper()
	if c.Problem == nil {
		t.Fatalf("client %s: no problem, status %s, want %s; timeline %+v", c.ClientID, c.Status, code, c.Timeline)
	}
	if c.Problem.Code != code {
		t.Fatalf("client %s: problem %s (%s), want %s", c.ClientID, c.Problem.Code, c.Problem.Detail, code)
	}
	if c.Status != doctor.StatusFailing {
		t.Errorf("status %s, want failing", c.Status)
	}
	if c.Problem.Fix == "" || c.Problem.Title == "" || c.Problem.Detail == "" {
		t.Errorf("problem lacks words: %+v", c.Problem)
	}
	return c.Problem
}

func stepState(c doctor.ClientReport, step string) string {
	for _, s := range c.Steps {
		if s.Step == step {
			return s.State
		}
	}
	return "?"
}

func TestHealthyConnectionIsOK(t *testing.T) {
	var b events
	b.add(-60*time.Second, tenants.ActMCPDenied, "", reason(tenants.ReasonNoHeader), ua("Claude-User")) // discovery probe
	b.flow("c1", ua("Claude-User"))
	b.add(5*time.Second, tenants.ActMCPToolCalled, "c1", ua("Claude-User"), details(tenants.JSONMap{tenants.DetailTool: "echo"}))
	r := diagnose(&b, time.Hour, clients("c1", "Claude"))
	c := only(t, r, "c1")
	if c.Status != doctor.StatusOK || c.Problem != nil {
		t.Fatalf("status %s problem %+v", c.Status, c.Problem)
	}
	for _, s := range c.Steps {
		if s.State != doctor.StateDone {
			t.Errorf("step %s is %s, want done", s.Step, s.State)
		}
	}
	if len(c.Steps) != 7 || c.Steps[0].Step != doctor.StepRegister || c.Steps[6].Step != doctor.StepMCP {
		t.Errorf("funnel steps out of order: %+v", c.Steps)
	}
	if r.Status != doctor.StatusOK {
		t.Errorf("report status %s", r.Status)
	}
	// The probe before any token is unattributed and explained as normal.
	if len(r.Unattributed) != 1 || r.Unattributed[0].Count != 1 || !strings.Contains(r.Unattributed[0].Note, "normal") {
		t.Errorf("unattributed = %+v", r.Unattributed)
	}
	if got := c.Timeline[len(c.Timeline)-1].Label; got != "Tool called: echo" {
		t.Errorf("last label %q", got)
	}
}

// The failure of modelcontextprotocol/modelcontextprotocol#2157 (docs/RULES.md §8):
// OAuth completes, then requests arrive without Authorization. They carry no
// client id, so the doctor links them by time window and user agent.
func TestTokenIssuedThenRequestsWithoutAuthorizationHeader(t *testing.T) {
	var b events
	b.add(-60*time.Second, tenants.ActMCPDenied, "", reason(tenants.ReasonNoHeader), ua("Claude-User"), ip("203.0.113.5"))
	b.flow("c1", ua("Claude-User"), ip("203.0.113.5"))
	for i := 1; i <= 3; i++ {
		b.add(time.Duration(i)*time.Second, tenants.ActMCPDenied, "", reason(tenants.ReasonNoHeader), ua("Claude-User"), ip("203.0.113.5"))
	}
	r := diagnose(&b, 10*time.Minute, clients("c1", "Claude"))
	c := only(t, r, "c1")
	p := wantProblem(t, c, doctor.ProblemNoAuthHeader)
	want := "token issued 12:03:04 UTC to client 'Claude'; 3 requests from the same client since then carried no Authorization header (User-Agent: Claude-User)"
	if !strings.Contains(p.Detail, want) {
		t.Errorf("detail %q\nwant it to contain %q", p.Detail, want)
	}
	if p.Count != 3 || len(p.UserAgents) != 1 || p.UserAgents[0] != "Claude-User" {
		t.Errorf("count %d uas %v", p.Count, p.UserAgents)
	}
	if !strings.Contains(p.Attribution, "user agent") {
		t.Errorf("attribution %q", p.Attribution)
	}
	if stepState(c, doctor.StepToken) != doctor.StateDone || stepState(c, doctor.StepMCP) != doctor.StateFailed {
		t.Errorf("steps %+v", c.Steps)
	}
	if r.Status != "failing" || !strings.Contains(r.Summary, "no Authorization header") {
		t.Errorf("report %s: %s", r.Status, r.Summary)
	}
	// Consecutive identical refusals collapse into one timeline entry.
	last := c.Timeline[len(c.Timeline)-1]
	if last.Count != 3 || !last.Attributed || last.LastTime == nil {
		t.Errorf("last timeline entry %+v", last)
	}
}

func TestNoHeaderAttributionPrefersMatchingUserAgent(t *testing.T) {
	var b events
	b.add(-50*time.Second, tenants.ActTokenIssued, "old", ua("Claude-User"))
	b.add(-5*time.Second, tenants.ActTokenIssued, "new", ua("Cursor/1.0"))
	b.add(-4*time.Second, tenants.ActMCPToolCalled, "new", ua("Cursor/1.0"))
	b.add(time.Second, tenants.ActMCPDenied, "", reason(tenants.ReasonNoHeader), ua("Claude-User"))
	r := diagnose(&b, time.Minute, clients("old", "Claude", "new", "Cursor"))
	wantProblem(t, only(t, r, "old"), doctor.ProblemNoAuthHeader)
	if c := only(t, r, "new"); c.Status != doctor.StatusOK {
		t.Errorf("new client %s %+v", c.Status, c.Problem)
	}
	if r.Clients[0].ClientID != "old" {
		t.Errorf("failing client not listed first: %s", r.Clients[0].ClientID)
	}
}

// The self-check probes the MCP URL without a token; that is not a client failing.
func TestSelfCheckRequestsAreIgnored(t *testing.T) {
	var b events
	b.flow("c1")
	b.add(time.Second, tenants.ActMCPToolCalled, "c1")
	b.add(2*time.Second, tenants.ActMCPDenied, "", reason(tenants.ReasonNoHeader), ua(doctor.SelfCheckUserAgent))
	r := diagnose(&b, time.Minute, clients("c1", "Claude"))
	if c := only(t, r, "c1"); c.Status != doctor.StatusOK {
		t.Fatalf("status %s problem %+v", c.Status, c.Problem)
	}
	if len(r.Unattributed) != 0 {
		t.Errorf("unattributed %+v", r.Unattributed)
	}
}

// docs/RULES.md §10: "token issued, then nothing" is most often edge bot-blocking
// of Claude-User.
func TestTokenIssuedNoRequestEverArrived(t *testing.T) {
	var b events
	b.flow("c1", ua("Claude-User"))
	all := &tenants.Tenant{ID: "t1", Slug: "acme", Settings: tenants.Settings{AuditMCPCalls: tenants.AuditMCPAll}}
	r := doctor.Diagnose(doctor.Input{Tenant: all, Now: t0.Add(10 * time.Minute), Events: b.list, Clients: clients("c1", "Claude")})
	c := only(t, r, "c1")
	p := wantProblem(t, c, doctor.ProblemNoMCPRequest)
	if !strings.Contains(p.Fix, "Claude-User") || !strings.Contains(p.Fix, "bot") {
		t.Errorf("fix does not name edge bot-blocking of Claude-User: %q", p.Fix)
	}
	if !strings.Contains(p.Detail, "token issued 12:03:04 UTC to client 'Claude'") {
		t.Errorf("detail %q", p.Detail)
	}
	// With the default audit level (tool calls only) an idle client looks
	// the same: the problem is shown, the status is unverified.
	c = only(t, diagnose(&b, 10*time.Minute, clients("c1", "Claude")), "c1")
	if c.Status != doctor.StatusUnverified || c.Problem == nil || c.Problem.Code != doctor.ProblemNoMCPRequest ||
		!strings.Contains(c.Problem.Fix, "Claude-User") {
		t.Errorf("default audit level: %s %+v", c.Status, c.Problem)
	}
	// Right after the token, nothing is wrong yet.
	if c := only(t, diagnose(&b, 10*time.Second, clients("c1", "Claude")), "c1"); c.Status != doctor.StatusInProgress || c.Problem != nil {
		t.Errorf("fresh token: %s %+v", c.Status, c.Problem)
	}
}

// With audit_mcp_calls=tools a tools/list leaves no event; a grant used
// after the token proves traffic arrived.
func TestGrantUseCountsAsTraffic(t *testing.T) {
	var b events
	b.flow("c1")
	used := t0.Add(3 * time.Second)
	r := doctor.Diagnose(doctor.Input{Tenant: tenant, Now: t0.Add(time.Hour), Events: b.list, Clients: clients("c1", "Claude"),
		Grants: []tenants.Grant{{ID: "g1", ClientID: "c1", LastUsedAt: &used}}})
	if c := only(t, r, "c1"); c.Status != doctor.StatusOK {
		t.Fatalf("status %s %+v", c.Status, c.Problem)
	}
}

func TestRefusedTokens(t *testing.T) {
	cases := []struct {
		reason, code, inDetail string
	}{
		{tenants.ReasonWrongAud, doctor.ProblemWrongAudience, "audience"},
		{tenants.ReasonExpired, doctor.ProblemExpired, "expired"},
		{tenants.ReasonRevoked, doctor.ProblemRevoked, "revoked"},
		{tenants.ReasonUnknownKey, doctor.ProblemUnknownKey, "key"},
		{tenants.ReasonBadSignature, doctor.ProblemBadToken, "bad signature"},
		{tenants.ReasonMalformed, doctor.ProblemBadToken, "malformed"},
		{tenants.ReasonScope, doctor.ProblemScope, "scope 'admin' (tool 'delete')"},
	}
	for _, tc := range cases {
		t.Run(tc.reason, func(t *testing.T) {
			var b events
			b.flow("c1", ua("VSCode"))
			b.add(time.Second, tenants.ActMCPToolCalled, "c1")
			// A token that verifies far enough carries its client id; one
			// that does not (bad signature) is linked by user agent.
			client := "c1"
			if tc.reason == tenants.ReasonBadSignature || tc.reason == tenants.ReasonMalformed || tc.reason == tenants.ReasonUnknownKey {
				client = ""
			}
			for i := 0; i < 2; i++ {
				b.add(time.Hour+time.Duration(i)*time.Second, tenants.ActMCPDenied, client, reason(tc.reason), ua("VSCode"),
					details(tenants.JSONMap{tenants.DetailRequiredScope: "admin", tenants.DetailTools: []any{"delete"}}))
			}
			c := only(t, diagnose(&b, 2*time.Hour, clients("c1", "VS Code")), "c1")
			p := wantProblem(t, c, tc.code)
			if !strings.Contains(p.Detail, tc.inDetail) || p.Count != 2 {
				t.Errorf("detail %q (count %d) lacks %q", p.Detail, p.Count, tc.inDetail)
			}
			if !strings.Contains(p.Detail, "The last successful request was at 12:03:05 UTC") {
				t.Errorf("detail %q does not say when it last worked", p.Detail)
			}
		})
	}
}

func TestRevokedNamesTheRevocation(t *testing.T) {
	var b events
	b.flow("c1")
	b.add(time.Minute, tenants.ActGrantRevoked, "c1", reason("admin"))
	b.add(2*time.Minute, tenants.ActMCPDenied, "c1", reason(tenants.ReasonRevoked))
	p := wantProblem(t, only(t, diagnose(&b, time.Hour, clients("c1", "Claude")), "c1"), doctor.ProblemRevoked)
	if !strings.Contains(p.Detail, "revoked at 12:04:04 UTC (admin)") {
		t.Errorf("detail %q", p.Detail)
	}
}

func TestRegisteredButAuthorizeNeverStarted(t *testing.T) {
	var b events
	b.add(0, tenants.ActClientRegistered, "c1")
	c := only(t, diagnose(&b, 10*time.Minute, clients("c1", "ChatGPT")), "c1")
	p := wantProblem(t, c, doctor.ProblemAuthorizeNotStarted)
	if !strings.Contains(p.Detail, "'ChatGPT' registered at 12:03:04 UTC") {
		t.Errorf("detail %q", p.Detail)
	}
	if stepState(c, doctor.StepRegister) != doctor.StateDone || stepState(c, doctor.StepAuthorize) != doctor.StateFailed {
		t.Errorf("steps %+v", c.Steps)
	}
	if c := only(t, diagnose(&b, 30*time.Second, clients("c1", "ChatGPT")), "c1"); c.Status != doctor.StatusInProgress {
		t.Errorf("fresh registration: %s", c.Status)
	}
}

func TestUpstreamLoginFailedShowsIdPError(t *testing.T) {
	var b events
	b.add(0, tenants.ActClientRegistered, "c1")
	b.add(time.Second, tenants.ActAuthorizeStarted, "c1")
	b.add(20*time.Second, tenants.ActLoginFailed, "c1", failed(), reason("idp_error"),
		details(tenants.JSONMap{"idp": "github", "error": "redirect_uri_mismatch", "error_description": "The redirect_uri MUST match the registered callback URL for this application."}))
	c := only(t, diagnose(&b, time.Hour, clients("c1", "Claude")), "c1")
	p := wantProblem(t, c, doctor.ProblemLoginFailed)
	if !strings.Contains(p.Detail, "redirect_uri_mismatch") || !strings.Contains(p.Detail, "MUST match the registered callback") {
		t.Errorf("detail lacks the IdP's error: %q", p.Detail)
	}
	if !strings.Contains(p.Fix, "/oauth/callback") {
		t.Errorf("fix %q", p.Fix)
	}
}

func TestLatestAttemptWins(t *testing.T) {
	var b events
	b.add(-10*time.Minute, tenants.ActAuthorizeStarted, "c1")
	b.add(-9*time.Minute, tenants.ActLoginFailed, "c1", failed(), reason("user not in allowed domains"))
	b.flow("c1")
	b.add(time.Second, tenants.ActMCPToolCalled, "c1")
	if c := only(t, diagnose(&b, time.Hour, clients("c1", "Claude")), "c1"); c.Status != doctor.StatusOK {
		t.Fatalf("status %s %+v", c.Status, c.Problem)
	}
}

func TestUpstreamMCPServerUnreachable(t *testing.T) {
	var b events
	b.flow("c1")
	b.add(time.Second, tenants.ActUpstreamFailed, "c1", failed(), reason("dial tcp 10.0.0.1:443: connect: connection refused"))
	b.add(2*time.Second, tenants.ActUpstreamFailed, "c1", failed(), reason("dial tcp 10.0.0.1:443: connect: connection refused"))
	p := wantProblem(t, only(t, diagnose(&b, time.Hour, clients("c1", "Claude")), "c1"), doctor.ProblemUpstreamFailed)
	if !strings.Contains(p.Detail, "https://mcp.acme.test/mcp") || !strings.Contains(p.Detail, "connection refused") || p.Count != 2 {
		t.Errorf("detail %q count %d", p.Detail, p.Count)
	}
}

func TestRecoveredFailureIsANote(t *testing.T) {
	var b events
	b.flow("c1")
	b.add(time.Hour, tenants.ActMCPDenied, "c1", reason(tenants.ReasonExpired))
	b.add(time.Hour+time.Second, tenants.ActTokenRefreshed, "c1")
	b.add(time.Hour+2*time.Second, tenants.ActMCPToolCalled, "c1")
	c := only(t, diagnose(&b, 2*time.Hour, clients("c1", "Claude")), "c1")
	if c.Status != doctor.StatusOK || c.Problem != nil {
		t.Fatalf("status %s %+v", c.Status, c.Problem)
	}
	if len(c.Notes) != 1 || !strings.Contains(c.Notes[0], "expired") {
		t.Errorf("notes %q", c.Notes)
	}
}

func TestConsentDeniedAndCodeNotExchanged(t *testing.T) {
	var b events
	b.add(0, tenants.ActAuthorizeStarted, "c1")
	b.add(time.Second, tenants.ActLoginSucceeded, "c1")
	b.add(2*time.Second, tenants.ActConsentDenied, "c1")
	b.add(0, tenants.ActAuthorizeStarted, "c2")
	b.add(time.Second, tenants.ActLoginSucceeded, "c2")
	b.add(2*time.Second, tenants.ActCodeIssued, "c2")
	b.add(0, tenants.ActAuthorizeStarted, "c3")
	b.add(time.Second, tenants.ActLoginSucceeded, "c3")
	b.add(2*time.Second, tenants.ActCodeIssued, "c3")
	b.add(3*time.Second, tenants.ActTokenIssued, "c3", failed(), reason("invalid_grant"), details(tenants.JSONMap{"error_description": "PKCE verifier does not match"}))
	r := diagnose(&b, time.Hour, clients("c1", "A", "c2", "B", "c3", "C"))
	wantProblem(t, only(t, r, "c1"), doctor.ProblemConsentDenied)
	c2 := only(t, r, "c2")
	wantProblem(t, c2, doctor.ProblemTokenNotIssued)
	if stepState(c2, doctor.StepConsent) != doctor.StateSkipped {
		t.Errorf("consent without an event should be skipped: %+v", c2.Steps)
	}
	p := wantProblem(t, only(t, r, "c3"), doctor.ProblemTokenNotIssued)
	if !strings.Contains(p.Detail, "invalid_grant: PKCE verifier does not match") {
		t.Errorf("detail %q", p.Detail)
	}
}

func TestLoginNotCompleted(t *testing.T) {
	var b events
	b.add(0, tenants.ActAuthorizeStarted, "c1")
	wantProblem(t, only(t, diagnose(&b, time.Hour, clients("c1", "A")), "c1"), doctor.ProblemLoginNotCompleted)
}

func TestRefreshReuseRevokesGrant(t *testing.T) {
	var b events
	b.flow("c1")
	b.add(time.Second, tenants.ActMCPToolCalled, "c1")
	b.add(time.Hour, tenants.ActRefreshReused, "c1", failed())
	b.add(time.Hour, tenants.ActGrantRevoked, "c1", reason("refresh_reused"))
	p := wantProblem(t, only(t, diagnose(&b, 2*time.Hour, clients("c1", "Claude")), "c1"), doctor.ProblemRefreshReused)
	if !strings.Contains(p.Fix, "refresh_grace_seconds") {
		t.Errorf("fix %q", p.Fix)
	}
}

func TestNoClients(t *testing.T) {
	r := doctor.Diagnose(doctor.Input{Tenant: tenant, Now: t0})
	if r.Status != "no_clients" || r.Clients == nil || r.Unattributed == nil {
		t.Errorf("%+v", r)
	}
}

// A client the tenant knows but that did nothing in the window is idle, not failing.
func TestIdleClient(t *testing.T) {
	cs := clients("c1", "Old")
	cs[0].CreatedAt = t0.Add(-30 * 24 * time.Hour)
	c := only(t, doctor.Diagnose(doctor.Input{Tenant: tenant, Now: t0, Clients: cs}), "c1")
	if c.Status != doctor.StatusIdle || c.Problem != nil {
		t.Errorf("%s %+v", c.Status, c.Problem)
	}
}

// A second client's first, unauthenticated request (its discovery probe)
// arrives after the first client got its token: it starts a new connection
// and is not the first client failing to send its token.
func TestDiscoveryProbeOfANewClientIsNotAFailure(t *testing.T) {
	var b events
	b.add(-60*time.Second, tenants.ActMCPDenied, "", reason(tenants.ReasonNoHeader), ua("ts-sdk"))
	b.flow("c1", ua("ts-sdk"))
	b.add(time.Second, tenants.ActMCPToolCalled, "c1", ua("ts-sdk"))
	b.add(5*time.Second, tenants.ActMCPDenied, "", reason(tenants.ReasonNoHeader), ua("ts-sdk"))
	b.add(6*time.Second, tenants.ActClientRegistered, "c2", ua("ts-sdk"))
	b.add(7*time.Second, tenants.ActAuthorizeStarted, "c2")
	b.add(8*time.Second, tenants.ActCodeIssued, "c2")
	b.add(9*time.Second, tenants.ActTokenIssued, "c2", ua("ts-sdk"))
	b.add(10*time.Second, tenants.ActMCPToolCalled, "c2", ua("ts-sdk"))
	r := diagnose(&b, time.Hour, clients("c1", "TS", "c2", "TS"))
	for _, c := range r.Clients {
		if c.Status != doctor.StatusOK {
			t.Errorf("client %s: %s %+v", c.ClientID, c.Status, c.Problem)
		}
	}
	if len(r.Unattributed) != 1 || r.Unattributed[0].Count != 2 {
		t.Errorf("unattributed %+v", r.Unattributed)
	}
	// The same request followed by the same client authorizing again is
	// still that client failing to send its token.
	var l events
	l.flow("c1", ua("Claude-User"))
	l.add(time.Second, tenants.ActMCPDenied, "", reason(tenants.ReasonNoHeader), ua("Claude-User"))
	l.add(2*time.Second, tenants.ActAuthorizeStarted, "c1")
	l.add(3*time.Second, tenants.ActCodeIssued, "c1")
	l.add(4*time.Second, tenants.ActTokenIssued, "c1", ua("Claude-User"))
	l.add(5*time.Second, tenants.ActMCPDenied, "", reason(tenants.ReasonNoHeader), ua("Claude-User"))
	wantProblem(t, only(t, diagnose(&l, time.Hour, clients("c1", "Claude")), "c1"), doctor.ProblemNoAuthHeader)
}

func TestAuthorizeRefusedAndCIMDName(t *testing.T) {
	var b events
	id := "https://claude.ai/oauth/mcp-oauth-client-metadata"
	b.add(0, tenants.ActAuthorizeStarted, id, failed(), reason("invalid_request"), details(tenants.JSONMap{"error_description": "redirect_uri is not registered"}))
	c := only(t, diagnose(&b, time.Hour, nil), id)
	p := wantProblem(t, c, doctor.ProblemAuthorizeRefused)
	if c.ClientName != "claude.ai" || !strings.Contains(p.Detail, "redirect_uri is not registered") {
		t.Errorf("name %q detail %q", c.ClientName, p.Detail)
	}
}

func TestDeletedClientIsIdle(t *testing.T) {
	var b events
	b.add(0, tenants.ActClientRegistered, "c1")
	b.add(time.Minute, tenants.ActClientDeleted, "c1")
	c := only(t, diagnose(&b, time.Hour, nil), "c1")
	if c.Status != doctor.StatusIdle || c.Problem != nil || len(c.Notes) != 1 {
		t.Errorf("%s %+v %v", c.Status, c.Problem, c.Notes)
	}
}
