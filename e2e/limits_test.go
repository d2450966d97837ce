package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/limits"
)

// refusal is one answer of a limit run across replicas.
type refusal struct {
	status     int
	retryAfter string
	ctype      string
	body       string
}

// acrossReplicas sends total requests, alternating between the replicas,
// and checks the limit held as one: at most l.Burst plus what GCRA refills
// while the run lasts pass, the rest are 429 with a whole-seconds
// Retry-After (RFC 9110 §10.2.3) and pass check. With one bucket per
// replica 2×Burst would pass.
func acrossReplicas(t *testing.T, name string, rs []*server, l limits.Limit, total int, send func(r *server, i int) refusal, check func(refusal) string) {
	t.Helper()
	passed, refused := 0, 0
	start := time.Now()
	for i := 0; i < total; i++ {
		a := send(rs[i%len(rs)], i)
		if a.status != http.StatusTooManyRequests {
			passed++
			continue
		}
		refused++
		if ra, err := strconv.Atoi(a.retryAfter); err != nil || ra < 1 {
			t.Errorf("%s: 429 with Retry-After %q; want whole seconds ≥ 1", name, a.retryAfter)
		}
		if msg := check(a); msg != "" {
			t.Errorf("%s: 429 answer %s (%s): %s", name, msg, a.ctype, tail(a.body, 300))
		}
	}
	most := l.Burst + int(time.Since(start)/l.Every) + 1
	if refused == 0 || passed > most {
		t.Fatalf("%s across %d replicas: %d of %d passed; at most %d may (burst %d)", name, len(rs), passed, total, most, l.Burst)
	}
	t.Logf("MEASURED: %s across %d replicas: %d of %d passed (burst %d), %d refused 429", name, len(rs), passed, total, l.Burst, refused)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// consoleForm gets a form page from replica r and returns a poster that
// submits it to any replica with the pre-session cookie and CSRF token
// (replicas share the secret key, so either accepts them) from clientIP.
func consoleForm(t *testing.T, r *server, path string) func(to *server, form url.Values, clientIP string) refusal {
	t.Helper()
	resp, err := direct(r, http.MethodGet, r.base+path, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfField.FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("%s: %d, no CSRF field", path, resp.StatusCode)
	}
	var cookies []string
	for _, c := range resp.Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
	}
	csrf := strings.ReplaceAll(string(m[1]), "&amp;", "&")
	return func(to *server, form url.Values, clientIP string) refusal {
		form.Set("csrf", csrf)
		resp, err := direct(to, http.MethodPost, to.base+path, form.Encode(), map[string]string{
			"Content-Type": "application/x-www-form-urlencoded", "Cookie": strings.Join(cookies, "; "), "X-Forwarded-For": clientIP})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return refusal{resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), string(b)}
	}
}

// Issue 13: the console sign-in and sign-up limits and the MCP quotas hold
// across two `gatehouse serve` replicas on one Postgres and one Redis.
// Requests alternate between the replicas as a load balancer would send
// them; the client address comes from X-Forwarded-For (the replicas trust
// the loopback proxy), so each case has its own addresses.
func TestConsoleAndMCPLimitsAcrossTwoReplicas(t *testing.T) {
	t.Parallel()
	rs := productionServers(t, 2, "GATEHOUSE_SIGNUP=open")
	run := tenants.RandomID()[:6]
	page := func(notice string) func(refusal) string {
		return func(a refusal) string {
			if !strings.HasPrefix(a.ctype, "text/html") || !strings.Contains(a.body, notice) {
				return "is not the form page saying " + strconv.Quote(notice)
			}
			return ""
		}
	}

	t.Run("sign-in per IP", func(t *testing.T) {
		post := consoleForm(t, rs[0], "/console/login")
		acrossReplicas(t, "console sign-in per IP", rs, limits.ConsoleLogin, limits.ConsoleLogin.Burst+10, func(r *server, i int) refusal {
			// Another account each time: only the address is shared.
			return post(r, url.Values{"email": {fmt.Sprintf("ip-%s-%d@e2e.test", run, i)}, "password": {"wrong password 123"}}, "198.51.100.10")
		}, page("Too many sign-in attempts"))
	})
	t.Run("sign-in per account", func(t *testing.T) {
		post := consoleForm(t, rs[1], "/console/login")
		perAccount := limits.Per(max(limits.ConsoleLogin.Burst/2, 1), time.Duration(limits.ConsoleLogin.Burst)*limits.ConsoleLogin.Every)
		acrossReplicas(t, "console sign-in per account", rs, perAccount, perAccount.Burst+10, func(r *server, i int) refusal {
			// One account from a new address each time (a botnet guessing
			// one password): only the account is shared.
			return post(r, url.Values{"email": {"victim-" + run + "@e2e.test"}, "password": {"wrong password 123"}}, fmt.Sprintf("203.0.113.%d", i+1))
		}, page("Too many sign-in attempts"))
	})
	t.Run("sign-up per IP", func(t *testing.T) {
		post := consoleForm(t, rs[0], "/signup")
		acrossReplicas(t, "sign-up per IP", rs, limits.Signup, limits.Signup.Burst+5, func(r *server, i int) refusal {
			return post(r, url.Values{"email": {fmt.Sprintf("new-%s-%d@e2e.test", run, i)}, "name": {"New"}, "password": {"a long enough password 123"}}, "198.51.100.20")
		}, page("Too many sign-ups"))
	})

	// MCP quotas: a tenant's setting, one signed-in user, alternating replicas.
	jsonRPC := func(a refusal) string {
		var body struct {
			JSONRPC string `json:"jsonrpc"`
			Error   struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(a.body), &body); err != nil || body.JSONRPC != "2.0" || body.Error.Code == 0 || body.Error.Message == "" {
			return "is not a JSON-RPC error"
		}
		return ""
	}
	for _, q := range []struct{ name, setting string }{{"MCP quota per user", "mcp_requests_per_minute_per_user"}, {"MCP quota per tenant", "mcp_requests_per_minute"}} {
		t.Run(q.name, func(t *testing.T) {
			const perMinute = 12
			tn := newTenant(t, rs[0], "quota", map[string]any{"settings": map[string]any{q.setting: perMinute}})
			f, access, _ := oauthDone(t, tn, tenants.ModePath, "Claude-User", "Claude")
			acrossReplicas(t, q.name, rs, limits.PerMinute(perMinute), perMinute+10, func(r *server, _ int) refusal {
				resp, err := direct(r, http.MethodPost, f.site.Resource, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`, map[string]string{
					"Authorization": "Bearer " + access, "Content-Type": "application/json", "Accept": "application/json, text/event-stream"})
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				return refusal{resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), string(b)}
			}, jsonRPC)
		})
	}
}
