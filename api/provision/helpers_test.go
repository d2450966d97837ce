package provision_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/api/provision"
	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/gormstore"
)

const (
	adminToken = "gha_test-admin-token-0123456789abcdef"
	publicURL  = "http://localhost:8080"
)

// secretKey is the sealing key shared with the CLI in round-trip tests.
var secretKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))

// recBus records published notices (what the API tells other replicas).
type recBus struct {
	mu  sync.Mutex
	msg []string
}

func (b *recBus) Publish(_ context.Context, topic, payload string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msg = append(b.msg, topic+"|"+payload)
	return nil
}

func (b *recBus) Subscribe(string, func(string)) {}

func (b *recBus) has(topic, payload string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.msg {
		if m == topic+"|"+payload {
			return true
		}
	}
	return false
}

// env is one API server on one backend.
type env struct {
	t       *testing.T
	dsn     string
	store   *gormstore.Store
	sealer  *tenants.Sealer
	deps    *httpx.Deps
	bus     *recBus
	engine  *gin.Engine
	handler http.Handler
	// audit sees every audit event and fails the test on a leaked secret.
	auditor *testkit.Auditor
}

type envOpts struct {
	tenantDomain string
	noDevIdP     bool
}

// eachBackend runs fn against SQLite and Postgres.
func eachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	testkit.Backends(t, func(t *testing.T, dsn func(t *testing.T) string) { fn(t, newEnv(t, dsn(t), nil)) })
}

// newEnv serves the provisioning API over services the test kit builds as
// the composition root does.
func newEnv(t *testing.T, dsn string, o *envOpts) *env {
	t.Helper()
	if o == nil {
		o = &envOpts{}
	}
	keyBytes, err := tenants.ParseSecretKeys([]string{secretKey})
	if err != nil {
		t.Fatal(err)
	}
	bus := &recBus{}
	k := testkit.New(t, testkit.Options{DSN: dsn, SecretKeys: keyBytes, PublicURL: publicURL, TenantDomain: o.tenantDomain,
		NoDevIdP: o.noDevIdP, AdminToken: adminToken, Bus: bus})
	gin.SetMode(gin.TestMode)
	r := gin.New()
	// The same router settings as api.New.
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	r.HandleMethodNotAllowed = true
	r.Use(httpx.Recover(k.Logger), httpx.RequestInfo())
	provision.Register(r, k.Deps)
	return &env{t: t, dsn: dsn, store: k.DB, sealer: k.Sealer, deps: k.Deps, bus: bus, engine: r, handler: k.Deps.Sites.HostMode(r), auditor: k.Audit}
}

// resp is an answer, already checked against openapi.yaml.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.body)
	}
	return m
}

// problem decodes and checks a problem+json answer (RFC 9457 §3).
func (r resp) problem(t *testing.T, status int) provision.Problem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p provision.Problem
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("problem body: %v\n%s", err, r.body)
	}
	if p.Status != status || p.Type == "" || p.Title == "" || p.Detail == "" || p.Instance == "" {
		t.Fatalf("incomplete problem: %+v", p)
	}
	return p
}

// fieldErr asserts the problem names field with a detail containing frag.
func fieldErr(t *testing.T, p provision.Problem, field, frag string) {
	t.Helper()
	for _, e := range p.Errors {
		if e.Field == field && strings.Contains(e.Detail, frag) {
			return
		}
	}
	t.Fatalf("problem has no error for field %q containing %q: %+v", field, frag, p.Errors)
}

type req struct {
	method, path, token string
	body                any // string or []byte are sent raw; anything else as JSON
	ct                  string
	hdr                 map[string]string
}

// do sends r and validates the answer against openapi.yaml.
func (e *env) do(r req) resp {
	e.t.Helper()
	var body io.Reader
	var raw []byte
	switch b := r.body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		raw, _ = json.Marshal(b)
	}
	if raw != nil {
		body = bytes.NewReader(raw)
	}
	hr := httptest.NewRequest(r.method, r.path, body)
	if raw != nil {
		ct := r.ct
		if ct == "" {
			ct = "application/json"
		}
		if ct != "-" {
			hr.Header.Set("Content-Type", ct)
		}
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.hdr {
		if k == "Host" {
			hr.Host = v
			continue
		}
		hr.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, hr)
	out := resp{status: w.Code, header: w.Header(), body: w.Body.Bytes()}
	if strings.HasPrefix(r.path, "/api/v1/") {
		ginOwn := (out.status == 404 || out.status == 405) && out.header.Get("Content-Type") != "application/problem+json"
		if cc := out.header.Get("Cache-Control"); r.path != "/api/v1/openapi.yaml" && !ginOwn && cc != "no-store" {
			e.t.Errorf("%s %s: Cache-Control %q, want no-store", r.method, r.path, cc)
		}
		if !ginOwn {
			validateResponse(e.t, r.method, r.path, raw, out)
		}
	}
	return out
}

func (e *env) admin(method, path string, body any) resp {
	e.t.Helper()
	return e.do(req{method: method, path: path, token: adminToken, body: body})
}

// mkTenant creates a tenant over the API and returns its view.
func (e *env) mkTenant(slug string, extra map[string]any) map[string]any {
	e.t.Helper()
	b := map[string]any{"slug": slug, "upstream_mcp_url": "https://upstream.example.com/mcp"}
	for k, v := range extra {
		b[k] = v
	}
	r := e.admin("POST", "/api/v1/tenants", b)
	if r.status != http.StatusCreated {
		e.t.Fatalf("create %s: %d %s", slug, r.status, r.body)
	}
	return r.json(e.t)
}

// mkKey makes a tenant API key.
func (e *env) mkKey(slug string) (key, id string) {
	e.t.Helper()
	r := e.admin("POST", "/api/v1/tenants/"+slug+"/api-keys", map[string]any{"name": "ci"})
	if r.status != http.StatusCreated {
		e.t.Fatalf("api key: %d %s", r.status, r.body)
	}
	m := r.json(e.t)
	return m["key"].(string), m["id"].(string)
}

func (e *env) tenant(slug string) *tenants.Tenant {
	e.t.Helper()
	t, err := e.store.GetTenantBySlug(context.Background(), slug)
	if err != nil {
		e.t.Fatalf("tenant %s: %v", slug, err)
	}
	return t
}

func (e *env) audit(tenantID, action string) []tenants.AuditEvent {
	e.t.Helper()
	items, _, err := e.store.ListAuditEvents(context.Background(), tenantID, tenants.AuditFilter{Action: action, Page: tenants.Page{Limit: 200}})
	if err != nil {
		e.t.Fatal(err)
	}
	return items
}

// ---- OpenAPI response validation ----

var (
	specOnce   sync.Once
	specDoc    *openapi3.T
	specRouter routers.Router
	specErr    error
)

func spec(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		specDoc, specErr = loader.LoadFromData(provision.OpenAPISpec())
		if specErr != nil {
			return
		}
		if specErr = specDoc.Validate(loader.Context); specErr != nil {
			return
		}
		specRouter, specErr = gorillamux.NewRouter(specDoc)
	})
	if specErr != nil {
		t.Fatalf("openapi.yaml: %v", specErr)
	}
	return specDoc, specRouter
}

// validateResponse checks a real answer against openapi.yaml.
func validateResponse(t *testing.T, method, path string, reqBody []byte, r resp) {
	t.Helper()
	spec(t)
	if err := checkResponse(method, path, reqBody, r); err != nil {
		t.Errorf("%v\nbody: %s", err, r.body)
	}
}

// checkResponse validates an answer: its status must be documented for the
// operation and its body must match the schema.
func checkResponse(method, path string, reqBody []byte, r resp) error {
	_, router := specDoc, specRouter
	u, _ := url.Parse("http://localhost:8080" + path)
	// URL-shaped client ids contain slashes the spec router cannot match in
	// one segment; validate those answers as for a plain id.
	if i := strings.Index(u.Path, "/clients/"); i > 0 {
		u.Path = u.Path[:i] + "/clients/x"
		u.RawPath = ""
	}
	hr, _ := http.NewRequest(method, u.String(), bytes.NewReader(reqBody))
	route, params, err := router.FindRoute(hr)
	if err != nil {
		if r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed {
			return nil // gin's own answer for a route that does not exist
		}
		return fmt.Errorf("%s %s: answered %d but the spec has no such operation: %v", method, path, r.status, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: hr, PathParams: params, Route: route},
		Status:                 r.status,
		Header:                 r.header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(r.body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s → %d does not match openapi.yaml: %v", method, path, r.status, err)
	}
	return nil
}
