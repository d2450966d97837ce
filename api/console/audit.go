package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

type auditData struct {
	Events   []auditRow
	Next     string
	Cursor   string
	Action   string
	ClientID string
	Actions  []string
}

type auditRow struct {
	tenants.AuditEvent
	DetailPairs []kv
	Sentence    string
}

// actionWords says each audit action in words a customer reads.
var actionWords = map[string]string{
	tenants.ActClientRegistered: "registered the client", tenants.ActClientExpired: "client expired after being idle",
	tenants.ActClientDeleted: "deleted the client", tenants.ActAuthorizeStarted: "started signing in",
	tenants.ActLoginSucceeded: "signed in", tenants.ActLoginFailed: "failed to sign in",
	tenants.ActConsentGranted: "approved access", tenants.ActConsentDenied: "denied access",
	tenants.ActCodeIssued: "was given an authorization code", tenants.ActTokenIssued: "was issued a token",
	tenants.ActTokenRefreshed: "refreshed a token", tenants.ActRefreshReused: "reused an old refresh token (access revoked)",
	tenants.ActTokenRevoked: "revoked a token", tenants.ActGrantRevoked: "revoked access",
	tenants.ActKeyRotated: "rotated the signing key", tenants.ActMCPDenied: "was refused at the connector",
	tenants.ActMCPToolCalled: "called a tool", tenants.ActMCPRequest: "sent a request", tenants.ActUpstreamFailed: "reached a failing MCP server",
	tenants.ActAccountCreated: "created an account", tenants.ActAccountVerified: "confirmed their email address",
	tenants.ActAccountLogin: "signed in to the console", tenants.ActAccountLogout: "signed out",
	tenants.ActAccountPasswordChanged: "changed their password", tenants.ActAccountResetRequested: "asked for a password reset",
	tenants.ActAccountTOTPEnabled: "turned on two-step sign-in", tenants.ActAccountTOTPDisabled: "turned off two-step sign-in",
	tenants.ActAccountSessionsEnded: "ended their other sessions", tenants.ActOperatorGranted: "became an operator",
	tenants.ActTeamCreated: "created the team", tenants.ActMemberInvited: "invited someone", tenants.ActMemberJoined: "joined the team",
	tenants.ActMemberRoleChanged: "changed a member's role", tenants.ActMemberRemoved: "removed a member",
	tenants.ActTeamSuspended: "suspended the team", tenants.ActTeamResumed: "resumed the team", tenants.ActTeamDeleted: "deleted the team",
	"admin.tenant.created": "created the team", "admin.tenant.updated": "changed the settings", "admin.idp.updated": "changed the identity provider",
	tenants.ActIdPRemoved:   "removed an identity provider",
	"admin.api_key.created": "created an API key", "admin.api_key.deleted": "deleted an API key", "admin.tenant.deleted": "deleted the team",
}

// sentence is "who did what", e.g. "ada@example.com signed in to the console (failed: wrong_password)".
func sentence(ev tenants.AuditEvent) string {
	who := strings.TrimPrefix(ev.Actor, "account:")
	switch {
	case who == "" && ev.Subject != "":
		who = "user " + ev.Subject
	case who == "" && ev.ClientID != "":
		who = "client " + ev.ClientID
	case who == "":
		if e, ok := ev.Details[tenants.DetailAccountEmail].(string); ok && e != "" {
			who = e
		} else {
			who = "someone"
		}
	case who == "admin":
		who = "the platform admin (API)"
	case strings.HasPrefix(who, "api_key:"):
		who = "an API key"
	}
	what, ok := actionWords[ev.Action]
	if !ok {
		what = strings.ReplaceAll(ev.Action, "_", " ")
	}
	s := who + " " + what
	if ev.Outcome == tenants.OutcomeFailure {
		s += " — failed"
		if ev.Reason != "" {
			s += " (" + strings.ReplaceAll(ev.Reason, "_", " ") + ")"
		}
	}
	return s
}

type kv struct{ K, V string }

// detailPairs renders event details as sorted key/value lines; strings
// unquoted, everything else as compact JSON.
func detailPairs(m tenants.JSONMap) []kv {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]kv, 0, len(keys))
	for _, k := range keys {
		v, ok := m[k].(string)
		if !ok {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false) // html/template escapes on output
			_ = enc.Encode(m[k])
			v = strings.TrimSpace(buf.String())
		}
		out = append(out, kv{K: k, V: v})
	}
	return out
}

var knownActions = []string{
	tenants.ActClientRegistered, tenants.ActClientExpired, tenants.ActClientDeleted, tenants.ActAuthorizeStarted,
	tenants.ActLoginSucceeded, tenants.ActLoginFailed, tenants.ActConsentGranted, tenants.ActConsentDenied,
	tenants.ActCodeIssued, tenants.ActTokenIssued, tenants.ActTokenRefreshed, tenants.ActRefreshReused,
	tenants.ActTokenRevoked, tenants.ActGrantRevoked, tenants.ActKeyRotated, tenants.ActMCPDenied,
	tenants.ActMCPToolCalled, tenants.ActMCPRequest, tenants.ActUpstreamFailed,
	"admin.tenant.created", "admin.tenant.updated", "admin.idp.updated", tenants.ActIdPRemoved, "admin.api_key.created", "admin.api_key.deleted",
}

func (u *ui) auditPage(c *gin.Context) {
	t := tenantOf(c)
	d := auditData{Action: strings.TrimSpace(c.Query("action")), ClientID: strings.TrimSpace(c.Query("client_id")), Actions: knownActions}
	v := u.page(c, "Audit log — "+t.Name, "audit")
	items, next, cursor, err := listPage(c, v, "newest events", func(p tenants.Page) ([]tenants.AuditEvent, string, error) {
		return u.d.Store.ListAuditEvents(c.Request.Context(), t.ID, tenants.AuditFilter{Action: d.Action, ClientID: d.ClientID, Page: p})
	})
	if err != nil {
		u.fail(c, err)
		return
	}
	d.Next, d.Cursor = next, cursor
	for _, ev := range items {
		d.Events = append(d.Events, auditRow{AuditEvent: ev, DetailPairs: detailPairs(ev.Details), Sentence: sentence(ev)})
	}
	v.Data = d
	u.render(c, http.StatusOK, "console_audit", v)
}
