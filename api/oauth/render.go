package oauth

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	as "github.com/gatehouse/gatehouse/tenants/oauth"
)

// pageData is what every oauth_* template gets.
type pageData struct {
	Title   string
	Nonce   string // CSP nonce for the inline style
	Tenant  string
	Issuer  string
	Error   *as.Error
	Request string // pending authorization id
	CSRF    string
	Action  string // form target
	IdPs    []idpChoice
	Consent *as.ConsentInfo
	Message string
	Client  string // the requesting application's name, on the sign-in pages
}

type idpChoice struct {
	Label string
	URL   string
}

// page renders an HTML page with the security headers of docs/RULES.md §5: no
// framing, a strict CSP whose form-action admits the client's redirect origin
// (a form post that ends in a redirect is checked against it).
func (h *handler) page(c *gin.Context, status int, name string, d pageData, formTargets ...string) {
	d.Nonce = tenants.RandomID()
	site := httpx.Site(c)
	if site.Tenant != nil {
		d.Tenant, d.Issuer = site.Tenant.Name, site.Issuer
	}
	fa := []string{"'self'"}
	for _, t := range formTargets {
		if t != "" {
			fa = append(fa, cspSource(t))
		}
	}
	hd := c.Writer.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+d.Nonce+"'; img-src https: data:; form-action "+strings.Join(fa, " ")+"; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-store")
	var buf bytes.Buffer
	if err := h.d.Pages.Execute(&buf, name, d); err != nil {
		// Templates are parsed at start-up, so this is a data error in
		// one page; the user still gets the message, as plain text.
		h.d.Logger.Error("oauth page failed to render", "template", name, "err", err)
		buf.Reset()
		hd.Set("Content-Type", "text/plain; charset=utf-8")
		msg := d.Title
		if d.Error != nil {
			msg += ": " + d.Error.Description
		}
		buf.WriteString(msg + "\n")
	}
	c.Data(status, hd.Get("Content-Type"), buf.Bytes())
}

// cspSource turns a redirect origin into a CSP source expression.
func cspSource(origin string) string {
	if i := strings.Index(origin, "://"); i > 0 {
		scheme := origin[:i]
		if scheme != "http" && scheme != "https" {
			return scheme + ":" // private-use scheme: scheme-source
		}
		return strings.NewReplacer(";", "", ",", "", " ", "").Replace(origin)
	}
	return strings.TrimSuffix(origin, ":") + ":"
}

// errorPage shows an error that must not be redirected (RFC 6749 §4.1.2.1).
func (h *handler) errorPage(c *gin.Context, status int, e *as.Error) {
	h.logError(c, e)
	if status == 0 {
		status = e.HTTPStatus()
		if status == http.StatusUnauthorized {
			status = http.StatusBadRequest
		}
	}
	h.page(c, status, "oauth_error.html", pageData{Title: "Sign-in could not continue", Error: e})
}
