// Package web holds the embedded templates and static assets: login chooser,
// dev login, consent and error pages, signup, accounts and the team console.
//
// It is a leaf: it imports nothing of Gatehouse, so every HTTP surface
// (api/oauth, api/console) can depend on it and it on none of them. The
// template set is parsed once at start-up (Parse); a broken template fails
// the process there, never a page at run time.
package web

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
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
	"days": func(d time.Duration) string { return Duration(d.Round(24 * time.Hour)) },
	// seconds says a number of seconds (a form value) in hours or days
	// ("3600" → "1 hour"); "" when it is not a number.
	"seconds": func(v string) string {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			return ""
		}
		return Duration(time.Duration(n) * time.Second)
	},
	// ago says how long ago t was ("3 hours ago"); "never" when unset.
	"ago": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			return Ago(v, time.Now())
		case *time.Time:
			if v != nil {
				return Ago(*v, time.Now())
			}
		}
		return "never"
	},
	"join":    func(sep string, items []string) string { return strings.Join(items, sep) },
	"idpName": IdPName,
	// among reports whether item is one of the space-separated list.
	"among": func(list, item string) bool { return slices.Contains(strings.Fields(list), item) },
	// dict3 passes a form field's name, label and default with the page.
	"dict3": func(name, label, def string, v any) map[string]any {
		return map[string]any{"Name": name, "Label": label, "Default": def, "V": v}
	},
	// dict passes named values to a partial: dict "Name" value "Other" value….
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, fmt.Errorf("dict: %d arguments, want name-value pairs", len(kv))
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict: argument %d is %T, want a name", i, kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
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

// Set is the parsed template set, shared by every HTTP surface.
type Set struct {
	t *template.Template
}

// Parse parses every embedded template. Call it once at start-up and stop
// when it fails.
func Parse() (*Set, error) { return parse(assets) }

func parse(fsys fs.FS) (*Set, error) {
	t, err := template.New("").Funcs(funcs).ParseFS(fsys, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web templates: %w", err)
	}
	return &Set{t: t}, nil
}

// Has reports whether the set defines the named template.
func (s *Set) Has(name string) bool { return s != nil && s.t.Lookup(name) != nil }

// Execute renders the named template to w.
func (s *Set) Execute(w io.Writer, name string, data any) error {
	if s == nil {
		return fmt.Errorf("web templates: not parsed")
	}
	return s.t.ExecuteTemplate(w, name, data)
}

// Static is the static asset tree.
func Static() fs.FS {
	sub, _ := fs.Sub(assets, "static")
	return sub
}

// Duration says d in the largest whole unit that fits it exactly (days,
// hours, minutes), in seconds under two minutes, else approximately in the
// largest unit ("about 2 days").
func Duration(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	units := []struct {
		d    time.Duration
		name string
	}{{24 * time.Hour, "day"}, {time.Hour, "hour"}, {time.Minute, "minute"}}
	for _, u := range units {
		if d >= u.d && d%u.d == 0 {
			return plural(int(d/u.d), u.name)
		}
	}
	if d < 2*time.Minute {
		return plural(int(d.Round(time.Second)/time.Second), "second")
	}
	for _, u := range units {
		if d >= u.d {
			return "about " + plural(int((d+u.d/2)/u.d), u.name)
		}
	}
	return ""
}

// Ago says how long before now t was, in the largest sensible unit.
func Ago(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in " + roughly(-d)
	case d < time.Minute:
		return "just now"
	}
	return roughly(d) + " ago"
}

func roughly(d time.Duration) string {
	switch {
	case d < time.Hour:
		return plural(max(int(d/time.Minute), 1), "minute")
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour")
	}
	return plural(int(d/(24*time.Hour)), "day")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// IdPName says an IdP type in words.
func IdPName(typ string) string {
	switch typ {
	case "dev":
		return "Development login"
	case "github":
		return "GitHub"
	case "google":
		return "Google"
	case "oidc":
		return "OpenID Connect"
	}
	return typ
}
