package console

import (
	"bytes"
	"encoding/json"
	"errors"
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
	"admin.tenant.created", "admin.tenant.updated", "admin.idp.updated", "admin.api_key.created", "admin.api_key.deleted",
}

func (u *ui) auditPage(c *gin.Context) {
	t := tenantOf(c)
	d := auditData{Action: strings.TrimSpace(c.Query("action")), ClientID: strings.TrimSpace(c.Query("client_id")), Cursor: c.Query("cursor"), Actions: knownActions}
	f := tenants.AuditFilter{Action: d.Action, ClientID: d.ClientID, Page: tenants.Page{Limit: 50, Cursor: d.Cursor}}
	items, next, err := u.d.Store.ListAuditEvents(c.Request.Context(), t.ID, f)
	v := u.page(c, "Audit log — "+t.Name, "audit")
	if errors.Is(err, tenants.ErrBadCursor) {
		v.Notice = "That page link is no longer valid; showing the newest events."
		d.Cursor, f.Cursor = "", ""
		items, next, err = u.d.Store.ListAuditEvents(c.Request.Context(), t.ID, f)
	}
	if err != nil {
		u.fail(c, err)
		return
	}
	d.Next = next
	for _, ev := range items {
		d.Events = append(d.Events, auditRow{AuditEvent: ev, DetailPairs: detailPairs(ev.Details)})
	}
	v.Data = d
	u.render(c, http.StatusOK, "console_audit", v)
}
