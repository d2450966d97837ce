package web

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseEmbeddedDefinesEveryPage(t *testing.T) {
	s, err := Parse()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"oauth_consent.html", "oauth_error.html", "oauth_login.html", "oauth_dev_login.html", "console_error", "site_signup"} {
		if !s.Has(name) {
			t.Errorf("template %q not defined", name)
		}
	}
}

// A typo in any template must fail Parse (start-up), not a page later.
func TestParseFailsOnBrokenTemplate(t *testing.T) {
	fsys := fstest.MapFS{
		"templates/ok.html":     {Data: []byte(`{{define "ok"}}fine{{end}}`)},
		"templates/broken.html": {Data: []byte(`{{define "broken"}}{{ .Oops }`)},
	}
	if _, err := parse(fsys); err == nil || !strings.Contains(err.Error(), "broken.html") {
		t.Fatalf("parse of a broken template: err=%v, want an error naming broken.html", err)
	}
	fsys["templates/broken.html"] = &fstest.MapFile{Data: []byte(`{{define "broken"}}{{ .Oops }}{{end}}`)}
	s, err := parse(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := s.Execute(&buf, "ok", nil); err != nil || buf.String() != "fine" {
		t.Fatalf("execute: %q %v", buf.String(), err)
	}
}

func TestNilSetFailsExecuteAndHasNothing(t *testing.T) {
	var s *Set
	if s.Has("ok") || s.Execute(&bytes.Buffer{}, "ok", nil) == nil {
		t.Fatal("nil set must define nothing and fail to execute")
	}
}

func TestStaticHoldsAssets(t *testing.T) {
	for _, p := range []string{"app.css", "app.js"} {
		if _, err := Static().Open(p); err != nil {
			t.Errorf("static %s: %v", p, err)
		}
	}
}

// web is a leaf: it imports no Gatehouse package, so no HTTP surface can be
// imported by it (docs/ARCHITECTURE.md, "Packages").
func TestWebIsALeaf(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/gatehouse/gatehouse/web").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/gatehouse/gatehouse/") && p != "github.com/gatehouse/gatehouse/web" {
			t.Errorf("web imports %s", p)
		}
	}
}
