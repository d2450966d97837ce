package doctor

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

type diagnosis struct {
	in      Input
	s       *clientState
	name    string
	all     []tenants.AuditEvent
	attempt []tenants.AuditEvent
	grants  []tenants.Grant
	linked  map[string]bool

	steps map[string]*FunnelStep
	notes []string
}

func (d *diagnosis) mark(step, state string, at time.Time) {
	fs := d.steps[step]
	fs.State = state
	if !at.IsZero() {
		t := at
		fs.At = &t
	}
}

// find returns the first event of one of actions in evs at or after from.
func find(evs []tenants.AuditEvent, from time.Time, actions ...string) *tenants.AuditEvent {
	for i := range evs {
		if evs[i].Time.Before(from) {
			continue
		}
		for _, a := range actions {
			if evs[i].Action == a {
				return &evs[i]
			}
		}
	}
	return nil
}

func findOutcome(evs []tenants.AuditEvent, from time.Time, outcome string, actions ...string) *tenants.AuditEvent {
	for i := range evs {
		if evs[i].Time.Before(from) || (outcome != "" && evs[i].Outcome != outcome) {
			continue
		}
		for _, a := range actions {
			if evs[i].Action == a {
				return &evs[i]
			}
		}
	}
	return nil
}

func (d *diagnosis) run() ([]FunnelStep, *Problem, string) {
	d.steps = map[string]*FunnelStep{}
	for _, st := range stepOrder {
		d.steps[st] = &FunnelStep{Step: st, Label: stepLabels[st], State: StatePending}
	}
	p, status := d.walk()
	out := make([]FunnelStep, 0, len(stepOrder))
	for _, st := range stepOrder {
		out = append(out, *d.steps[st])
	}
	return out, p, status
}

func (d *diagnosis) late(since time.Time) bool { return d.in.Now.Sub(since) > d.in.Patience }

func (d *diagnosis) walk() (*Problem, string) {
	now := d.in.Now
	c := d.s.client

	// 1. Registration.
	var regAt time.Time
	if reg := find(d.all, time.Time{}, tenants.ActClientRegistered); reg != nil {
		regAt = reg.Time
		d.mark(StepRegister, StateDone, reg.Time)
	} else if c != nil && c.Kind == tenants.ClientCIMD {
		d.mark(StepRegister, StateSkipped, time.Time{}) // a metadata document, not a registration
		regAt = c.CreatedAt
	} else if c != nil {
		regAt = c.CreatedAt
		d.mark(StepRegister, StateDone, c.CreatedAt)
	} else {
		d.mark(StepRegister, StateDone, time.Time{}) // before the window
	}

	if n := len(d.all); n > 0 && (d.all[n-1].Action == tenants.ActClientDeleted || d.all[n-1].Action == tenants.ActClientExpired) {
		d.notes = append(d.notes, fmt.Sprintf("%s at %s.", Label(d.all[n-1]), fmtTime(d.all[n-1].Time, now)))
		return nil, StatusIdle
	}

	att := d.attempt
	auth := find(att, time.Time{}, tenants.ActAuthorizeStarted)
	tok := findOutcome(att, time.Time{}, tenants.OutcomeSuccess, tenants.ActTokenIssued, tenants.ActTokenRefreshed)
	if auth == nil {
		if tok == nil && !d.anyMCP(att) {
			if p := d.enterpriseRefused(att); p != nil {
				return p, StatusFailing
			}
			switch {
			case len(d.all) == 0 && c != nil && !d.late(c.CreatedAt):
				return nil, StatusInProgress // just created (e.g. pre-registered)
			case len(d.all) == 0 || regAt.IsZero():
				return nil, StatusIdle // nothing of a connection in the window
			case !d.late(regAt):
				return nil, StatusInProgress
			}
			d.mark(StepAuthorize, StateFailed, time.Time{})
			return &Problem{Code: ProblemAuthorizeNotStarted, Step: StepAuthorize, At: regAt,
				Title: "Registered, but authorization never started",
				Detail: fmt.Sprintf("client %s registered at %s but never sent the user to the authorization endpoint.",
					quoteName(d.name), fmtTime(regAt, now)),
				Fix: "The client gave up between registration and authorization: usually it could not read or did not accept the " +
					"authorization server metadata, or rejected the registration response. Run the self-check below; for Claude.ai " +
					"prefer the host-mode connector URL (issuers with a path are a known risk there), and check the client's own log.",
			}, StatusFailing
		}
		// The flow began before the window: earlier steps are done, times
		// unknown — or, on the enterprise path (ID-JAG), never needed.
		state := StateDone
		if tok != nil && enterpriseLabel(*tok) != "" {
			state = StateSkipped
		}
		for _, st := range []string{StepAuthorize, StepLogin, StepConsent, StepCode} {
			d.mark(st, state, time.Time{})
		}
	} else {
		if auth.Outcome == tenants.OutcomeFailure {
			d.mark(StepAuthorize, StateFailed, auth.Time)
			return &Problem{Code: ProblemAuthorizeRefused, Step: StepAuthorize, At: auth.Time,
				Title:  "Authorization request refused",
				Detail: fmt.Sprintf("the authorization request of client %s at %s was refused: %s.", quoteName(d.name), fmtTime(auth.Time, now), reasonText(*auth)),
				Fix: "Compare the request with the client's registration: redirect_uri must match exactly (loopback: any port), " +
					"PKCE S256 is required, and resource must be this tenant's connector URL.",
			}, StatusFailing
		}
		d.mark(StepAuthorize, StateDone, auth.Time)
		if p, st, stop := d.loginToCode(*auth, tok); stop {
			return p, st
		}
	}

	// 6. Token.
	if tok == nil {
		codeAt := time.Time{}
		if fs := d.steps[StepCode]; fs.At != nil {
			codeAt = *fs.At
		}
		if bad := findOutcome(att, codeAt, tenants.OutcomeFailure, tenants.ActTokenIssued); bad != nil {
			d.mark(StepToken, StateFailed, bad.Time)
			return &Problem{Code: ProblemTokenNotIssued, Step: StepToken, At: bad.Time,
				Title:  "The token request was refused",
				Detail: fmt.Sprintf("code issued at %s; client %s's token request at %s was refused: %s.", fmtTime(codeAt, now), quoteName(d.name), fmtTime(bad.Time, now), reasonText(*bad)),
				Fix: "The client must send the same redirect_uri and the PKCE code_verifier of its authorization request, and " +
					"authenticate the way it registered (token_endpoint_auth_method). Codes are single use and live 60 seconds.",
			}, StatusFailing
		}
		if codeAt.IsZero() || !d.late(codeAt) {
			return nil, StatusInProgress
		}
		d.mark(StepToken, StateFailed, time.Time{})
		return &Problem{Code: ProblemTokenNotIssued, Step: StepToken, At: codeAt,
			Title:  "The authorization code was never exchanged",
			Detail: fmt.Sprintf("code issued at %s to client %s, but it never redeemed it at the token endpoint.", fmtTime(codeAt, now), quoteName(d.name)),
			Fix: "The browser reached the client's redirect URI but the client did not call the token endpoint (or could not reach " +
				"it): check that the redirect URI is served by the client, and the client's log for token endpoint errors (CORS for " +
				"browser-based clients).",
		}, StatusFailing
	}
	d.mark(StepToken, StateDone, tok.Time)

	// 7. MCP traffic after the token.
	return d.mcpStage(*tok)
}

func (d *diagnosis) auditLevel() string {
	if d.in.Tenant == nil {
		return tenants.AuditMCPTools
	}
	return d.in.Tenant.Settings.AuditMCP()
}

func (d *diagnosis) anyMCP(evs []tenants.AuditEvent) bool {
	for _, ev := range evs {
		if isMCP(ev.Action) {
			return true
		}
	}
	return false
}

// loginToCode walks login, consent and code after auth. stop reports that
// the walk ends here (with a problem, or in progress).
func (d *diagnosis) loginToCode(auth tenants.AuditEvent, tok *tenants.AuditEvent) (*Problem, string, bool) {
	now, att := d.in.Now, d.attempt
	later := func(actions ...string) bool { return find(att, auth.Time, actions...) != nil }

	okLogin := find(att, auth.Time, tenants.ActLoginSucceeded)
	failed := find(att, auth.Time, tenants.ActLoginFailed)
	if failed != nil && (okLogin == nil || okLogin.Time.Before(failed.Time)) {
		d.mark(StepLogin, StateFailed, failed.Time)
		detail := fmt.Sprintf("authorization started at %s; login at the identity provider failed at %s: %s.",
			fmtTime(auth.Time, now), fmtTime(failed.Time, now), reasonText(*failed))
		return &Problem{Code: ProblemLoginFailed, Step: StepLogin, At: failed.Time,
			Title: "Login at the identity provider failed", Detail: detail, Fix: loginFix(*failed, d.in.Tenant)}, StatusFailing, true
	}
	if okLogin == nil {
		if later(tenants.ActConsentGranted, tenants.ActCodeIssued) || tok != nil {
			d.mark(StepLogin, StateDone, time.Time{})
		} else if d.late(auth.Time) {
			d.mark(StepLogin, StateFailed, time.Time{})
			return &Problem{Code: ProblemLoginNotCompleted, Step: StepLogin, At: auth.Time,
				Title:  "The user never finished logging in",
				Detail: fmt.Sprintf("authorization started at %s for client %s, but no login came back from the identity provider.", fmtTime(auth.Time, now), quoteName(d.name)),
				Fix: "The user closed the login window, or the identity provider could not redirect back. Check that the IdP's app " +
					"lists " + d.callbackURL() + " as its callback (redirect) URL, then try again.",
			}, StatusFailing, true
		} else {
			return nil, StatusInProgress, true
		}
	} else {
		d.mark(StepLogin, StateDone, okLogin.Time)
	}
	from := auth.Time
	if okLogin != nil {
		from = okLogin.Time
	}

	if denied := find(att, from, tenants.ActConsentDenied); denied != nil && find(att, denied.Time, tenants.ActConsentGranted) == nil {
		d.mark(StepConsent, StateFailed, denied.Time)
		return &Problem{Code: ProblemConsentDenied, Step: StepConsent, At: denied.Time,
			Title:  "The user denied consent",
			Detail: fmt.Sprintf("%s declined to authorize client %s at %s.", subjectOr(*denied, "the user"), quoteName(d.name), fmtTime(denied.Time, now)),
			Fix:    "Nothing is broken: the user chose Deny. They can connect again and choose Allow.",
		}, StatusFailing, true
	}
	if granted := find(att, from, tenants.ActConsentGranted); granted != nil {
		d.mark(StepConsent, StateDone, granted.Time)
		from = granted.Time
	} else {
		d.mark(StepConsent, StateSkipped, time.Time{}) // remembered, skip_consent, or pre-registered
	}

	if code := find(att, from, tenants.ActCodeIssued); code != nil {
		d.mark(StepCode, StateDone, code.Time)
		return nil, "", false
	}
	if tok != nil {
		d.mark(StepCode, StateDone, time.Time{})
		return nil, "", false
	}
	if !d.late(from) {
		return nil, StatusInProgress, true
	}
	d.mark(StepCode, StateFailed, time.Time{})
	return &Problem{Code: ProblemCodeNotIssued, Step: StepCode, At: from,
		Title:  "Logged in, but no authorization code was issued",
		Detail: fmt.Sprintf("the user logged in at %s for client %s, but the flow stopped before a code was issued.", fmtTime(from, now), quoteName(d.name)),
		Fix:    "The consent page was left unanswered, or its form was refused (the CSRF check fails when cookies are blocked). Try again in a normal browser window.",
	}, StatusFailing, true
}

func subjectOr(ev tenants.AuditEvent, def string) string {
	if ev.Subject != "" {
		return "user " + quoteName(ev.Subject)
	}
	return def
}

func (d *diagnosis) callbackURL() string {
	if d.in.Tenant != nil {
		return "{issuer}/oauth/callback (path mode: …/t/" + d.in.Tenant.Slug + "/oauth/callback)"
	}
	return "{issuer}/oauth/callback"
}

// reasonText renders an event's reason and the IdP's error details.
func reasonText(ev tenants.AuditEvent) string {
	parts := []string{}
	if ev.Reason != "" {
		parts = append(parts, ev.Reason)
	}
	for _, k := range []string{tenants.DetailError, tenants.DetailErrorDesc, tenants.DetailIdPError, tenants.DetailStatus} {
		if v := detailString(ev, k); v != "" && v != ev.Reason {
			parts = append(parts, v)
		}
	}
	if len(parts) == 0 {
		return "no reason recorded"
	}
	return strings.Join(parts, ": ")
}

func loginFix(ev tenants.AuditEvent, t *tenants.Tenant) string {
	all := strings.ToLower(reasonText(ev))
	switch {
	case strings.Contains(all, "domain") || strings.Contains(all, "org"):
		return "The user's account is not allowed by the IdP settings (allowed_domains / allowed_orgs). Add their domain or " +
			"organisation, or log in with an allowed account."
	case strings.Contains(all, "access_denied"):
		return "The user (or the IdP's policy) declined the login at the identity provider. Nothing to fix unless that was unintended."
	case strings.Contains(all, "redirect") || strings.Contains(all, "callback"):
		return "The identity provider refused the redirect: register {issuer}/oauth/callback as the callback URL of the app at the IdP."
	case strings.Contains(all, "client") || strings.Contains(all, "secret") || strings.Contains(all, "401") || strings.Contains(all, "unauthorized"):
		return "The IdP rejected Gatehouse's own credentials: check the IdP client_id and client_secret (PUT /api/v1/tenants/{slug}/idp)."
	}
	return "Check the tenant's IdP settings (client id and secret, issuer URL, the callback URL {issuer}/oauth/callback registered " +
		"at the IdP, allowed domains/orgs) and the IdP's error above."
}

// mcpStage looks at what happened after the first token of the attempt.
func (d *diagnosis) mcpStage(tok tenants.AuditEvent) (*Problem, string) {
	now := d.in.Now
	var after []tenants.AuditEvent
	for _, ev := range d.attempt {
		if ev.Time.Before(tok.Time) {
			continue
		}
		after = append(after, ev)
	}
	lastTok := tok
	for _, ev := range after {
		if isTokenEvent(ev) {
			lastTok = ev
		}
	}

	// Successes: forwarded requests and tool calls, or a grant used.
	var lastOK time.Time
	okCount := 0
	for _, ev := range after {
		if (ev.Action == tenants.ActMCPToolCalled || ev.Action == tenants.ActMCPRequest) && ev.Outcome != tenants.OutcomeFailure {
			okCount++
			if ev.Time.After(lastOK) {
				lastOK = ev.Time
			}
		}
	}
	for _, g := range d.grants {
		if g.LastUsedAt != nil && !g.LastUsedAt.Before(tok.Time) {
			okCount++
			if g.LastUsedAt.After(lastOK) {
				lastOK = *g.LastUsedAt
			}
		}
	}

	// Failures after the last success.
	type failure struct {
		code string
		evs  []tenants.AuditEvent
	}
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
		if !lastOK.IsZero() {
			d.mark(StepMCP, StateDone, lastOK)
			return nil, StatusOK
		}
		if !d.late(lastTok.Time) {
			return nil, StatusInProgress
		}
		p := &Problem{Code: ProblemNoMCPRequest, Step: StepMCP, At: lastTok.Time,
			Title: "Token issued, but no MCP request ever arrived",
			Detail: fmt.Sprintf("token issued %s to client %s; no MCP request from this client has reached Gatehouse since.",
				fmtTime(lastTok.Time, now), quoteName(d.name)),
			Fix: "The client has a token but its requests never get here. The most common cause is bot protection at an edge " +
				"(Cloudflare, a WAF or CDN) in front of the connector URL answering 403 to the User-Agent 'Claude-User' that " +
				"Claude.ai sends: allow that user agent (and the client's IPs) for the connector URL. Also check the connector " +
				"URL the user pasted resolves to this deployment.",
		}
		// Only with audit_mcp_calls=all is every forwarded request recorded;
		// otherwise an idle but healthy client (tools listed, none called)
		// looks the same, so the problem is shown as unverified.
		if d.in.Tenant == nil || d.in.Tenant.Settings.AuditMCP() != tenants.AuditMCPAll {
			p.Title = "Token issued, but no MCP request recorded since"
			p.Detail = fmt.Sprintf("token issued %s to client %s; no MCP request from this client has been recorded since "+
				"(with audit_mcp_calls=%s only tool calls are recorded, so this is normal if no tool was used yet).",
				fmtTime(lastTok.Time, now), quoteName(d.name), d.auditLevel())
			p.Fix = "If the client shows a connection error: " + p.Fix + " Set audit_mcp_calls to all to record every MCP request and make this diagnosis certain."
			d.mark(StepMCP, StatePending, time.Time{})
			return p, StatusUnverified
		}
		d.mark(StepMCP, StateFailed, time.Time{})
		return p, StatusFailing
	}

	// Failing now: the first kind of failure that occurred names the problem.
	sort.SliceStable(fails, func(i, j int) bool { return fails[i].evs[0].Time.Before(fails[j].evs[0].Time) })
	f := fails[0]
	for _, other := range fails[1:] {
		d.notes = append(d.notes, fmt.Sprintf("also: %d request(s) %s.", len(other.evs), problemPhrase(other.code)))
	}
	d.mark(StepMCP, StateFailed, f.evs[0].Time)
	return d.problemFor(f.code, f.evs, lastTok, lastOK), StatusFailing
}

// failureCode maps an event after the token to a problem code ("" = not a failure).
func failureCode(ev tenants.AuditEvent) string {
	switch ev.Action {
	case tenants.ActMCPDenied:
		switch ev.Reason {
		case tenants.ReasonNoHeader:
			return ProblemNoAuthHeader
		case tenants.ReasonWrongAud:
			return ProblemWrongAudience
		case tenants.ReasonExpired:
			return ProblemExpired
		case tenants.ReasonRevoked:
			return ProblemRevoked
		case tenants.ReasonUnknownKey:
			return ProblemUnknownKey
		case tenants.ReasonScope:
			return ProblemScope
		default:
			return ProblemBadToken
		}
	case tenants.ActUpstreamFailed:
		return ProblemUpstreamFailed
	case tenants.ActRefreshReused:
		return ProblemRefreshReused
	case tenants.ActTokenRefreshed:
		if ev.Outcome == tenants.OutcomeFailure {
			return ProblemRefreshReused
		}
	}
	return ""
}

func problemPhrase(code string) string {
	switch code {
	case ProblemNoAuthHeader:
		return "carried no Authorization header"
	case ProblemWrongAudience:
		return "carried a token for another resource"
	case ProblemExpired:
		return "carried an expired token"
	case ProblemRevoked:
		return "carried a revoked token"
	case ProblemUnknownKey:
		return "carried a token signed with an unknown key"
	case ProblemScope:
		return "lacked a required scope"
	case ProblemUpstreamFailed:
		return "failed at the upstream MCP server"
	case ProblemRefreshReused:
		return "reused an old refresh token"
	}
	return "carried an invalid token"
}

func describeReasons(evs []tenants.AuditEvent) string {
	seen := []string{}
	for _, ev := range evs {
		seen = addUnique(seen, problemPhrase(failureCode(ev)))
	}
	return strings.Join(seen, "; ")
}

func userAgents(evs []tenants.AuditEvent) []string {
	var out []string
	for _, ev := range evs {
		out = addUnique(out, ev.UserAgent)
	}
	return out
}

func (d *diagnosis) attribution(evs []tenants.AuditEvent) string {
	anyLinked := false
	for _, ev := range evs {
		if d.linked[ev.ID] {
			anyLinked = true
		}
	}
	if !anyLinked {
		return "client_id"
	}
	ua, ip := false, false
	for _, ev := range evs {
		if ev.UserAgent != "" && d.s.uas[ev.UserAgent] {
			ua = true
		}
		if ev.IP != "" && d.s.ips[ev.IP] {
			ip = true
		}
	}
	switch {
	case ua && ip:
		return "linked by time window, user agent and IP (these requests carry no client id)"
	case ua:
		return "linked by time window and user agent (these requests carry no client id)"
	case ip:
		return "linked by time window and IP (these requests carry no client id)"
	}
	return "linked by time window only (these requests carry no client id)"
}

func uaSuffix(uas []string) string {
	if len(uas) == 0 {
		return ""
	}
	return " (User-Agent: " + strings.Join(uas, ", ") + ")"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func (d *diagnosis) problemFor(code string, evs []tenants.AuditEvent, lastTok tenants.AuditEvent, lastOK time.Time) *Problem {
	now := d.in.Now
	first := evs[0]
	n := len(evs)
	uas := userAgents(evs)
	p := &Problem{Code: code, Step: StepMCP, At: first.Time, Count: n, UserAgents: uas, Attribution: d.attribution(evs)}
	verb := "issued"
	if lastTok.Action == tenants.ActTokenRefreshed {
		verb = "refreshed"
	}
	// The token before the first failure anchors the sentence.
	anchor := lastTok
	for _, ev := range d.attempt {
		if isTokenEvent(ev) && !ev.Time.After(first.Time) {
			anchor = ev
		}
	}
	if anchor.Action == tenants.ActTokenRefreshed {
		verb = "refreshed"
	} else {
		verb = "issued"
	}
	head := fmt.Sprintf("token %s %s to client %s", verb, fmtTime(anchor.Time, now), quoteName(d.name))
	resource := "the connector URL"
	upstream := "its upstream MCP URL"
	if t := d.in.Tenant; t != nil {
		upstream = t.UpstreamMCPURL
	}
	if r := detailString(first, tenants.DetailResource); r != "" {
		resource = r
	}
	switch code {
	case ProblemNoAuthHeader:
		p.Title = "MCP requests carry no Authorization header"
		p.Detail = fmt.Sprintf("%s; %s from the same client since then carried no Authorization header%s.",
			head, plural(n, "request", "requests"), uaSuffix(uas))
		p.Fix = "Gatehouse issued a token but the client is not sending it (the failure reported in " +
			"modelcontextprotocol/modelcontextprotocol#2157). Check for anything between the client and Gatehouse that " +
			"redirects (e.g. /mcp → /mcp/: a redirect drops the Authorization header; Gatehouse itself never redirects) or " +
			"strips the Authorization header (proxy, CDN, ingress). Make sure the connector URL configured in the client is " +
			"exactly " + resource + ", then disconnect and reconnect the client. If nothing is in between, it is a client bug: " +
			"report it to the client's vendor with this timeline."
	case ProblemWrongAudience:
		p.Title = "The token is for another resource (wrong audience)"
		p.Detail = fmt.Sprintf("%s; %s since then presented a token whose audience is not this connector URL%s.", head, plural(n, "request", "requests"), uaSuffix(uas))
		if aud := detailString(first, tenants.DetailTokenAudience); aud != "" {
			p.Detail += " The token's audience: " + aud + "."
		}
		p.Fix = "Each connector URL (path mode /t/{slug}/mcp and host mode {slug}.{domain}/mcp) is its own resource: a token " +
			"obtained for one is refused at the other. Reconnect the client using exactly one connector URL, the one it sends " +
			"requests to."
	case ProblemExpired:
		p.Title = "The client keeps using an expired token"
		p.Detail = fmt.Sprintf("%s; %s since then presented an expired access token instead of refreshing it%s.", head, plural(n, "request", "requests"), uaSuffix(uas))
		p.Fix = "The client should refresh the token (or re-authorize after the 401). Check that it registered the " +
			"refresh_token grant type and that its refreshes succeed (timeline above). A longer access_token_ttl hides the problem."
	case ProblemRevoked:
		p.Title = "The client uses a revoked token"
		p.Detail = fmt.Sprintf("%s; %s since then presented a token whose grant was revoked%s.", head, plural(n, "request", "requests"), uaSuffix(uas))
		if g := find(d.all, time.Time{}, tenants.ActGrantRevoked, tenants.ActTokenRevoked); g != nil && !g.Time.After(first.Time) {
			p.Detail += fmt.Sprintf(" The grant was revoked at %s (%s).", fmtTime(g.Time, now), reasonText(*g))
		}
		p.Fix = "Access was revoked on purpose (an admin, the user, or refresh-token reuse). The client must reconnect; most " +
			"clients re-authorize after the 401 — this one keeps sending the old token, so disconnect and reconnect it."
	case ProblemUnknownKey:
		p.Title = "The token is signed with a key this tenant does not know"
		p.Detail = fmt.Sprintf("%s; %s since then presented a token signed with a key that is not (or no longer) in this tenant's JWKS%s.", head, plural(n, "request", "requests"), uaSuffix(uas))
		p.Fix = "The signing key was retired (rotated past the longest token lifetime) or the token comes from another tenant " +
			"or deployment. Reconnect the client to get a fresh token."
	case ProblemBadToken:
		p.Title = "The client sends something that is not this tenant's token"
		p.Detail = fmt.Sprintf("%s; %s since then presented a malformed token or one with a bad signature%s.", head, plural(n, "request", "requests"), uaSuffix(uas))
		p.Fix = "The bearer value is not an access token issued by this tenant (another tenant's token, an API key, or a " +
			"truncated value). Disconnect and reconnect the client."
	case ProblemScope:
		p.Title = "A tool needs a scope the grant lacks"
		scope := detailString(first, tenants.DetailRequiredScope)
		tool := detailString(first, tenants.DetailTools)
		p.Detail = fmt.Sprintf("%s; %s since then were refused for lack of scope", head, plural(n, "request", "requests"))
		if scope != "" {
			p.Detail += " " + quoteName(scope)
		}
		if tool != "" {
			p.Detail += " (tool " + quoteName(tool) + ")"
		}
		p.Detail += "."
		p.Fix = "The tenant's tool_scopes require that scope for the tool. Clients that follow the 403 step-up re-authorize " +
			"with it; otherwise reconnect asking for the scope, or change tool_scopes."
	case ProblemUpstreamFailed:
		p.Title = "The upstream MCP server is unreachable"
		p.Detail = fmt.Sprintf("%s; %s since then were accepted but failed at the upstream MCP server %s: %s.",
			head, plural(n, "request", "requests"), upstream, reasonText(first))
		p.Fix = "Gatehouse accepted the token but could not get an answer from the tenant's MCP server. Check that " + upstream +
			" is up, reachable from Gatehouse, and answers in time (PATCH upstream_mcp_url if it moved)."
	case ProblemRefreshReused:
		p.Title = "An old refresh token was reused; the grant was revoked"
		p.Detail = fmt.Sprintf("%s; at %s the client presented a refresh token that had already been rotated, after the grace window, so the whole grant was revoked%s.",
			head, fmtTime(first.Time, now), uaSuffix(uas))
		p.Fix = "The client refreshed with a stale refresh token (two refreshes racing longer than the grace window, or a " +
			"restored copy). Raise refresh_grace_seconds (default 60) if the client refreshes in parallel; the user must reconnect."
	}
	if !lastOK.IsZero() {
		p.Detail += fmt.Sprintf(" The last successful request was at %s.", fmtTime(lastOK, now))
	}
	return p
}
