// Package e2e holds the cross-process tests: the real gatehouse binary,
// started as a subprocess, driven from outside by real MCP clients (the
// official Go and TypeScript SDKs, the MCP conformance suite) and by
// scripted reproductions of known client behaviour (docs/RULES.md §10).
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/testkit"
	"github.com/gatehouse/gatehouse/tenants"
)

const adminToken = "gha_e2e-admin-token-0123456789abcdef"

// tenantDomain enables host mode: {slug}.gh.localhost, which the test
// clients resolve to loopback (RFC 6761 §6.3).
const tenantDomain = "gh.localhost"

var (
	binPath string // the gatehouse binary built once by TestMain
	repoDir string
	e2eDir  string

	sharedOnce sync.Once
	shared     *server
	sharedErr  error
	cimd       *cimdHost // TLS fake for client ID metadata documents (claude.ai & co.)
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	wd, _ := os.Getwd()
	e2eDir = wd
	repoDir = filepath.Dir(wd)
	tmp, err := os.MkdirTemp("", "gatehouse-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	binPath = filepath.Join(tmp, "gatehouse")
	build := exec.Command("go", "build", "-o", binPath, "./cmd/gatehouse")
	build.Dir = repoDir
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: building the gatehouse binary failed:", err)
		return 1
	}
	if ca, err = newTestCA(tmp); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: test CA:", err)
		return 1
	}
	cimd, err = newCIMDHost(ca)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: CIMD TLS fake:", err)
		return 1
	}
	defer cimd.close()
	code := m.Run()
	writeCompat()
	if shared != nil {
		shared.stop()
	}
	return code
}

// server is one `gatehouse serve` subprocess behind a TLS front (as in
// production, and because clients refuse plain http to any host but
// loopback: the Go SDK refuses http://{slug}.gh.localhost).
type server struct {
	cmd    *exec.Cmd
	base   string // https://127.0.0.1:TLSPORT: the public URL, through the TLS front
	direct string // http://127.0.0.1:PORT: the binary's own listener
	admin  string // http://127.0.0.1:APORT: its operations listener (/readyz, /metrics)
	port   int
	dir    string
	env    []string
	front  *http.Server

	exchanges []*exchange

	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
}

type serverOpts struct {
	// DatabaseURL and RedisURL select production mode (Postgres + Redis).
	DatabaseURL, RedisURL string
	// Front reuses another server's TLS front address as the public URL
	// (replicas behind one load balancer); the new server gets no front.
	PublicURL string
	// Env is added last.
	Env []string
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts gatehouse serve and waits for /readyz.
func startServer(opts serverOpts) (*server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "gatehouse-e2e-")
	if err != nil {
		return nil, err
	}
	s := &server{port: port, direct: fmt.Sprintf("http://127.0.0.1:%d", port), dir: dir, done: make(chan struct{})}
	if opts.PublicURL != "" {
		s.base = opts.PublicURL
	} else if err := s.startFront(); err != nil {
		return nil, err
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "TMPDIR=" + os.TempDir(),
		fmt.Sprintf("GATEHOUSE_ADDR=127.0.0.1:%d", port),
		// The operations listener takes any free port (many servers run in
		// parallel); start reads it from the "gatehouse serving" log line.
		"GATEHOUSE_ADMIN_ADDR=127.0.0.1:0",
		"GATEHOUSE_PUBLIC_URL=" + s.base,
		"GATEHOUSE_ADMIN_TOKEN=" + adminToken,
		"GATEHOUSE_ALLOW_PRIVATE_FETCH=true",
		"GATEHOUSE_TENANT_DOMAIN=" + tenantDomain,
		"GATEHOUSE_SQLITE_PATH=" + filepath.Join(dir, "gatehouse.db"),
		"GATEHOUSE_LOG_FORMAT=json",
		"GATEHOUSE_DEMO_TENANT=false",
		"GATEHOUSE_TEST_CA_FILE=" + cimd.caFile,
		"GATEHOUSE_TEST_HOST_MAP=" + cimd.hostMap(),
		// The doctor's self-check fetches the public URL: trust the front.
		"SSL_CERT_FILE=" + ca.file,
		// The front sets X-Forwarded-For: client IPs reach the audit log.
		"GATEHOUSE_TRUSTED_PROXIES=127.0.0.1",
	}
	if opts.DatabaseURL != "" {
		env = append(env, "GATEHOUSE_DATABASE_URL="+opts.DatabaseURL, "GATEHOUSE_REDIS_URL="+opts.RedisURL,
			"GATEHOUSE_SECRET_KEY=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "GATEHOUSE_ALLOW_DEV_IDP=true")
	}
	env = append(env, opts.Env...)
	s.env = env
	allServers.Lock()
	allServers.list = append(allServers.list, s)
	allServers.Unlock()
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *server) start() error {
	s.cmd = exec.Command(binPath, "serve")
	s.cmd.Dir = s.dir
	s.cmd.Env = s.env
	s.cmd.Stdout = &lockedWriter{s}
	s.cmd.Stderr = &lockedWriter{s}
	s.done = make(chan struct{})
	s.mu.Lock()
	logFrom := s.logs.Len()
	s.mu.Unlock()
	if err := s.cmd.Start(); err != nil {
		return err
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(30 * time.Second)
	s.admin = ""
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("gatehouse exited during start:\n%s", s.logTail(40))
		default:
		}
		if s.admin == "" {
			s.mu.Lock()
			m := adminAddrLog.FindStringSubmatch(s.logs.String()[logFrom:])
			s.mu.Unlock()
			if m == nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			s.admin = "http://" + m[1]
		}
		resp, err := http.Get(s.admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop()
	return fmt.Errorf("gatehouse not ready after 30s:\n%s", s.logTail(40))
}

// adminAddrLog finds the operations listener's address in serve's start line.
var adminAddrLog = regexp.MustCompile(`"msg":"gatehouse serving".*?"admin_addr":"([0-9.:]+)"`)

type lockedWriter struct{ s *server }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.logs.Write(p)
}

func (s *server) logTail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines := strings.Split(strings.TrimRight(s.logs.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// startFront starts the TLS front: https on a free loopback port with a
// certificate for 127.0.0.1 and *.gh.localhost, proxying to the binary
// unbuffered (MCP streams) with the Host header kept (host mode).
func (s *server) startFront() error {
	cert, err := ca.leaf([]string{tenantDomain, "*." + tenantDomain, "localhost"}, []net.IP{net.ParseIP("127.0.0.1")})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	backend, _ := url.Parse(s.direct)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(backend)
			r.Out.Host = r.In.Host
			r.SetXForwarded()
		},
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
		ModifyResponse: func(resp *http.Response) error {
			if ex, ok := resp.Request.Context().Value(exchangeKey{}).(*exchange); ok {
				ex.status = resp.StatusCode
				ex.ctype = resp.Header.Get("Content-Type")
				resp.Body = &recordingBody{ReadCloser: resp.Body, ex: ex}
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if ex, ok := r.Context().Value(exchangeKey{}).(*exchange); ok {
				ex.err = "proxy: " + err.Error()
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ex := &exchange{at: time.Now(), method: r.Method, host: r.Host, path: r.URL.Path}
		if r.Method == http.MethodPost && strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/mcp") {
			b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			r.Body = io.NopCloser(bytes.NewReader(b))
			var m struct {
				Method string `json:"method"`
			}
			_ = json.Unmarshal(b, &m)
			ex.rpc = m.Method
		}
		s.record(ex)
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex)))
	})
	s.front = &http.Server{Handler: handler, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.front.ServeTLS(ln, "", "") }()
	s.base = "https://" + ln.Addr().String()
	return nil
}

// exchange is one request through the TLS front, kept so a failing test can
// show exactly what went over the wire (MCP requests: JSON-RPC method,
// status, content type, the first bytes of the answer and how it ended).
type exchange struct {
	at                      time.Time
	method, host, path, rpc string
	status                  int
	ctype, err, end         string
	mu                      sync.Mutex
	head                    []byte
	n                       int
}

type exchangeKey struct{}

type recordingBody struct {
	io.ReadCloser
	ex *exchange
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.ex.mu.Lock()
	b.ex.n += n
	if len(b.ex.head) < 400 {
		b.ex.head = append(b.ex.head, p[:min(n, 400-len(b.ex.head))]...)
	}
	if err != nil {
		b.ex.end = err.Error()
	}
	b.ex.mu.Unlock()
	return n, err
}

func (s *server) record(ex *exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.exchanges = append(s.exchanges, ex)
	if len(s.exchanges) > 4000 {
		s.exchanges = s.exchanges[2000:]
	}
}

var allServers struct {
	sync.Mutex
	list []*server
}

// wireFor returns what went over the wire to a connector URL, on any server.
func wireFor(resource string) string {
	u, err := url.Parse(resource)
	if err != nil {
		return ""
	}
	allServers.Lock()
	list := append([]*server(nil), allServers.list...)
	allServers.Unlock()
	var sb strings.Builder
	for _, s := range list {
		sb.WriteString(s.wire(u.Host + u.Path))
	}
	return sb.String()
}

// wire returns the recorded exchanges whose path contains frag.
func (s *server) wire(frag string) string {
	s.mu.Lock()
	list := append([]*exchange(nil), s.exchanges...)
	s.mu.Unlock()
	var sb strings.Builder
	for _, ex := range list {
		if !strings.Contains(ex.host+ex.path, frag) {
			continue
		}
		ex.mu.Lock()
		fmt.Fprintf(&sb, "%s %s %s%s rpc=%q → %d %q bytes=%d end=%q err=%q head=%q\n", ex.at.Format("15:04:05.000"), ex.method, ex.host, ex.path,
			ex.rpc, ex.status, ex.ctype, ex.n, ex.end, ex.err, ex.head)
		ex.mu.Unlock()
	}
	return sb.String()
}

// stop ends the process (SIGTERM, then SIGKILL) and removes its directory.
func (s *server) stop() {
	if s.front != nil {
		_ = s.front.Close()
	}
	if s.cmd != nil && s.cmd.Process != nil {
		testkit.StopProcess(s.cmd.Process, s.done, 10*time.Second)
	}
	os.RemoveAll(s.dir)
}

// sharedServer is the embedded-mode server most tests use; each test makes
// its own tenant on it.
func sharedServer(t *testing.T) *server {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = startServer(serverOpts{}) })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log (tail):\n%s", shared.logTail(30))
		}
	})
	return shared
}

// ownServer starts a server for this test only.
func ownServer(t *testing.T, opts serverOpts) *server {
	t.Helper()
	s, err := startServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log (tail):\n%s", s.logTail(40))
		}
		s.stop()
	})
	return s
}

// dialLoopback maps every *.localhost name to 127.0.0.1 (host mode).
func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	if host, port, err := net.SplitHostPort(addr); err == nil {
		h := strings.ToLower(host)
		if h == "localhost" || strings.HasSuffix(h, ".localhost") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
}

// httpClient is a client that resolves *.localhost to loopback and does
// not follow redirects (flows follow them by hand, as the tests need to see them).
func httpClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Timeout:       30 * time.Second,
		Jar:           jar,
		Transport:     &http.Transport{DialContext: dialLoopback, TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: ca.pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// uaTransport sets a User-Agent on every request (client profiles).
type uaTransport struct {
	ua   string
	base http.RoundTripper
}

func (u uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", u.ua)
	return u.base.RoundTrip(r)
}

// api calls the provisioning API with the admin token.
func (s *server) api(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if body != nil {
		ct := "application/json"
		if method == http.MethodPatch {
			ct = "application/merge-patch+json"
		}
		req.Header.Set("Content-Type", ct)
	}
	resp, err := httpClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m == nil {
		m = map[string]any{"_raw": string(raw)}
	}
	return resp.StatusCode, m
}

// tenant is a tenant made for one test, with its URLs in both modes.
type tenant struct {
	slug string
	srv  *server
	path tenants.SiteURLs
	host tenants.SiteURLs
}

func (tn tenant) urls(mode string) tenants.SiteURLs {
	if mode == tenants.ModeHost {
		return tn.host
	}
	return tn.path
}

var slugSeq struct {
	sync.Mutex
	n int
}

// newTenant creates a tenant whose upstream is the binary's built-in demo
// MCP server and whose IdP is the dev IdP logging in as alice without a form.
func newTenant(t *testing.T, s *server, prefix string, extra map[string]any) tenant {
	t.Helper()
	slugSeq.Lock()
	slugSeq.n++
	slug := fmt.Sprintf("%s-%d-%s", prefix, slugSeq.n, tenants.RandomID()[:6])
	slugSeq.Unlock()
	body := map[string]any{
		"slug": slug, "name": "E2E " + prefix, "upstream_mcp_url": s.direct + "/_demo/mcp",
		"idp": map[string]any{"type": "dev", "auto_login": "alice"},
	}
	for k, v := range extra {
		body[k] = v
	}
	st, m := s.api(t, http.MethodPost, "/api/v1/tenants", body)
	if st != http.StatusCreated {
		t.Fatalf("create tenant: %d %v", st, m)
	}
	raw, _ := json.Marshal(m)
	var v tenants.TenantView
	if err := json.Unmarshal(raw, &v); err != nil || v.HostMode == nil {
		t.Fatalf("tenant view: %v %s", err, raw)
	}
	return tenant{slug: slug, srv: s, path: v.PathMode, host: *v.HostMode}
}

// modes are the two URL modes every flow runs in (docs/RULES.md §4).
var modes = []string{tenants.ModePath, tenants.ModeHost}

// logLines returns the server's JSON log lines whose msg contains frag.
func (s *server) logLines(frag string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(s.logs.Bytes()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), frag) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// inEachMode runs a client profile in both URL modes (docs/RULES.md §4),
// in parallel, on the shared server.
func inEachMode(t *testing.T, run func(t *testing.T, s *server, mode string)) {
	t.Parallel()
	s := sharedServer(t)
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) { run(t, s, mode) })
	}
}
