// Package web holds the embedded templates and static assets: login chooser,
// dev login, consent and error pages, signup and the tenant console.
//
// The console and signup are server-rendered (html/template, no JS framework)
// and call the domain directly: tenants.Provisioner, the store, the key
// manager and tenants.RevokeGrant. Handlers stay thin: parse, call, render.
package web

import (
	"embed"
	"html/template"
	"io/fs"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
)

//go:embed templates static
var assets embed.FS

// funcs are available to every template (the oauth_* pages included).
var funcs = template.FuncMap{
	"fmtTime": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return ""
	},
	"days": func(d time.Duration) string {
		n := int(d / (24 * time.Hour))
		if n == 1 {
			return "1 day"
		}
		return strconv.Itoa(n) + " days"
	},
	"join": func(sep string, items []string) string { return strings.Join(items, sep) },
	// dict3 passes a form field's name, label and default with the page.
	"dict3": func(name, label, def string, v any) map[string]any {
		return map[string]any{"Name": name, "Label": label, "Default": def, "V": v}
	},
	"hasErr": func(errs map[string][]string, field string) bool { return len(errs[field]) > 0 },
	// query builds an encoded query string; it is typed as a URL so that
	// html/template does not escape its '=' and '&' a second time.
	"query": func(kv ...string) template.URL {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				v.Set(kv[i], kv[i+1])
			}
		}
		return template.URL(v.Encode()) // #nosec: every value is url-encoded above
	},
}

// Templates parses every template under templates/.
func Templates() *template.Template {
	return template.Must(template.New("").Funcs(funcs).ParseFS(assets, "templates/*.html"))
}

// Static is the static asset tree.
func Static() fs.FS {
	sub, _ := fs.Sub(assets, "static")
	return sub
}

// Register mounts the landing page, signup, the console and static assets.
func Register(r *gin.Engine, d *httpx.Deps) {
	newUI(d, nil).register(r)
}
