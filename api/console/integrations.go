package console

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

// The custom domain and the audit webhook are tenant settings: the console
// changes them through Provisioner.PatchTenant, the same validation and
// audit as PATCH /api/v1/tenants/{slug}.

type integrationsData struct {
	WebhookURL string
	Deliveries []tenants.WebhookDelivery
}

func (u *ui) integrationsPage(c *gin.Context) {
	u.renderIntegrations(c, http.StatusOK, nil, nil)
}

// renderIntegrations shows the page, with the fields of a refused change.
func (u *ui) renderIntegrations(c *gin.Context, status int, errs map[string][]string, form map[string]string) {
	t := tenantOf(c)
	ds, _, err := u.d.Store.ListWebhookDeliveries(c.Request.Context(), t.ID, tenants.Page{Limit: 10})
	if err != nil {
		u.fail(c, err)
		return
	}
	v := u.page(c, "Domain and webhook — "+t.Name, "integrations")
	v.Data = integrationsData{WebhookURL: t.Settings.AuditWebhookURL, Deliveries: ds}
	v.Flash = u.teamFlash(c)
	if errs != nil {
		v.Errors, v.Notice = errs, "Not saved; fix the field marked below."
		for k, val := range form {
			v.Form[k] = val
		}
	}
	u.render(c, status, "console_integrations", v)
}

// patch applies a merge patch (RFC 7396) to the tenant; on a validation
// error it shows the page again with the errors and form.
func (u *ui) patch(c *gin.Context, patch map[string]any, form map[string]string) bool {
	t := tenantOf(c)
	raw, _ := json.Marshal(patch)
	if _, _, err := u.prov.PatchTenant(c.Request.Context(), t, raw, tenants.PatchOptions{Admin: sessionOf(c).IsOperator()}); err != nil {
		if fe, ok := fieldErrors(err); ok {
			u.renderIntegrations(c, http.StatusUnprocessableEntity, fe, form)
			return false
		}
		u.fail(c, err)
		return false
	}
	u.changed(c, t)
	return true
}

func (u *ui) domainSet(c *gin.Context) {
	d := strings.ToLower(strings.TrimSpace(c.PostForm("custom_domain")))
	if !u.patch(c, map[string]any{"custom_domain": d}, map[string]string{"custom_domain": d}) {
		return
	}
	u.backWith(c, "/integrations", "Custom domain saved. Publish the DNS record below to verify it.")
}

func (u *ui) domainRemove(c *gin.Context) {
	if !u.patch(c, map[string]any{"custom_domain": nil}, nil) {
		return
	}
	u.backWith(c, "/integrations", "Custom domain removed: the connector answers only at its platform addresses.")
}

// webhookSet sets the audit webhook URL with a new signing secret, shown
// once on the next page (it is sealed at rest and never shown again).
func (u *ui) webhookSet(c *gin.Context) {
	url := strings.TrimSpace(c.PostForm("audit_webhook_url"))
	secret := tenants.RandomToken()
	if !u.patch(c, map[string]any{"settings": map[string]any{"audit_webhook_url": url, "audit_webhook_secret": secret}},
		map[string]string{"audit_webhook_url": url}) {
		return
	}
	_ = u.setFlash(c, &flash{Binding: sessionOf(c).ID, Kind: "webhook_secret", Values: map[string]string{"secret": secret, "url": url}}, "/console")
	c.Redirect(http.StatusSeeOther, u.tenantURL(tenantOf(c), "/integrations"))
}

func (u *ui) webhookRemove(c *gin.Context) {
	if !u.patch(c, map[string]any{"settings": map[string]any{"audit_webhook_url": nil, "audit_webhook_secret": nil}}, nil) {
		return
	}
	u.backWith(c, "/integrations", "Audit webhook removed: no more events are sent.")
}
