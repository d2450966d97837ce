package web

import (
	"bytes"
	"io/fs"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"
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
	if out, err := execute(s, "ok"); err != nil || out != "fine" {
		t.Fatalf("execute: %q %v", out, err)
	}
}

// dict names a partial's values; a call with a value but no name, or a
// name that is not a string, fails the page rather than passing nonsense.
func TestDictPassesNamedValuesToAPartial(t *testing.T) {
	fsys := fstest.MapFS{"templates/p.html": {Data: []byte(`{{define "row"}}{{.Label}}={{.N}}{{end}}` +
		`{{define "ok"}}{{template "row" (dict "Label" "a" "N" 1)}}{{end}}` +
		`{{define "odd"}}{{template "row" (dict "Label")}}{{end}}{{define "unnamed"}}{{template "row" (dict 1 2)}}{{end}}`)}}
	s, err := parse(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := execute(s, "ok"); err != nil || out != "a=1" {
		t.Fatalf("dict: %q %v", out, err)
	}
	for _, name := range []string{"odd", "unnamed"} {
		if _, err := execute(s, name); err == nil {
			t.Errorf("%s: dict accepted arguments that are not name-value pairs", name)
		}
	}
}

// execute renders the template name of s with no data.
func execute(s *Set, name string) (string, error) {
	var buf bytes.Buffer
	err := s.Execute(&buf, name, nil)
	return buf.String(), err
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

// Customer-facing pages name no environment variable and show no
// unfilled {placeholder}: the words are for the people running a team, not
// for the operator's shell.
func TestTemplatesHaveNoEnvNamesOrPlaceholders(t *testing.T) {
	placeholder := regexp.MustCompile(`(^|[^{])\{[a-zA-Z_.]+\}($|[^}])`)
	files, err := fs.Glob(assets, "templates/*.html")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	for _, f := range files {
		b, _ := fs.ReadFile(assets, f)
		// Template comments are for us.
		text := regexp.MustCompile(`(?s)\{\{/\*.*?\*/\}\}`).ReplaceAllString(string(b), "")
		for i, line := range strings.Split(text, "\n") {
			if strings.Contains(line, "GATEHOUSE_") {
				t.Errorf("%s:%d names an environment variable: %s", f, i+1, strings.TrimSpace(line))
			}
			if m := placeholder.FindString(line); m != "" {
				t.Errorf("%s:%d has a placeholder %q", f, i+1, m)
			}
		}
	}
}

func TestDurationAndAgoInWords(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1 hour", 3600 * 24 * 30 * time.Second: "30 days", 1209600 * time.Second: "14 days",
		60 * time.Second: "1 minute", 90 * time.Second: "90 seconds", 2*time.Hour + 30*time.Minute: "150 minutes",
		36*time.Hour + time.Second: "about 2 days", 0: "0 seconds",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%s) = %q, want %q", d, got, want)
		}
	}
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	for at, want := range map[time.Time]string{
		now.Add(-3 * time.Hour): "3 hours ago", now.Add(-20 * time.Second): "just now", now.Add(-5 * time.Minute): "5 minutes ago",
		now.Add(-72 * time.Hour): "3 days ago", now.Add(30 * 24 * time.Hour): "in 30 days", {}: "never",
	} {
		if got := Ago(at, now); got != want {
			t.Errorf("Ago(%s) = %q, want %q", at, got, want)
		}
	}
}
