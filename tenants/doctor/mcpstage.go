package doctor

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// What happened after the token: MCP requests that got through, and the
// first kind of failure since the last one that did.

func (d *diagnosis) auditLevel() string {
	if d.in.Tenant == nil {
		return tenants.AuditMCPTools
	}
	return d.in.Tenant.Settings.AuditMCP()
}

// failure is the events of one problem code.
type failure struct {
	code string
	evs  []tenants.AuditEvent
}

// mcpStage looks at what happened after the first token of the attempt.
func (d *diagnosis) mcpStage(tok tenants.AuditEvent) (*Problem, string) {
	now := d.in.Now
	var after []tenants.AuditEvent
	for _, ev := range d.attempt {
		if !ev.Time.Before(tok.Time) {
			after = append(after, ev)
		}
	}
	lastTok := tok
	for _, ev := range after {
		if isTokenEvent(ev) {
			lastTok = ev
		}
	}
	lastOK := d.lastSuccess(after, tok.Time)

	// Failures after the last success.
	var fails []*failure
	byCode := map[string]*failure{}
	var earlier []tenants.AuditEvent
	for _, ev := range after {
		code := failureCode(ev)
		if code == "" {
			continue
		}
		if !lastOK.IsZero() && !ev.Time.After(lastOK) {
			earlier = append(earlier, ev)
			continue
		}
		f := byCode[code]
		if f == nil {
			f = &failure{code: code}
			byCode[code] = f
			fails = append(fails, f)
		}
		f.evs = append(f.evs, ev)
	}
	if len(earlier) > 0 {
		d.notes = append(d.notes, fmt.Sprintf("%d earlier MCP request(s) failed (%s) before the client recovered at %s.",
			len(earlier), describeReasons(earlier), fmtTime(lastOK, now)))
	}
	if len(fails) == 0 {
		return d.noFailure(lastTok, lastOK)
	}

	// Failing now: the first kind of failure that occurred names the problem.
	sort.SliceStable(fails, func(i, j int) bool { return fails[i].evs[0].Time.Before(fails[j].evs[0].Time) })
	f := fails[0]
	for _, other := range fails[1:] {
		d.notes = append(d.notes, fmt.Sprintf("also: %d request(s) %s.", len(other.evs), problemPhrase(other.code)))
	}
	d.mark(StepMCP, StateFailed, f.evs[0].Time)
	return d.problemFor(f, lastTok, lastOK), StatusFailing
}

// lastSuccess is the time of the last request that got through after the
// token: a forwarded request or tool call, or a grant used (zero: none).
func (d *diagnosis) lastSuccess(after []tenants.AuditEvent, tokAt time.Time) time.Time {
	var last time.Time
	for _, ev := range after {
		if (ev.Action == tenants.ActMCPToolCalled || ev.Action == tenants.ActMCPRequest) && ev.Outcome != tenants.OutcomeFailure && ev.Time.After(last) {
			last = ev.Time
		}
	}
	for _, g := range d.grants {
		if g.LastUsedAt != nil && !g.LastUsedAt.Before(tokAt) && g.LastUsedAt.After(last) {
			last = *g.LastUsedAt
		}
	}
	return last
}

// noFailure: nothing failed after the token — fine if a request got
// through, otherwise no request arrived (or none was recorded).
func (d *diagnosis) noFailure(lastTok tenants.AuditEvent, lastOK time.Time) (*Problem, string) {
	now := d.in.Now
	if !lastOK.IsZero() {
		d.mark(StepMCP, StateDone, lastOK)
		return nil, StatusOK
	}
	if !d.late(lastTok.Time) {
		return nil, StatusInProgress
	}
	// Only with audit_mcp_calls=all is every forwarded request recorded;
	// otherwise an idle but healthy client (tools listed, none called)
	// looks the same, so the problem is shown as unverified.
	if d.auditLevel() != tenants.AuditMCPAll {
		d.mark(StepMCP, StatePending, time.Time{})
		return newProblem(ProblemNoMCPRequest, lastTok.Time,
			fmt.Sprintf("token issued %s to client %s; no MCP request from this client has been recorded since "+
				"(with audit_mcp_calls=%s only tool calls are recorded, so this is normal if no tool was used yet).",
				fmtTime(lastTok.Time, now), quoteName(d.name), d.auditLevel())).otherCase(), StatusUnverified
	}
	d.mark(StepMCP, StateFailed, time.Time{})
	return newProblem(ProblemNoMCPRequest, lastTok.Time,
		fmt.Sprintf("token issued %s to client %s; no MCP request from this client has reached Gatehouse since.",
			fmtTime(lastTok.Time, now), quoteName(d.name))), StatusFailing
}

func describeReasons(evs []tenants.AuditEvent) string {
	seen := []string{}
	for _, ev := range evs {
		seen = addUnique(seen, problemPhrase(failureCode(ev)))
	}
	return strings.Join(seen, "; ")
}

// problemFor is the problem of a failure after the token, its Detail
// naming the token before the first failure, the count, the user agents
// and what the events recorded.
func (d *diagnosis) problemFor(f *failure, lastTok tenants.AuditEvent, lastOK time.Time) *Problem {
	now := d.in.Now
	evs, first, n := f.evs, f.evs[0], len(f.evs)
	uas := userAgents(evs)
	// The token before the first failure anchors the sentence.
	anchor := lastTok
	for _, ev := range d.attempt {
		if isTokenEvent(ev) && !ev.Time.After(first.Time) {
			anchor = ev
		}
	}
	verb := "issued"
	if anchor.Action == tenants.ActTokenRefreshed {
		verb = "refreshed"
	}
	head := fmt.Sprintf("token %s %s to client %s", verb, fmtTime(anchor.Time, now), quoteName(d.name))
	requests := plural(n, "request", "requests")
	var detail string
	switch f.code {
	case ProblemNoAuthHeader:
		detail = fmt.Sprintf("%s; %s from the same client since then carried no Authorization header%s.", head, requests, uaSuffix(uas))
	case ProblemWrongAudience:
		detail = fmt.Sprintf("%s; %s since then presented a token whose audience is not this connector URL%s.", head, requests, uaSuffix(uas))
		if aud := detailString(first, tenants.DetailTokenAudience); aud != "" {
			detail += " The token's audience: " + aud + "."
		}
	case ProblemExpired:
		detail = fmt.Sprintf("%s; %s since then presented an expired access token instead of refreshing it%s.", head, requests, uaSuffix(uas))
	case ProblemRevoked:
		detail = fmt.Sprintf("%s; %s since then presented a token whose grant was revoked%s.", head, requests, uaSuffix(uas))
		if g := find(d.all, time.Time{}, tenants.ActGrantRevoked, tenants.ActTokenRevoked); g != nil && !g.Time.After(first.Time) {
			detail += fmt.Sprintf(" The grant was revoked at %s (%s).", fmtTime(g.Time, now), reasonText(*g))
		}
	case ProblemUnknownKey:
		detail = fmt.Sprintf("%s; %s since then presented a token signed with a key that is not (or no longer) in this tenant's JWKS%s.", head, requests, uaSuffix(uas))
	case ProblemBadToken:
		detail = fmt.Sprintf("%s; %s since then presented a malformed token or one with a bad signature%s.", head, requests, uaSuffix(uas))
	case ProblemScope:
		detail = fmt.Sprintf("%s; %s since then were refused for lack of scope", head, requests)
		if scope := detailString(first, tenants.DetailRequiredScope); scope != "" {
			detail += " " + quoteName(scope)
		}
		if tool := detailString(first, tenants.DetailTools); tool != "" {
			detail += " (tool " + quoteName(tool) + ")"
		}
		detail += "."
	case ProblemUpstreamFailed:
		upstream := "its upstream MCP URL"
		if t := d.in.Tenant; t != nil {
			upstream = t.UpstreamMCPURL
		}
		detail = fmt.Sprintf("%s; %s since then were accepted but failed at the upstream MCP server %s: %s.", head, requests, upstream, reasonText(first))
	case ProblemRefreshReused:
		detail = fmt.Sprintf("%s; at %s the client presented a refresh token that had already been rotated, after the grace window, so the whole grant was revoked%s.",
			head, fmtTime(first.Time, now), uaSuffix(uas))
	}
	if !lastOK.IsZero() {
		detail += fmt.Sprintf(" The last successful request was at %s.", fmtTime(lastOK, now))
	}
	p := newProblem(f.code, first.Time, detail)
	p.Count, p.UserAgents, p.Attribution = n, uas, d.attribution(evs)
	return p
}
