package doctor

import (
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Problem codes: stable, for the console and for tests. Each has one entry
// in problemKinds.
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

// advice is a headline and what to do about it.
type advice struct {
	title, fix string
}

// problemKind is everything the doctor says about one problem code beyond
// the facts of the case (the Detail sentence, built where the problem is
// found). A Problem is built only from this table (newProblem), and
// TestEveryProblemCodeIsFullyDescribed fails on a code without a complete
// entry, so a new code cannot be half-described.
type problemKind struct {
	// step is the funnel step the problem fails.
	step string
	advice
	// other is the second case of a code that has two (token_not_issued:
	// the request was refused, or the code was never exchanged;
	// no_mcp_request: certain, or unverified when only tool calls are
	// audited). Problem.otherCase selects it.
	other *advice
	// fixFor are more precise fixes chosen by words in the event's reason
	// (login_failed: the IdP's error); the first match wins, fix is the
	// fallback.
	fixFor []reasonFix
	// phrase completes "N request(s) …" when the problem is listed beside
	// another one (MCP step problems).
	phrase string
	// reasons are the mcp.denied reasons that mean this problem; a reason
	// no entry lists means ProblemBadToken.
	reasons []string
}

type reasonFix struct {
	words []string // lower case; any of them in the reason text
	fix   string
}

// edgeBlockingFix is the advice when a token was issued and no request
// followed (docs/RULES.md §10).
const edgeBlockingFix = "The client has a token but its requests never get here. The most common cause is bot protection at an edge " +
	"(Cloudflare, a WAF or CDN) in front of the connector URL answering 403 to the User-Agent 'Claude-User' that " +
	"Claude.ai sends: allow that user agent (and the client's IPs) for the connector URL. Also check the connector " +
	"URL the user pasted resolves to this deployment."

// callbackWords say where the IdP's callback URL is found; Fix texts name
// no placeholder a customer would have to fill in.
const callbackWords = "this connector's callback URL (ending in /oauth/callback; the identity provider settings page shows it)"

var problemKinds = map[string]problemKind{
	ProblemAuthorizeNotStarted: {step: StepAuthorize, advice: advice{
		"Registered, but authorization never started",
		"The client gave up between registration and authorization: usually it could not read or did not accept the " +
			"authorization server metadata, or rejected the registration response. Run the self-check below; for Claude.ai " +
			"prefer the host-mode connector URL (issuers with a path are a known risk there), and check the client's own log."}},
	ProblemAuthorizeRefused: {step: StepAuthorize, advice: advice{
		"Authorization request refused",
		"Compare the request with the client's registration: redirect_uri must match exactly (loopback: any port), " +
			"PKCE S256 is required, and resource must be this tenant's connector URL."}},
	ProblemLoginFailed: {step: StepLogin, advice: advice{
		"Login at the identity provider failed",
		"Check the tenant's IdP settings (client id and secret, issuer URL, " + callbackWords + " registered " +
			"at the IdP, allowed domains/orgs) and the IdP's error above."},
		fixFor: []reasonFix{
			{[]string{"domain", "org"}, "The user's account is not allowed by the IdP settings (allowed_domains / allowed_orgs). " +
				"Add their domain or organisation, or log in with an allowed account."},
			{[]string{"access_denied"}, "The user (or the IdP's policy) declined the login at the identity provider. Nothing to fix unless that was unintended."},
			{[]string{"redirect", "callback"}, "The identity provider refused the redirect: register " + callbackWords + " as the callback URL of the app at the IdP."},
			{[]string{"client", "secret", "401", "unauthorized"}, "The IdP rejected Gatehouse's own credentials: check the IdP client_id and client_secret " +
				"(identity provider settings, or PUT /api/v1/tenants/{slug}/idp)."},
		}},
	ProblemLoginNotCompleted: {step: StepLogin, advice: advice{
		"The user never finished logging in",
		"The user closed the login window, or the identity provider could not redirect back. Check that the IdP's app " +
			"lists " + callbackWords + " as its callback (redirect) URL, then try again."}},
	ProblemConsentDenied: {step: StepConsent, advice: advice{
		"The user denied consent",
		"Nothing is broken: the user chose Deny. They can connect again and choose Allow."}},
	ProblemCodeNotIssued: {step: StepCode, advice: advice{
		"Logged in, but no authorization code was issued",
		"The consent page was left unanswered, or its form was refused (the CSRF check fails when cookies are blocked). Try again in a normal browser window."}},
	ProblemTokenNotIssued: {step: StepToken,
		advice: advice{"The token request was refused",
			"The client must send the same redirect_uri and the PKCE code_verifier of its authorization request, and " +
				"authenticate the way it registered (token_endpoint_auth_method). Codes are single use and live 60 seconds."},
		other: &advice{"The authorization code was never exchanged",
			"The browser reached the client's redirect URI but the client did not call the token endpoint (or could not reach " +
				"it): check that the redirect URI is served by the client, and the client's log for token endpoint errors (CORS for " +
				"browser-based clients)."}},
	ProblemEnterpriseRefused: {step: StepToken, advice: advice{
		"The enterprise ID-JAG was refused",
		"At the enterprise IdP, the MCP server's audience must be this connector's issuer and its resource the connector URL " +
			"(GET /api/v1/tenants/{slug}/enterprise-idps shows both per URL mode); the IdP must be trusted by this tenant with the " +
			"client in allowed_clients; ID-JAGs are single use and short-lived. See docs/ENTERPRISE.md."}},
	ProblemNoMCPRequest: {step: StepMCP,
		advice: advice{"Token issued, but no MCP request ever arrived", edgeBlockingFix},
		other: &advice{"Token issued, but no MCP request recorded since",
			"If the client shows a connection error: " + edgeBlockingFix +
				" Set audit_mcp_calls to all to record every MCP request and make this diagnosis certain."},
	},
	ProblemNoAuthHeader: {step: StepMCP, reasons: []string{tenants.ReasonNoHeader}, phrase: "carried no Authorization header", advice: advice{
		"MCP requests carry no Authorization header",
		"Gatehouse issued a token but the client is not sending it (the failure reported in " +
			"modelcontextprotocol/modelcontextprotocol#2157). Check for anything between the client and Gatehouse that " +
			"redirects (e.g. /mcp → /mcp/: a redirect drops the Authorization header; Gatehouse itself never redirects) or " +
			"strips the Authorization header (proxy, CDN, ingress). Make sure the connector URL configured in the client is " +
			"exactly the one this tenant publishes, then disconnect and reconnect the client. If nothing is in between, it is a " +
			"client bug: report it to the client's vendor with this timeline."}},
	ProblemWrongAudience: {step: StepMCP, reasons: []string{tenants.ReasonWrongAud}, phrase: "carried a token for another resource", advice: advice{
		"The token is for another resource (wrong audience)",
		"Each connector URL (path mode …/t/{slug}/mcp and host mode https://{slug}.…/mcp) is its own resource: a token " +
			"obtained for one is refused at the other. Reconnect the client using exactly one connector URL, the one it sends " +
			"requests to."}},
	ProblemExpired: {step: StepMCP, reasons: []string{tenants.ReasonExpired}, phrase: "carried an expired token", advice: advice{
		"The client keeps using an expired token",
		"The client should refresh the token (or re-authorize after the 401). Check that it registered the " +
			"refresh_token grant type and that its refreshes succeed (timeline above). A longer access_token_ttl hides the problem."}},
	ProblemRevoked: {step: StepMCP, reasons: []string{tenants.ReasonRevoked}, phrase: "carried a revoked token", advice: advice{
		"The client uses a revoked token",
		"Access was revoked on purpose (an admin, the user, or refresh-token reuse). The client must reconnect; most " +
			"clients re-authorize after the 401 — this one keeps sending the old token, so disconnect and reconnect it."}},
	ProblemUnknownKey: {step: StepMCP, reasons: []string{tenants.ReasonUnknownKey}, phrase: "carried a token signed with an unknown key", advice: advice{
		"The token is signed with a key this tenant does not know",
		"The signing key was retired (rotated past the longest token lifetime) or the token comes from another tenant " +
			"or deployment. Reconnect the client to get a fresh token."}},
	ProblemBadToken: {step: StepMCP, reasons: []string{tenants.ReasonMalformed, tenants.ReasonBadSignature, tenants.ReasonDPoP},
		phrase: "carried an invalid token", advice: advice{
			"The client sends something that is not this tenant's token",
			"The bearer value is not an access token issued by this tenant (another tenant's token, an API key, or a " +
				"truncated value), or a DPoP-bound token came without its proof. Disconnect and reconnect the client."}},
	ProblemScope: {step: StepMCP, reasons: []string{tenants.ReasonScope}, phrase: "lacked a required scope", advice: advice{
		"A tool needs a scope the grant lacks",
		"The tenant's tool_scopes require that scope for the tool. Clients that follow the 403 step-up re-authorize " +
			"with it; otherwise reconnect asking for the scope, or change tool_scopes."}},
	ProblemUpstreamFailed: {step: StepMCP, phrase: "failed at the upstream MCP server", advice: advice{
		"The upstream MCP server is unreachable",
		"Gatehouse accepted the token but could not get an answer from the tenant's MCP server. Check that " +
			"the upstream MCP URL is up, reachable from Gatehouse, and answers in time (change upstream_mcp_url if it moved)."}},
	ProblemRefreshReused: {step: StepMCP, phrase: "reused an old refresh token", advice: advice{
		"An old refresh token was reused; the grant was revoked",
		"The client refreshed with a stale refresh token (two refreshes racing longer than the grace window, or a " +
			"restored copy). Raise refresh_grace_seconds (default 60) if the client refreshes in parallel; the user must reconnect."}},
}

// newProblem is the problem of code found at at, with the facts of the case
// in detail; its words come from the code's entry.
func newProblem(code string, at time.Time, detail string) *Problem {
	k := problemKinds[code]
	return &Problem{Code: code, Step: k.step, StepLabel: StepLabel(k.step), At: at, Title: k.title, Detail: detail, Fix: k.fix}
}

// otherCase switches p to its code's second case (problemKind.other).
func (p *Problem) otherCase() *Problem {
	if o := problemKinds[p.Code].other; o != nil {
		p.Title, p.Fix = o.title, o.fix
	}
	return p
}

// fixFor picks the fix of p's code that matches the reason text.
func (p *Problem) fixFor(reason string) *Problem {
	l := strings.ToLower(reason)
	for _, rf := range problemKinds[p.Code].fixFor {
		for _, w := range rf.words {
			if strings.Contains(l, w) {
				p.Fix = rf.fix
				return p
			}
		}
	}
	return p
}

// forTenant fills the tenant's slug into the fix (API paths and URL shapes
// name it).
func (p *Problem) forTenant(t *tenants.Tenant) {
	if t != nil && t.Slug != "" {
		p.Fix = strings.ReplaceAll(p.Fix, "{slug}", t.Slug)
	}
}

// failureCode maps an event after the token to a problem code ("" = not a failure).
func failureCode(ev tenants.AuditEvent) string {
	switch ev.Action {
	case tenants.ActMCPDenied:
		for code, k := range problemKinds {
			if slices.Contains(k.reasons, ev.Reason) {
				return code
			}
		}
		return ProblemBadToken
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

// problemPhrase completes "N request(s) …" for a problem of the MCP step.
func problemPhrase(code string) string { return problemKinds[code].phrase }
