package tenants

import (
	"context"
	"log/slog"
	"time"
)

// Audit action names (docs/RULES.md §8). The connection doctor reads these.
const (
	ActClientRegistered = "client.registered"
	ActClientExpired    = "client.expired"
	ActClientDeleted    = "client.deleted"
	ActAuthorizeStarted = "authorize.started"
	ActLoginSucceeded   = "login.succeeded"
	ActLoginFailed      = "login.failed"
	ActConsentGranted   = "consent.granted"
	ActConsentDenied    = "consent.denied"
	ActCodeIssued       = "code.issued"
	ActTokenIssued      = "token.issued"
	ActTokenRefreshed   = "token.refreshed"
	ActRefreshReused    = "refresh.reused"
	ActTokenRevoked     = "token.revoked"
	ActGrantRevoked     = "grant.revoked"
	ActKeyRotated       = "key.rotated"
	ActMCPDenied        = "mcp.denied"
	ActMCPToolCalled    = "mcp.tool_called"
	ActMCPRequest       = "mcp.request" // audit_mcp_calls=all: every forwarded request
	ActUpstreamFailed   = "mcp.upstream_failed"
	// Provisioning changes use "admin.<resource>.<verb>", e.g. admin.tenant.created.

	// Accounts, teams and operators (DESIGN §12). Account events are
	// platform events (tenant ""); team events are the team's.
	ActAccountCreated         = "account.created"
	ActAccountVerified        = "account.verified"
	ActAccountLogin           = "account.login"  // outcome success | failure
	ActAccountLogout          = "account.logout" //
	ActAccountPasswordChanged = "account.password_changed"
	ActAccountResetRequested  = "account.reset_requested"
	ActAccountTOTPEnabled     = "account.totp_enabled"
	ActAccountTOTPDisabled    = "account.totp_disabled"
	ActAccountSessionsEnded   = "account.sessions_ended"
	ActOperatorGranted        = "operator.granted"
	ActTeamCreated            = "team.created"
	ActMemberInvited          = "team.member_invited"
	ActMemberJoined           = "team.member_joined"
	ActMemberRoleChanged      = "team.member_role_changed"
	ActMemberRemoved          = "team.member_removed"
	ActIdPRemoved             = "admin.idp.removed"
	ActTeamSuspended          = "team.suspended"
	ActTeamResumed            = "team.resumed"
	ActTeamDeleted            = "team.deleted"
)

// Audit detail keys. Every writer and every reader of AuditEvent.Details
// (the gateway, the authorization server, the connection doctor, the
// console) names a key through these constants, so a writer and a reader
// cannot drift apart.
const (
	DetailGrantID                 = "grant_id"
	DetailGrantType               = "grant_type"
	DetailScopes                  = "scopes"
	DetailClientName              = "client_name"
	DetailHTTPMethod              = "http_method"
	DetailStatus                  = "status"
	DetailURLMode                 = "url_mode"
	DetailDescription             = "description"
	DetailProtocol                = "protocol_version"
	DetailMCPMethod               = "mcp_method"     // mcp.denied: the (first) JSON-RPC method of the request
	DetailMCPMethods              = "mcp_methods"    // mcp.request: every JSON-RPC method of the request
	DetailTool                    = "tool"           // mcp.tool_called: the tool called
	DetailTools                   = "tools"          // mcp.denied (scope): the tools the request calls
	DetailRequiredScope           = "required_scope" // mcp.denied (scope): the scope those tools need
	DetailTokenAudience           = "token_aud"      // mcp.denied (wrong_audience): the audience the token carries
	DetailResource                = "resource"
	DetailError                   = "error"
	DetailErrorDesc               = "error_description"
	DetailIdPError                = "idp_error"
	DetailHasSession              = "has_session"
	DetailStreamClosed            = "stream_closed"
	DetailAllowedClients          = "allowed_clients"
	DetailAPIKeyID                = "api_key_id"
	DetailApplicationType         = "application_type"
	DetailAskedAuthMethod         = "asked_auth_method"
	DetailDomain                  = "domain"
	DetailEmail                   = "email"
	DetailFields                  = "fields"
	DetailGeneration              = "generation"
	DetailID                      = "id"
	DetailIdleTTLDays             = "idle_ttl_days"
	DetailIdP                     = "idp"
	DetailInvited                 = "invited"
	DetailInvitedEmail            = "invited_email"
	DetailIssuer                  = "issuer"
	DetailKind                    = "kind"
	DetailLastUsedAt              = "last_used_at"
	DetailMember                  = "member"
	DetailMode                    = "mode"
	DetailName                    = "name"
	DetailOperator                = "operator"
	DetailProvider                = "provider"
	DetailQuota                   = "quota"
	DetailReadOnly                = "read_only"
	DetailRecord                  = "record"
	DetailRedirectOrigin          = "redirect_origin"
	DetailRedirectOrigins         = "redirect_origins"
	DetailRefreshToken            = "refresh_token"
	DetailRetryAfter              = "retry_after"
	DetailRevokedGrants           = "revoked_grants"
	DetailRevokedUsers            = "revoked_users"
	DetailSessionsEnded           = "sessions_ended"
	DetailSlug                    = "slug"
	DetailTenantID                = "tenant_id"
	DetailTokenEndpointAuthMethod = "token_endpoint_auth_method"
	DetailTokenType               = "token_type"
	DetailType                    = "type"
	DetailUserID                  = "user_id"
	DetailKID                     = "kid"           // key.rotated: the key that signs from now on
	DetailRetiredKID              = "retired_kid"   // key.rotated: the key that stopped signing
	DetailNextKID                 = "next_kid"      // key.rotated: the key published for the next rotation
	DetailDeletedKIDs             = "deleted_kids"  // key.rotated: retired keys removed from the JWKS
	DetailManual                  = "manual"        // key.rotated: rotated on request, not by the schedule
	DetailAccountEmail            = "account_email" // account.*, team.*: the account acted on
	DetailRole                    = "role"          // team.*: the role given
	DetailMethod                  = "method"        // account.login: password | password+totp | idp:<type>
	DetailTeam                    = "team"          // operator events: the team's slug
	// token.issued through an authorization grant profile (docs/RULES.md §11).
	DetailGrantProfile     = "grant_profile"     // e.g. GrantProfileIDJAG
	DetailEnterpriseIssuer = "enterprise_issuer" // the ID-JAG's iss
	DetailClientAuth       = "client_auth"       // how the client authenticated (private_key_jwt, …)
	DetailDPoP             = "dpop"              // the token is DPoP-bound (RFC 9449)
)

// Refusal reasons of the jwt-bearer grant (ID-JAG), client assertions and
// DPoP proofs, beside the mcp.denied reasons they share (bad_signature,
// unknown_key, wrong_audience, expired, malformed).
const (
	ReasonUntrustedIssuer  = "untrusted_issuer"
	ReasonWrongType        = "wrong_type"
	ReasonWrongResource    = "wrong_resource"
	ReasonReplayed         = "replayed"
	ReasonLifetime         = "lifetime_too_long"
	ReasonNotYetValid      = "not_yet_valid"
	ReasonClientMismatch   = "client_mismatch"
	ReasonClientNotAllowed = "client_not_allowed"
	ReasonScopeWidened     = "scope_widened"
	ReasonKeysUnavailable  = "keys_unavailable"
	ReasonMissingClaim     = "missing_claim"
	ReasonDPoP             = "dpop" // mcp.denied: DPoP proof missing, invalid or replayed, or a bound token sent as Bearer
)

// mcp.denied reasons.
const (
	ReasonNoHeader     = "no_header"
	ReasonMalformed    = "malformed"
	ReasonBadSignature = "bad_signature"
	ReasonWrongAud     = "wrong_audience"
	ReasonExpired      = "expired"
	ReasonRevoked      = "revoked"
	ReasonUnknownKey   = "unknown_key"
	ReasonScope        = "scope"
	// ReasonQuota: over the tenant's or the user's MCP requests per minute.
	ReasonQuota = "quota"
)

// Outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
)

// Auditor records audit events. Implementations must not drop events: the
// queued implementation falls back to a synchronous write when the queue is
// unreachable.
type Auditor interface {
	Record(ctx context.Context, ev AuditEvent)
}

// RequestInfo is what the HTTP layer knows about the caller; the auditor
// copies it into events so domain code need not pass it around.
type RequestInfo struct {
	IP        string
	UserAgent string
	RequestID string
	Actor     string
}

type requestInfoKey struct{}

// WithRequestInfo attaches request info to ctx.
func WithRequestInfo(ctx context.Context, ri RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

// RequestInfoFrom returns the request info of ctx (zero if none).
func RequestInfoFrom(ctx context.Context) RequestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return ri
}

// Complete fills id, time, outcome and the request fields from ctx.
func (ev *AuditEvent) Complete(ctx context.Context) {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.ID == "" {
		ev.ID = OrderedID(ev.Time)
	}
	if ev.Outcome == "" {
		ev.Outcome = OutcomeSuccess
	}
	ri := RequestInfoFrom(ctx)
	if ev.IP == "" {
		ev.IP = ri.IP
	}
	if ev.UserAgent == "" {
		ev.UserAgent = Truncate(ri.UserAgent, 512)
	}
	if ev.RequestID == "" {
		ev.RequestID = ri.RequestID
	}
	if ev.Actor == "" {
		ev.Actor = ri.Actor
	}
}

// Truncate cuts s to at most n bytes: what clients send (user agents,
// protocol names, tool names) is bounded before it reaches an audit event.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// SyncAuditor writes each event immediately. It is the fallback of the queued
// auditor and what tests use when no queue runs.
type SyncAuditor struct {
	Store  AuditStore
	Logger *slog.Logger
}

// Record writes ev now; a failure is logged loudly (the event is also logged
// so it is not lost).
func (a *SyncAuditor) Record(ctx context.Context, ev AuditEvent) {
	ev.Complete(ctx)
	if err := a.Store.InsertAuditEvents(context.WithoutCancel(ctx), []AuditEvent{ev}); err != nil && a.Logger != nil {
		a.Logger.Error("audit write failed", "err", err, "action", ev.Action, "tenant", ev.TenantID, "event_id", ev.ID)
	}
}
