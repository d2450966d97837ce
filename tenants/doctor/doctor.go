// Package doctor is the connection doctor (docs/RULES.md §8): from a tenant's audit
// events it rebuilds, per OAuth client, the timeline of a connection
// (client.registered → authorize.started → login → consent → code.issued →
// token.issued → token.refreshed → mcp.*) and names the first step that went
// wrong in plain words, with a suggested fix. It also self-checks the tenant's
// public URLs the way clients discover them (selfcheck.go).
//
// Diagnose is a pure function of its input, so every diagnosis is unit-tested
// with synthetic events; Load reads that input from the store.
package doctor

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// SelfCheckUserAgent is sent by the self-check. Events it causes (its
// unauthenticated probe of the MCP URL is an mcp.denied no_header) are left
// out of the diagnosis.
const SelfCheckUserAgent = "Gatehouse-Doctor/1 (self-check)"

// Problem codes: stable, for the console and for tests.
const (
	ProblemAuthorizeNotStarted = "authorize_not_started"
	ProblemAuthorizeRefused    = "authorize_refused"
	ProblemLoginFailed         = "login_failed"
	ProblemLoginNotCompleted   = "login_not_completed"
	ProblemConsentDenied       = "consent_denied"
	ProblemCodeNotIssued       = "code_not_issued"
	ProblemTokenNotIssued      = "token_not_issued"
	ProblemNoAuthHeader        = "no_authorization_header"
	ProblemNoMCPRequest        = "no_mcp_request"
	ProblemWrongAudience       = "wrong_audience"
	ProblemExpired             = "token_expired"
	ProblemRevoked             = "token_revoked"
	ProblemUnknownKey          = "unknown_key"
	ProblemBadToken            = "bad_token" // malformed or bad signature
	ProblemScope               = "insufficient_scope"
	ProblemUpstreamFailed      = "upstream_unreachable"
	ProblemRefreshReused       = "refresh_token_reused"
	ProblemEnterpriseRefused   = "enterprise_id_jag_refused"
)

// Client statuses.
const (
	StatusOK         = "ok"          // the latest connection reached the MCP server
	StatusFailing    = "failing"     // a step failed; see Problem
	StatusInProgress = "in_progress" // a flow is under way and nothing failed yet
	StatusIdle       = "idle"        // registered, nothing else seen in the window
	// StatusUnverified: a token was issued and nothing since proves or
	// disproves MCP traffic (audit_mcp_calls records only tool calls by
	// default); Problem carries the likely cause should the client complain.
	StatusUnverified = "unverified"
)

// Funnel step names, in order.
const (
	StepRegister  = "register"
	StepAuthorize = "authorize"
	StepLogin     = "login"
	StepConsent   = "consent"
	StepCode      = "code"
	StepToken     = "token"
	StepMCP       = "mcp"
)

// Step states.
const (
	StateDone    = "done"
	StateFailed  = "failed"
	StatePending = "pending" // not reached (yet)
	StateSkipped = "skipped" // not needed (e.g. consent skipped, CIMD has no registration)
)

// Input is what Diagnose reads.
type Input struct {
	Tenant  *tenants.Tenant
	Now     time.Time
	Events  []tenants.AuditEvent // any order
	Clients []tenants.Client
	// Grants (optional): a grant used after a token was issued proves MCP
	// requests arrived even when audit_mcp_calls records none.
	Grants []tenants.Grant
	// Patience is how long after a step the next one may still be pending
	// before it counts as failed (default 2 minutes).
	Patience time.Duration
	// AttributionWindow bounds how long after a token issuance an
	// unattributed MCP request is linked to that client (default 24 h).
	AttributionWindow time.Duration
}

// Report is the doctor's answer for one tenant. Its JSON is what
// GET /api/v1/tenants/{slug}/doctor returns and the console renders.
type Report struct {
	Tenant      string    `json:"tenant"`
	GeneratedAt time.Time `json:"generated_at"`
	// Window is the time span of the events read.
	Window Window `json:"window"`
	// Status: ok | failing | in_progress | idle | no_clients (worst client wins).
	Status string `json:"status"`
	// Summary is one sentence for the top of the page.
	Summary string `json:"summary"`
	// Clients, failing first, then by last activity (newest first).
	Clients []ClientReport `json:"clients"`
	// Unattributed groups refused MCP requests no client could be linked to.
	Unattributed []Group `json:"unattributed"`
	// SelfCheck lists one result set per URL mode (filled by the caller).
	SelfCheck []SelfCheckResult `json:"self_check,omitempty"`
	// EventsRead and Truncated say whether older events were left out.
	EventsRead int  `json:"events_read"`
	Truncated  bool `json:"truncated"`
}

// Window is a time span.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ClientReport is one client's connection story.
type ClientReport struct {
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name"`
	Kind       string `json:"kind,omitempty"` // dcr | cimd | preregistered | "" (unknown: deleted)
	// Software names the client products recognized from its registration
	// and its requests' User-Agents ("MCP Inspector", "Claude.ai"; software.go).
	Software []string   `json:"software,omitempty"`
	Status   string     `json:"status"`
	LastSeen *time.Time `json:"last_seen,omitempty"`
	// Problem is the first step that went wrong in the latest connection
	// attempt (nil when none did).
	Problem *Problem `json:"problem,omitempty"`
	// Notes are lesser observations (e.g. earlier failures since recovered).
	Notes []string `json:"notes,omitempty"`
	// Steps is the funnel of the latest attempt, always the seven steps in order.
	Steps []FunnelStep `json:"steps"`
	// Timeline is every event of the client, oldest first, consecutive
	// repeats collapsed (Count > 1).
	Timeline []Entry `json:"timeline"`
}

// Problem names a failed step in plain words.
type Problem struct {
	Code string    `json:"code"`
	Step string    `json:"step"`
	At   time.Time `json:"at"`
	// Title is a short headline; Detail the full sentence with times,
	// counts and user agents; Fix what to do about it.
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
	// Count of events behind the problem and the user agents they carried.
	// The gateway records at most 30 refusals a minute per reason and IP,
	// so a count at that rate is a lower bound.
	Count      int      `json:"count,omitempty"`
	UserAgents []string `json:"user_agents,omitempty"`
	// Attribution says how events without a client id were linked to this
	// client ("client_id" when they carried one).
	Attribution string `json:"attribution,omitempty"`
}

// FunnelStep is one step of the funnel.
type FunnelStep struct {
	Step  string     `json:"step"`
	Label string     `json:"label"`
	State string     `json:"state"`
	At    *time.Time `json:"at,omitempty"`
}

// Entry is one (collapsed) timeline entry.
type Entry struct {
	Time      time.Time  `json:"time"`
	LastTime  *time.Time `json:"last_time,omitempty"` // when Count > 1
	Count     int        `json:"count"`
	Action    string     `json:"action"`
	Label     string     `json:"label"`
	Outcome   string     `json:"outcome"`
	Reason    string     `json:"reason,omitempty"`
	Subject   string     `json:"subject,omitempty"`
	UserAgent string     `json:"user_agent,omitempty"`
	// Software is the product the User-Agent belongs to, when recognized.
	Software string         `json:"software,omitempty"`
	IP       string         `json:"ip,omitempty"`
	Details  map[string]any `json:"details,omitempty"`
	// Attributed marks events that carried no client id and were linked to
	// this client by time, user agent and IP.
	Attributed bool `json:"attributed,omitempty"`
}

// Group is a set of similar unattributed events.
type Group struct {
	Action     string    `json:"action"`
	Reason     string    `json:"reason,omitempty"`
	Label      string    `json:"label"`
	Count      int       `json:"count"`
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
	UserAgents []string  `json:"user_agents,omitempty"`
	Note       string    `json:"note,omitempty"`
}

var stepLabels = map[string]string{
	StepRegister:  "Client registered",
	StepAuthorize: "Authorization started",
	StepLogin:     "User logged in",
	StepConsent:   "Consent",
	StepCode:      "Authorization code issued",
	StepToken:     "Access token issued",
	StepMCP:       "MCP requests reach the server",
}

var stepOrder = []string{StepRegister, StepAuthorize, StepLogin, StepConsent, StepCode, StepToken, StepMCP}

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

// Label is the plain-words label of an event.
func Label(ev tenants.AuditEvent) string {
	switch ev.Action {
	case tenants.ActClientRegistered:
		return "Client registered"
	case tenants.ActClientExpired:
		return "Client expired (idle)"
	case tenants.ActClientDeleted:
		return "Client deleted"
	case tenants.ActAuthorizeStarted:
		if ev.Outcome == tenants.OutcomeFailure {
			return "Authorization request refused"
		}
		return "Authorization started"
	case tenants.ActLoginSucceeded:
		return "User logged in at the identity provider"
	case tenants.ActLoginFailed:
		return "Login at the identity provider failed"
	case tenants.ActConsentGranted:
		return "Consent granted"
	case tenants.ActConsentDenied:
		return "Consent denied"
	case tenants.ActCodeIssued:
		return "Authorization code issued"
	case tenants.ActTokenIssued:
		if l := enterpriseLabel(ev); l != "" {
			return l
		}
		if ev.Outcome == tenants.OutcomeFailure {
			return "Token request refused"
		}
		return "Access token issued"
	case tenants.ActTokenRefreshed:
		if ev.Outcome == tenants.OutcomeFailure {
			return "Token refresh refused"
		}
		return "Token refreshed"
	case tenants.ActRefreshReused:
		return "An old refresh token was reused (the grant was revoked)"
	case tenants.ActTokenRevoked:
		return "Token revoked"
	case tenants.ActGrantRevoked:
		return "Grant revoked"
	case tenants.ActKeyRotated:
		return "Signing key rotated"
	case tenants.ActMCPDenied:
		if w, ok := ReasonWords[ev.Reason]; ok {
			return "MCP request refused: it " + w
		}
		return "MCP request refused"
	case tenants.ActMCPToolCalled:
		if name := detailString(ev, tenants.DetailTool); name != "" {
			return "Tool called: " + name
		}
		return "Tool called"
	case tenants.ActMCPRequest:
		if m := detailList(ev, tenants.DetailMCPMethods); len(m) > 0 {
			return "MCP request forwarded: " + strings.Join(m, ", ")
		}
		return "MCP request forwarded"
	case tenants.ActUpstreamFailed:
		return "Upstream MCP server failed"
	}
	return ev.Action
}

func (in *Input) defaults() {
	if in.Now.IsZero() {
		in.Now = time.Now().UTC()
	}
	if in.Patience <= 0 {
		in.Patience = 2 * time.Minute
	}
	if in.AttributionWindow <= 0 {
		in.AttributionWindow = 24 * time.Hour
	}
}

// clientState gathers one client's events.
type clientState struct {
	id      string
	client  *tenants.Client
	events  []tenants.AuditEvent // own events (carry client_id), oldest first
	linked  []tenants.AuditEvent // attributed events (no client_id), oldest first
	uas     map[string]bool
	ips     map[string]bool
	tokenAt []time.Time // token.issued / token.refreshed (success) times
}

func isMCP(action string) bool { return strings.HasPrefix(action, "mcp.") }

func isTokenEvent(ev tenants.AuditEvent) bool {
	return (ev.Action == tenants.ActTokenIssued || ev.Action == tenants.ActTokenRefreshed) && ev.Outcome != tenants.OutcomeFailure
}

// Diagnose builds the report.
func Diagnose(in Input) Report {
	in.defaults()
	evs := make([]tenants.AuditEvent, 0, len(in.Events))
	for _, ev := range in.Events {
		if ev.UserAgent == SelfCheckUserAgent {
			continue
		}
		evs = append(evs, ev)
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].Time.Equal(evs[j].Time) {
			return evs[i].Time.Before(evs[j].Time)
		}
		return evs[i].ID < evs[j].ID
	})

	rep := Report{GeneratedAt: in.Now, EventsRead: len(evs), Clients: []ClientReport{}, Unattributed: []Group{}}
	if in.Tenant != nil {
		rep.Tenant = in.Tenant.Slug
	}
	if len(evs) > 0 {
		rep.Window = Window{From: evs[0].Time, To: in.Now}
	} else {
		rep.Window = Window{From: in.Now, To: in.Now}
	}

	states := map[string]*clientState{}
	var order []string
	get := func(id string) *clientState {
		s, ok := states[id]
		if !ok {
			s = &clientState{id: id, uas: map[string]bool{}, ips: map[string]bool{}}
			states[id] = s
			order = append(order, id)
		}
		return s
	}
	for i := range in.Clients {
		get(in.Clients[i].ID).client = &in.Clients[i]
	}
	var loose []tenants.AuditEvent
	for _, ev := range evs {
		if ev.ClientID == "" {
			if isMCP(ev.Action) {
				loose = append(loose, ev)
			}
			continue // admin.*, key.rotated: not part of a client's story
		}
		s := get(ev.ClientID)
		s.events = append(s.events, ev)
		if ev.UserAgent != "" && (isMCP(ev.Action) || isTokenEvent(ev) || ev.Action == tenants.ActClientRegistered) {
			s.uas[ev.UserAgent] = true
		}
		if ev.IP != "" && (isMCP(ev.Action) || isTokenEvent(ev) || ev.Action == tenants.ActClientRegistered) {
			s.ips[ev.IP] = true
		}
		if isTokenEvent(ev) {
			s.tokenAt = append(s.tokenAt, ev.Time)
		}
	}

	// Requests that carried no usable token carry no client id. Link each to
	// the client most likely to have sent it: one that held a token issued
	// before it (within the attribution window), preferring a matching user
	// agent, then IP, then the most recent issuance.
	groups := map[string]*Group{}
	var groupOrder []string
	for _, ev := range loose {
		if !isDiscoveryProbe(ev, evs, states) {
			if s := attribute(ev, states, order, in.AttributionWindow); s != nil {
				s.linked = append(s.linked, ev)
				continue
			}
		}
		key := ev.Action + "|" + ev.Reason
		g, ok := groups[key]
		if !ok {
			g = &Group{Action: ev.Action, Reason: ev.Reason, Label: Label(ev), First: ev.Time}
			if ev.Action == tenants.ActMCPDenied && ev.Reason == tenants.ReasonNoHeader {
				g.Note = "Requests without a token that start a new connection are normal: clients send one to discover the authorization server from the 401."
			}
			groups[key] = g
			groupOrder = append(groupOrder, key)
		}
		g.Count++
		g.Last = ev.Time
		g.UserAgents = addUnique(g.UserAgents, ev.UserAgent)
	}
	for _, k := range groupOrder {
		rep.Unattributed = append(rep.Unattributed, *groups[k])
	}

	grantsByClient := map[string][]tenants.Grant{}
	for _, g := range in.Grants {
		grantsByClient[g.ClientID] = append(grantsByClient[g.ClientID], g)
	}
	for _, id := range order {
		s := states[id]
		rep.Clients = append(rep.Clients, diagnoseClient(in, s, grantsByClient[id]))
	}
	rank := map[string]int{StatusFailing: 0, StatusUnverified: 1, StatusInProgress: 2, StatusOK: 3, StatusIdle: 4}
	sort.SliceStable(rep.Clients, func(i, j int) bool {
		a, b := rep.Clients[i], rep.Clients[j]
		if rank[a.Status] != rank[b.Status] {
			return rank[a.Status] < rank[b.Status]
		}
		return lastSeen(a).After(lastSeen(b))
	})
	rep.Status, rep.Summary = summarize(rep.Clients)
	return rep
}

func lastSeen(c ClientReport) time.Time {
	if c.LastSeen == nil {
		return time.Time{}
	}
	return *c.LastSeen
}

// probeWindow is how soon after an unauthenticated request a new client's
// registration or authorization marks that request as its discovery probe.
const probeWindow = 2 * time.Minute

// isDiscoveryProbe reports whether a request without a token is the first,
// unauthenticated request of a new connection (every client sends one to
// learn the authorization server from the 401): a client that held no token
// yet registers or starts authorizing shortly after it.
func isDiscoveryProbe(ev tenants.AuditEvent, evs []tenants.AuditEvent, states map[string]*clientState) bool {
	if ev.Action != tenants.ActMCPDenied || ev.Reason != tenants.ReasonNoHeader {
		return false
	}
	for _, next := range evs {
		if !next.Time.After(ev.Time) {
			continue
		}
		if next.Time.Sub(ev.Time) > probeWindow {
			break
		}
		if next.ClientID == "" || (next.Action != tenants.ActClientRegistered && next.Action != tenants.ActAuthorizeStarted) {
			continue
		}
		s := states[next.ClientID]
		if s == nil {
			continue
		}
		hadToken := false
		for _, t := range s.tokenAt {
			if !t.After(ev.Time) {
				hadToken = true
			}
		}
		if !hadToken {
			return true
		}
	}
	return false
}

func attribute(ev tenants.AuditEvent, states map[string]*clientState, order []string, window time.Duration) *clientState {
	var best *clientState
	bestScore, bestAt := -1, time.Time{}
	for _, id := range order {
		s := states[id]
		var last time.Time
		for _, t := range s.tokenAt {
			if !t.After(ev.Time) {
				last = t
			}
		}
		if last.IsZero() || ev.Time.Sub(last) > window {
			continue
		}
		score := 0
		if ev.UserAgent != "" && s.uas[ev.UserAgent] {
			score += 2
		}
		if ev.IP != "" && s.ips[ev.IP] {
			score++
		}
		if score > bestScore || (score == bestScore && last.After(bestAt)) {
			best, bestScore, bestAt = s, score, last
		}
	}
	return best
}

func addUnique(list []string, v string) []string {
	if v == "" {
		return list
	}
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

func summarize(cs []ClientReport) (string, string) {
	if len(cs) == 0 {
		return "no_clients", "No client has registered or connected yet. Paste the connector URL into an MCP client to start."
	}
	counts := map[string]int{}
	for _, c := range cs {
		counts[c.Status]++
	}
	switch {
	case counts[StatusFailing] > 0:
		first := cs[0] // failing clients sort first
		return StatusFailing, fmt.Sprintf("%d of %d clients failing. %s: %s", counts[StatusFailing], len(cs), quoteName(first.ClientName), first.Problem.Title)
	case counts[StatusUnverified] > 0:
		first := cs[0]
		return StatusUnverified, fmt.Sprintf("%d of %d clients got a token but no MCP request of theirs has been recorded since. %s: %s",
			counts[StatusUnverified], len(cs), quoteName(first.ClientName), first.Problem.Title)
	case counts[StatusInProgress] > 0:
		return StatusInProgress, fmt.Sprintf("%d of %d clients are part-way through connecting; nothing has failed.", counts[StatusInProgress], len(cs))
	case counts[StatusOK] > 0:
		return StatusOK, fmt.Sprintf("%d of %d clients connected and reached the MCP server; no failures found.", counts[StatusOK], len(cs))
	}
	return StatusIdle, fmt.Sprintf("%d clients registered; none has connected in the time window.", len(cs))
}

func quoteName(n string) string { return "'" + n + "'" }

// clientName prefers the registered name, else the CIMD URL's host, else the id.
func clientName(s *clientState) string {
	if s.client != nil && s.client.Name != "" {
		return s.client.Name
	}
	for _, ev := range s.events {
		if n := detailString(ev, tenants.DetailClientName); n != "" {
			return n
		}
	}
	if u, err := url.Parse(s.id); err == nil && u.Scheme == "https" && u.Host != "" {
		return u.Host
	}
	return s.id
}

// fmtTime writes a time in UTC, with the date when it is not today.
func fmtTime(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.Format("2006-01-02") == now.Format("2006-01-02") {
		return t.Format("15:04:05") + " UTC"
	}
	return t.Format("2006-01-02 15:04:05") + " UTC"
}

func detailString(ev tenants.AuditEvent, key string) string {
	switch v := ev.Details[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case []string, []any:
		return strings.Join(detailList(ev, key), ", ")
	default:
		return fmt.Sprint(v)
	}
}

// detailList reads a list detail. Events read back from the store hold
// []any (JSON); events still in memory hold []string.
func detailList(ev tenants.AuditEvent, key string) []string {
	switch v := ev.Details[key].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		if v != "" {
			return []string{v}
		}
	}
	return nil
}

// merged returns own and linked events, oldest first.
func (s *clientState) merged() []tenants.AuditEvent {
	all := make([]tenants.AuditEvent, 0, len(s.events)+len(s.linked))
	all = append(all, s.events...)
	all = append(all, s.linked...)
	sort.SliceStable(all, func(i, j int) bool {
		if !all[i].Time.Equal(all[j].Time) {
			return all[i].Time.Before(all[j].Time)
		}
		return all[i].ID < all[j].ID
	})
	return all
}

func diagnoseClient(in Input, s *clientState, grants []tenants.Grant) ClientReport {
	cr := ClientReport{ClientID: s.id, ClientName: clientName(s)}
	if s.client != nil {
		cr.Kind = s.client.Kind
	}
	all := s.merged()
	linkedIDs := map[string]bool{}
	for _, ev := range s.linked {
		linkedIDs[ev.ID] = true
	}
	cr.Software = clientSoftware(s)
	cr.Timeline = collapse(all, linkedIDs, SoftwareFromClient(s.client, s.id))
	if n := len(all); n > 0 {
		t := all[n-1].Time
		cr.LastSeen = &t
	} else if s.client != nil {
		t := s.client.CreatedAt
		if s.client.LastUsedAt != nil {
			t = *s.client.LastUsedAt
		}
		cr.LastSeen = &t
	}

	// The latest attempt starts at the last authorize.started (or at the
	// start when none); earlier attempts only produce notes.
	start := 0
	for i, ev := range all {
		if ev.Action == tenants.ActAuthorizeStarted {
			start = i
		}
	}
	attempt := all[start:]
	d := diagnosis{in: in, s: s, name: cr.ClientName, all: all, attempt: attempt, grants: grants, linked: linkedIDs}
	cr.Steps, cr.Problem, cr.Status = d.run()
	cr.Notes = d.notes
	return cr
}

// collapse merges consecutive events with the same action, outcome, reason
// and user agent into one entry with a count; registered is the product the
// client's registration names (entrySoftware).
func collapse(evs []tenants.AuditEvent, linked map[string]bool, registered string) []Entry {
	out := []Entry{}
	for _, ev := range evs {
		if n := len(out); n > 0 {
			p := &out[n-1]
			if p.Action == ev.Action && p.Outcome == ev.Outcome && p.Reason == ev.Reason && p.UserAgent == ev.UserAgent &&
				p.Attributed == linked[ev.ID] && p.Label == Label(ev) {
				p.Count++
				t := ev.Time
				p.LastTime = &t
				continue
			}
		}
		e := Entry{Time: ev.Time, Count: 1, Action: ev.Action, Label: Label(ev), Outcome: ev.Outcome, Reason: ev.Reason,
			Subject: ev.Subject, UserAgent: ev.UserAgent, IP: ev.IP, Attributed: linked[ev.ID],
			Software: entrySoftware(ev.UserAgent, registered, linked[ev.ID])}
		if len(ev.Details) > 0 {
			e.Details = map[string]any(ev.Details)
		}
		out = append(out, e)
	}
	return out
}
