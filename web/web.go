// Package web holds the embedded templates and static assets: login chooser,
// dev login, consent and error pages, signup and the tenant console.
package web

import (
	"embed"
	"html/template"
	"io/fs"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
)

//go:embed templates static
var assets embed.FS

// Templates parses every template under templates/.
func Templates() *template.Template {
	return template.Must(template.New("").ParseFS(assets, "templates/*.html"))
}

// Static is the static asset tree.
func Static() fs.FS {
	sub, _ := fs.Sub(assets, "static")
	return sub
}

// Register mounts the console and static assets.
func Register(r *gin.Engine, d *httpx.Deps) {}
