package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// The real clients people use (issue 14, docs/COMPATIBILITY.md): the MCP
// Inspector in Chromium, mcp-remote over stdio, the Vercel AI SDK and the
// OpenAI Agents SDK, each the npm package pinned in e2e/package-lock.json.
// This file holds what their tests share: where output goes, the pinned
// versions, the person who completes an authorization URL, the Node
// processes, and the measured table.

// Backends a client run is measured on.
const (
	backendEmbedded = "embedded"       // SQLite + in-process queue
	backendPostgres = "postgres+redis" // production mode
)

// outDir is where the client tests leave screenshots and the measured
// table: $GATEHOUSE_E2E_OUT, else e2e/testdata/out (gitignored).
func outDir(parts ...string) string {
	base := os.Getenv("GATEHOUSE_E2E_OUT")
	if base == "" {
		base = filepath.Join(e2eDir, "testdata", "out")
	}
	return filepath.Join(append([]string{base}, parts...)...)
}

var lockOnce struct {
	sync.Once
	versions map[string]string
	err      error
}

// npmVersion is the exact version of an npm package installed from
// e2e/package-lock.json.
func npmVersion(t *testing.T, pkg string) string {
	t.Helper()
	lockOnce.Do(func() {
		b, err := os.ReadFile(filepath.Join(e2eDir, "package-lock.json"))
		if err != nil {
			lockOnce.err = err
			return
		}
		var lock struct {
			Packages map[string]struct {
				Version string `json:"version"`
			} `json:"packages"`
		}
		if lockOnce.err = json.Unmarshal(b, &lock); lockOnce.err != nil {
			return
		}
		lockOnce.versions = map[string]string{}
		for k, v := range lock.Packages {
			lockOnce.versions[strings.TrimPrefix(k, "node_modules/")] = v.Version
		}
	})
	if lockOnce.err != nil || lockOnce.versions[pkg] == "" {
		t.Fatalf("%s is not pinned in e2e/package-lock.json (%v)", pkg, lockOnce.err)
	}
	return lockOnce.versions[pkg]
}

// needNodePackage is needNode plus the client package itself.
func needNodePackage(t *testing.T, pkg string) string {
	t.Helper()
	node := needNode(t)
	if _, err := os.Stat(filepath.Join(e2eDir, "node_modules", pkg, "package.json")); err != nil {
		missing(t, pkg+" is not installed (run scripts/e2e-deps.sh): "+err.Error())
	}
	return node
}

// devLoginTenant makes a tenant whose dev IdP shows its login form (no
// auto_login): the clients' users type a name there, as a person would.
func devLoginTenant(t *testing.T, s *server, prefix string, settings map[string]any) tenant {
	t.Helper()
	extra := map[string]any{"idp": map[string]any{"type": "dev"}}
	if settings != nil {
		extra["settings"] = settings
	}
	return newTenant(t, s, prefix, extra)
}

// person completes an authorization URL the way someone in a browser does:
// follows redirects with cookies, signs in on the dev IdP's form, allows on
// the consent page when one is shown, and stops at the first redirect that
// leaves for the client's redirect URI (done reports it), which it returns
// unvisited. pages lists the forms it went through ("login", "consent").
func person(authURL string, done func(*url.URL) bool) (final *url.URL, pages []string, err error) {
	browser := httpClient()
	browser.Transport = uaTransport{ua: "Mozilla/5.0 (e2e person)", base: browser.Transport}
	req, _ := http.NewRequest(http.MethodGet, authURL, nil)
	for i := 0; i < 20; i++ {
		resp, err := browser.Do(req)
		if err != nil {
			return nil, pages, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
			next, err := req.URL.Parse(loc)
			if err != nil {
				return nil, pages, fmt.Errorf("bad Location %q", loc)
			}
			if done(next) {
				return next, pages, nil
			}
			req, _ = http.NewRequest(http.MethodGet, next.String(), nil)
			continue
		}
		f, ok := postForm(body)
		if resp.StatusCode != http.StatusOK || !ok {
			return nil, pages, fmt.Errorf("authorization stopped at %s with HTTP %d: %.500s", req.URL, resp.StatusCode, body)
		}
		switch {
		case f.has("username"):
			f.values.Set("username", "alice")
			pages = append(pages, "login")
		case f.button("decision", "approve"):
			pages = append(pages, "consent")
		default:
			return nil, pages, fmt.Errorf("unknown form at %s: %.500s", req.URL, body)
		}
		action, err := req.URL.Parse(f.action)
		if err != nil {
			return nil, pages, err
		}
		req, _ = http.NewRequest(http.MethodPost, action.String(), strings.NewReader(f.values.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return nil, pages, errors.New("too many steps while authorizing")
}

// form is the first POST form of a page: its action, the values a browser
// would submit (hidden fields, the chosen submit button) and its fields.
type form struct {
	action  string
	values  url.Values
	fields  map[string]bool
	buttons map[string][]string
}

func (f form) has(name string) bool { return f.fields[name] }

// button selects the submit button name=value, as a click on it would.
func (f form) button(name, value string) bool {
	for _, v := range f.buttons[name] {
		if v == value {
			f.values.Set(name, value)
			return true
		}
	}
	return false
}

func postForm(page []byte) (form, bool) {
	doc, err := html.Parse(strings.NewReader(string(page)))
	if err != nil {
		return form{}, false
	}
	attr := func(n *html.Node, k string) string {
		for _, a := range n.Attr {
			if a.Key == k {
				return a.Val
			}
		}
		return ""
	}
	var found *html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode && n.Data == "form" && strings.EqualFold(attr(n, "method"), "post") {
			found = n
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if found == nil {
		return form{}, false
	}
	f := form{action: attr(found, "action"), values: url.Values{}, fields: map[string]bool{}, buttons: map[string][]string{}}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			name := attr(n, "name")
			switch {
			case n.Data == "button" || (n.Data == "input" && attr(n, "type") == "submit"):
				if name != "" {
					f.buttons[name] = append(f.buttons[name], attr(n, "value"))
				}
			case n.Data == "input" && name != "":
				f.fields[name] = true
				if attr(n, "type") == "hidden" {
					f.values.Set(name, attr(n, "value"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(found)
	return f, true
}

// visit sends the browser to a client's loopback callback (the last hop of
// an authorization) and returns its status.
func visit(u *url.URL) error {
	resp, err := httpClient().Get(u.String())
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 && resp.StatusCode/100 != 3 {
		return fmt.Errorf("callback %s answered %d", u.Redacted(), resp.StatusCode)
	}
	return nil
}

// nodeProc is a client running under Node: its stdout lines arrive on
// lines; stderr is kept (and scanned for the loopback-only guard's reports).
type nodeProc struct {
	cmd    *exec.Cmd
	lines  chan string
	stdin  io.WriteCloser
	mu     sync.Mutex
	stderr strings.Builder
	done   chan struct{}
	err    error
	onErr  func(string) // called with each stderr line, in order
}

// startNode starts `node --import ./ts/loopback-only.mjs args…` in e2e/
// in its own process group (stop kills the group: Inspector and Chromium
// children included). The guard keeps the client on loopback.
func startNode(ctx context.Context, env []string, onErr func(string), args ...string) (*nodeProc, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, node, append([]string{"--import", "./ts/loopback-only.mjs"}, args...)...)
	cmd.Dir = e2eDir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "NODE_EXTRA_CA_CERTS="+ca.file)
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	p := &nodeProc{cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{}), onErr: onErr}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 4<<20), 4<<20)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if p.onErr != nil {
				p.onErr(sc.Text())
			}
		}
	}()
	go func() { wg.Wait(); p.err = cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *nodeProc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// blocked lists the non-loopback hosts the client tried to reach.
func (p *nodeProc) blocked() []string {
	var out []string
	for _, l := range strings.Split(p.stderrText(), "\n") {
		if h, ok := strings.CutPrefix(l, "e2e-blocked: "); ok {
			out = addUniqueStr(out, h)
		}
	}
	return out
}

// stop ends the process group (SIGTERM, then SIGKILL).
func (p *nodeProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

func addUniqueStr(list []string, v string) []string {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}

// jsonLine decodes the driver's result: its last stdout line.
// runDriver runs a Node driver script to its end and decodes its last
// stdout line (the driver's JSON result) into out; the driver's stderr is
// returned for failure messages.
func runDriver(ctx context.Context, script, arg string, out any) (stderr string, err error) {
	drv, err := startNode(ctx, nil, nil, script, arg)
	if err != nil {
		return "", err
	}
	defer drv.stop()
	var last string
	for l := range drv.lines {
		last = l
	}
	<-drv.done
	return drv.stderrText(), jsonLine(last, out)
}

func jsonLine(last string, v any) error {
	if err := json.Unmarshal([]byte(last), v); err != nil {
		return fmt.Errorf("driver output is not JSON (%v): %.2000s", err, last)
	}
	return nil
}

// compatRow is one measured line of docs/COMPATIBILITY.md.
type compatRow struct {
	Client, Package, Version, Mode, Backend, Result, Notes string
	Seconds                                                float64
}

var compat struct {
	sync.Mutex
	rows []compatRow
}

// recordCompat adds the row once the (sub)test has finished, as pass or
// FAIL; the test may still fill in Notes until then.
func recordCompat(t *testing.T, row *compatRow, start time.Time) {
	t.Cleanup(func() {
		row.Result = "pass"
		if t.Failed() {
			row.Result = "FAIL"
		} else if t.Skipped() {
			row.Result = "skipped"
		}
		row.Seconds = time.Since(start).Seconds()
		compat.Lock()
		compat.rows = append(compat.rows, *row)
		compat.Unlock()
	})
}

// writeCompat writes the measured table of this run to
// outDir/compatibility.md (copied into docs/COMPATIBILITY.md by hand).
func writeCompat() {
	compat.Lock()
	rows := append([]compatRow(nil), compat.rows...)
	compat.Unlock()
	if len(rows) == 0 {
		return
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		return a.Client+a.Backend+a.Mode < b.Client+b.Backend+b.Mode
	})
	var sb strings.Builder
	fmt.Fprintf(&sb, "Measured %s by `go test ./e2e/` (node %s).\n\n", time.Now().UTC().Format("2006-01-02 15:04 UTC"), nodeVersion())
	sb.WriteString("| client | package@version | URL mode | backend | result | seconds | notes |\n|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&sb, "| %s | `%s@%s` | %s | %s | %s | %.1f | %s |\n", r.Client, r.Package, r.Version, r.Mode, r.Backend, r.Result, r.Seconds, r.Notes)
	}
	if err := os.MkdirAll(outDir(), 0o755); err == nil {
		_ = os.WriteFile(outDir("compatibility.md"), []byte(sb.String()), 0o644)
	}
}

func nodeVersion() string {
	out, err := exec.Command("node", "--version").Output()
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(out))
}

// The console's connect page (web/templates/console_overview.html) gives
// the setup steps these tests perform: the same pinned package versions,
// and for the Inspector the same controls the Chromium driver operates.
func TestConnectPageMatchesTestedClients(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile(filepath.Join(repoDir, "web", "templates", "console_overview.html"))
	if err != nil {
		t.Fatal(err)
	}
	driver, err := os.ReadFile(filepath.Join(e2eDir, "ts", "inspector.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"@modelcontextprotocol/inspector", "mcp-remote", "@ai-sdk/mcp", "@openai/agents"} {
		want := pkg + "@" + npmVersion(t, pkg)
		if !strings.Contains(string(page), want) {
			t.Errorf("the connect page does not name the tested %s", want)
		}
	}
	for _, control := range []string{"Add Servers", "Add manually", "streamable-http", "Connect", "Tools", "Execute Tool"} {
		if !strings.Contains(string(page), control) || !strings.Contains(string(driver), "'"+control) {
			t.Errorf("Inspector control %q is not both in the connect page's steps and in ts/inspector.mjs", control)
		}
	}
}

// doctorNames returns what the connection doctor says about a client's
// software: the products it names for the client, and the distinct labels
// on its timeline entries (tenants/doctor/software.go).
func doctorNames(t *testing.T, s *server, slug, clientID string) (software, timeline []string) {
	t.Helper()
	st, m := s.api(t, http.MethodGet, "/api/v1/tenants/"+slug+"/doctor?self_check=false", nil)
	if st != http.StatusOK {
		t.Fatalf("doctor: %d %v", st, m)
	}
	for _, c := range report(m).Clients {
		if c.ClientID != clientID {
			continue
		}
		for _, e := range c.Timeline {
			if e.Software != "" {
				timeline = addUniqueStr(timeline, e.Software)
			}
		}
		return c.Software, timeline
	}
	t.Fatalf("the doctor has no client %s", clientID)
	return nil, nil
}

// wantDoctorNames checks the doctor names the client's product (want; ""
// for none) and labels its timeline with every one of labels.
func wantDoctorNames(t *testing.T, s *server, slug, clientID, want string, labels ...string) {
	t.Helper()
	software, timeline := doctorNames(t, s, slug, clientID)
	if got := strings.Join(software, ","); got != want {
		t.Errorf("doctor names the client's software %q, want %q", got, want)
	}
	for _, l := range labels {
		if !slices.Contains(timeline, l) {
			t.Errorf("doctor timeline labels %q, want %q among them", timeline, l)
		}
	}
}

// The person completes the dev login form and the consent page (the
// markup of web/templates/oauth_dev_login.html and oauth_consent.html),
// posting their hidden fields back and clicking Allow, and stops at the
// redirect to the client.
func TestPersonCompletesLoginAndConsent(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<form method="post" action="/login"><input type="hidden" name="request" value="p1">
<input type="hidden" name="csrf" value="c&amp;1"><input type="text" id="username" name="username" required>
<button type="submit">Sign in</button></form>`)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("request") != "p1" || r.FormValue("csrf") != "c&1" || r.FormValue("username") != "alice" {
			http.Error(w, "bad login form: "+r.Form.Encode(), http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, `<h1>Allow <strong>X</strong>?</h1><form method="post" action="consent"><input type="hidden" name="request" value="p1">
<input type="hidden" name="csrf" value="c2"><button type="submit" name="decision" value="approve">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button></form>`)
	})
	mux.HandleFunc("POST /consent", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("decision") != "approve" || r.FormValue("csrf") != "c2" {
			http.Error(w, "bad consent form: "+r.Form.Encode(), http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, "http://127.0.0.1:1/callback?code=k&state=s", http.StatusFound)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cb, pages, err := person(srv.URL+"/authorize", func(u *url.URL) bool { return u.Path == "/callback" })
	if err != nil {
		t.Fatal(err)
	}
	if cb.Query().Get("code") != "k" || strings.Join(pages, ",") != "login,consent" {
		t.Errorf("callback %s, pages %v", cb, pages)
	}
}
