package doctor

import (
	"strings"

	"github.com/gatehouse/gatehouse/tenants"
)

// The doctor's vocabulary: every status, step and state code it reports,
// each with the words a customer reads (the console's pills, issue 11: words,
// not codes), and the plain-words label of each audit event. The problem
// codes have their own table (problems.go).

// Client and report statuses.
const (
	StatusOK         = "ok"          // the latest connection reached the MCP server
	StatusFailing    = "failing"     // a step failed; see Problem
	StatusInProgress = "in_progress" // a flow is under way and nothing failed yet
	StatusIdle       = "idle"        // registered, nothing else seen in the window
	// StatusUnverified: a token was issued and nothing since proves or
	// disproves MCP traffic (audit_mcp_calls records only tool calls by
	// default); Problem carries the likely cause should the client complain.
	StatusUnverified = "unverified"
	StatusNoClients  = "no_clients" // report only: no client at all
)

// statuses: the pill of each status and its rank (failing clients are
// listed first, idle ones last).
var statuses = map[string]struct {
	pill string
	rank int
}{
	StatusFailing:    {"Not working", 0},
	StatusUnverified: {"Not confirmed yet", 1},
	StatusInProgress: {"Connecting", 2},
	StatusOK:         {"Working", 3},
	StatusIdle:       {"Inactive", 4},
	StatusNoClients:  {"No clients yet", 5},
}

// StatusLabel says a status in words.
func StatusLabel(status string) string { return statuses[status].pill }

// Funnel step names, in order (steps).
const (
	StepRegister  = "register"
	StepAuthorize = "authorize"
	StepLogin     = "login"
	StepConsent   = "consent"
	StepCode      = "code"
	StepToken     = "token"
	StepMCP       = "mcp"
)

// steps is the funnel, in order, with each step's label.
var steps = []struct{ step, label string }{
	{StepRegister, "Client registered"},
	{StepAuthorize, "Authorization started"},
	{StepLogin, "User logged in"},
	{StepConsent, "Consent"},
	{StepCode, "Authorization code issued"},
	{StepToken, "Access token issued"},
	{StepMCP, "MCP requests reach the server"},
}

// StepLabel names a funnel step in words.
func StepLabel(step string) string {
	for _, s := range steps {
		if s.step == step {
			return s.label
		}
	}
	return step
}

// Step states.
const (
	StateDone    = "done"
	StateFailed  = "failed"
	StatePending = "pending" // not reached (yet)
	StateSkipped = "skipped" // not needed (e.g. consent skipped, CIMD has no registration)
)

// stateLabels: the pill of each step state.
var stateLabels = map[string]string{
	StateDone:    "Done",
	StateFailed:  "Failed",
	StatePending: "Not reached",
	StateSkipped: "Not needed",
}

// StateLabel says a step state in words.
func StateLabel(state string) string { return stateLabels[state] }

// ReasonWords says what an mcp.denied reason means, completing "the request …".
var ReasonWords = map[string]string{
	tenants.ReasonNoHeader:     "carried no Authorization header",
	tenants.ReasonMalformed:    "carried a malformed token",
	tenants.ReasonBadSignature: "carried a token with a bad signature",
	tenants.ReasonWrongAud:     "carried a token issued for another resource (wrong audience)",
	tenants.ReasonExpired:      "carried an expired token",
	tenants.ReasonRevoked:      "carried a revoked token",
	tenants.ReasonUnknownKey:   "carried a token signed with an unknown key",
	tenants.ReasonScope:        "lacked a scope the tool requires",
	tenants.ReasonDPoP:         "lacked a valid DPoP proof for its DPoP-bound token (or sent it as Bearer)",
}

// actionLabels: the label of each audit action a client's timeline shows,
// when it succeeded and when it failed ("" = the same words).
var actionLabels = map[string]struct{ ok, failed string }{
	tenants.ActClientRegistered: {"Client registered", ""},
	tenants.ActClientExpired:    {"Client expired (idle)", ""},
	tenants.ActClientDeleted:    {"Client deleted", ""},
	tenants.ActAuthorizeStarted: {"Authorization started", "Authorization request refused"},
	tenants.ActLoginSucceeded:   {"User logged in at the identity provider", ""},
	tenants.ActLoginFailed:      {"Login at the identity provider failed", ""},
	tenants.ActConsentGranted:   {"Consent granted", ""},
	tenants.ActConsentDenied:    {"Consent denied", ""},
	tenants.ActCodeIssued:       {"Authorization code issued", ""},
	tenants.ActTokenIssued:      {"Access token issued", "Token request refused"},
	tenants.ActTokenRefreshed:   {"Token refreshed", "Token refresh refused"},
	tenants.ActRefreshReused:    {"An old refresh token was reused (the grant was revoked)", ""},
	tenants.ActTokenRevoked:     {"Token revoked", ""},
	tenants.ActGrantRevoked:     {"Grant revoked", ""},
	tenants.ActKeyRotated:       {"Signing key rotated", ""},
	tenants.ActMCPDenied:        {"MCP request refused", ""},
	tenants.ActMCPToolCalled:    {"Tool called", ""},
	tenants.ActMCPRequest:       {"MCP request forwarded", ""},
	tenants.ActUpstreamFailed:   {"Upstream MCP server failed", ""},
}

// Label is the plain-words label of an event: its action's label, with
// what the event's details add (the refusal reason, the tool, the methods,
// the enterprise IdP).
func Label(ev tenants.AuditEvent) string {
	l, ok := actionLabels[ev.Action]
	if !ok {
		return ev.Action
	}
	switch ev.Action {
	case tenants.ActTokenIssued:
		if e := enterpriseLabel(ev); e != "" {
			return e
		}
	case tenants.ActMCPDenied:
		if w, ok := ReasonWords[ev.Reason]; ok {
			return l.ok + ": it " + w
		}
	case tenants.ActMCPToolCalled:
		if name := detailString(ev, tenants.DetailTool); name != "" {
			return l.ok + ": " + name
		}
	case tenants.ActMCPRequest:
		if m := detailList(ev, tenants.DetailMCPMethods); len(m) > 0 {
			return l.ok + ": " + strings.Join(m, ", ")
		}
	}
	if ev.Outcome == tenants.OutcomeFailure && l.failed != "" {
		return l.failed
	}
	return l.ok
}
