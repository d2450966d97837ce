package console

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/doctor"
	"github.com/gatehouse/gatehouse/tenants/egress"
)

type overviewData struct {
	IdPs      []tenants.IdPConfig
	Checklist []checkItem
	// NotPublic explains why Claude.ai and ChatGPT cannot reach the
	// connector URL ("" when they can).
	NotPublic string
}

// checkItem is one onboarding step, checked by the server, not ticked.
type checkItem struct {
	Done   bool
	Title  string
	Detail string
	Link   string
}

// overview is GET /console/t/:slug: connector URLs, the onboarding
// checklist and how to connect each client.
func (u *ui) overview(c *gin.Context) {
	t := tenantOf(c)
	ctx := c.Request.Context()
	idps, err := u.d.Store.ListIdPs(ctx, t.ID)
	if err != nil {
		u.fail(c, err)
		return
	}
	issued, _, err := u.d.Store.ListAuditEvents(ctx, t.ID, tenants.AuditFilter{Action: tenants.ActTokenIssued, Page: tenants.Page{Limit: 1}})
	if err != nil {
		u.fail(c, err)
		return
	}
	v := u.page(c, t.Name+" — Gatehouse console", "overview")
	d := overviewData{IdPs: idps, NotPublic: notPublic(v.TV.Resource)}
	idp := checkItem{Title: "Identity provider", Link: u.tenantURL(t, "/settings")}
	switch {
	case len(idps) == 0:
		idp.Detail = "none yet: nobody can sign in to the connector"
	case len(idps) == 1 && idps[0].Type == tenants.IdPDev:
		idp.Detail = "the development login only: set up GitHub, Google or your OpenID Connect provider before real people use it"
	default:
		idp.Done, idp.Detail = true, "configured"
	}
	cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	up := doctor.CheckUpstream(cctx, u.upstreamCheck, t.UpstreamMCPURL)
	upstream := checkItem{Title: "MCP server reachable", Done: up.OK, Detail: t.UpstreamMCPURL + ": " + up.Detail, Link: u.tenantURL(t, "/settings")}
	client := checkItem{Title: "First client connected", Link: u.tenantURL(t, "/doctor")}
	if len(issued) > 0 {
		client.Done, client.Detail = true, "a client got its first token "+issued[0].Time.UTC().Format("2006-01-02 15:04 UTC")
	} else {
		client.Detail = "no client has connected yet: paste the connector URL into one (steps below)"
	}
	d.Checklist = []checkItem{idp, upstream, client}
	v.Data = d
	v.Flash = u.teamFlash(c)
	u.render(c, http.StatusOK, "console_overview", v)
}

// newUpstreamCheckClient reaches upstream MCP servers under the gateway's
// address policy (DESIGN §3), never following redirects.
func newUpstreamCheckClient(refusePrivate bool) *http.Client {
	return egress.NewClient(egress.Options{Policy: egress.Policy{AllowPrivate: !refusePrivate}, Timeout: 3 * time.Second, Redirects: egress.NoRedirects})
}

// notPublic says why a connector URL cannot be reached by Claude.ai or
// ChatGPT, which connect from the internet over https.
func notPublic(resource string) string {
	u, err := url.Parse(resource)
	if err != nil {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	ip := net.ParseIP(host)
	switch {
	case host == "localhost" || strings.HasSuffix(host, ".localhost") || (ip != nil && ip.IsLoopback()):
		return "This connector URL points at this computer (" + host + "): Claude.ai and ChatGPT connect from the internet and cannot reach it. Local clients (Claude Code, Cursor, VS Code, the MCP Inspector) can."
	case ip != nil && ip.IsPrivate():
		return "This connector URL is a private network address: Claude.ai and ChatGPT connect from the internet and cannot reach it."
	case u.Scheme != "https":
		return "This connector URL is plain http: Claude.ai and ChatGPT connect only to https URLs."
	}
	return ""
}
