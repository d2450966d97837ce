package provision_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v4"

	"github.com/gatehouse/gatehouse/tenants/testdb"
)

// newHTTPServer serves h the way cmd/gatehouse/serve.go does (MaxHeaderBytes
// 64 KiB) on a loopback port and returns its base URL.
func newHTTPServer(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			srv.Close()
		}
	})
	return "http://" + ln.Addr().String()
}

var ginParam = regexp.MustCompile(`[:*]([A-Za-z_]+)`)

// Every route registered under /api/v1 is described in openapi.yaml, and
// every operation in openapi.yaml is a registered route.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc, _ := spec(t)
	e := newEnv(t, testdb.SQLite(t), nil)
	registered := map[string]bool{}
	for _, r := range e.engine.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1") {
			continue
		}
		p := ginParam.ReplaceAllString(r.Path, "{$1}")
		registered[r.Method+" "+p] = true
		item := doc.Paths.Find(p)
		if item == nil {
			t.Errorf("route %s %s (%s) is not in openapi.yaml", r.Method, r.Path, p)
			continue
		}
		if item.GetOperation(r.Method) == nil {
			t.Errorf("openapi.yaml describes %s but not its %s", p, r.Method)
		}
	}
	var described []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described = append(described, method+" "+path)
			if !registered[method+" "+path] {
				t.Errorf("openapi.yaml has %s %s but no such route is registered", method, path)
			}
		}
	}
	sort.Strings(described)
	if len(described) < 20 {
		t.Fatalf("only %d operations described: %v", len(described), described)
	}
}

// The spec is served, is OpenAPI 3.1, and parses as YAML.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t, testdb.SQLite(t), nil)
	r := e.do(req{method: "GET", path: "/api/v1/openapi.yaml"}) // no credentials needed
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/yaml") {
		t.Fatalf("%d %s", r.status, r.header.Get("Content-Type"))
	}
	var m map[string]any
	if err := yaml.Unmarshal(r.body, &m); err != nil || m["openapi"] != "3.1.0" {
		t.Fatalf("not an OpenAPI 3.1 YAML document: %v %v", err, m["openapi"])
	}
}

// The response validator itself rejects what the spec does not allow, so
// passing validation means something: a secret field in the IdP view, an
// undocumented status, an incomplete problem.
func TestOpenAPIValidatorCatchesDrift(t *testing.T) {
	spec(t)
	hdr := http.Header{"Content-Type": {"application/json"}}
	phdr := http.Header{"Content-Type": {"application/problem+json"}}
	idp := `{"type":"github","client_secret_set":true,"scopes":[],"allowed_domains":[],"allowed_orgs":[],"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`
	if err := checkResponse("GET", "/api/v1/tenants/acme/idp", nil, resp{status: 200, header: hdr, body: []byte(idp)}); err != nil {
		t.Fatalf("valid IdP view rejected: %v", err)
	}
	for name, r := range map[string]resp{
		"secret echoed":       {status: 200, header: hdr, body: []byte(strings.Replace(idp, `"type"`, `"client_secret":"s","type"`, 1))},
		"undocumented status": {status: 418, header: phdr, body: []byte(`{}`)},
		"incomplete problem":  {status: 404, header: phdr, body: []byte(`{"type":"x","status":404}`)},
		"tenant key leak":     {status: 201, header: hdr, body: []byte(`{"id":"1","name":"","prefix":"ghk_","created_at":"2026-01-01T00:00:00Z","key":"k","hash":"h"}`)},
	} {
		path := "/api/v1/tenants/acme/idp"
		method := "GET"
		if name == "tenant key leak" {
			path, method = "/api/v1/tenants/acme/api-keys", "POST"
		}
		if err := checkResponse(method, path, nil, r); err == nil {
			t.Errorf("%s: the validator accepted it", name)
		}
	}
}
