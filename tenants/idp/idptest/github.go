// Package idptest is an in-process GitHub for tests: an httptest server
// speaking GitHub's OAuth web flow (/login/oauth/authorize,
// /login/oauth/access_token) and the REST endpoints Gatehouse reads
// (/user, /user/emails, /user/orgs), with GitHub's status codes and JSON
// shapes. Upstream OIDC is tested against github.com/oauth2-proxy/mockoidc.
package idptest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/tenants/idp"
)

// APIPrefix is where the REST API is mounted (GitHub Enterprise Server
// style, https://HOST/api/v3), which also checks that clients join paths
// onto the configured API URL rather than the host root.
const APIPrefix = "/api/v3"

// GitHubUser is an account of the fake GitHub.
type GitHubUser struct {
	ID     int64
	Login  string
	Name   string
	Emails []GitHubEmail
	Orgs   []GitHubOrg
}

// GitHubEmail is one address as /user/emails lists it.
type GitHubEmail struct {
	Email      string  `json:"email"`
	Primary    bool    `json:"primary"`
	Verified   bool    `json:"verified"`
	Visibility *string `json:"visibility"`
}

// GitHubOrg is a membership; a private one is listed by /user/orgs only
// to tokens with the read:org scope, as on GitHub.
type GitHubOrg struct {
	Login  string
	Public bool
}

// AuthorizeRequest records what a client sent to /login/oauth/authorize.
type AuthorizeRequest struct {
	ClientID, RedirectURI, Scope, State string
	CodeChallenge, CodeChallengeMethod  string
}

type codeGrant struct {
	user              *GitHubUser
	scope             string
	redirectURI       string
	challenge, method string
	expires           time.Time
	used              bool
}

type token struct {
	user    *GitHubUser
	scope   string
	expires time.Time // zero: OAuth-app token, never expires
}

// GitHub is the fake. SetUser before a login; it is who "signs in" at the
// next authorize. The zero value is not usable: call NewGitHub.
type GitHub struct {
	*httptest.Server
	ClientID, ClientSecret string

	mu sync.Mutex
	// user logs in at the next authorize (SetUser).
	user *GitHubUser
	// deny makes the next authorize answer error=access_denied.
	deny bool
	// expiring issues GitHub App user tokens (expires_in 8 h plus a
	// refresh token) instead of non-expiring OAuth-app tokens.
	expiring bool
	// perPage caps list pages (GitHub's maximum is 100) to exercise paging.
	perPage int

	authorizes []AuthorizeRequest
	codes      map[string]*codeGrant
	tokens     map[string]*token
	refresh    map[string]*token
	calls      map[string]int
}

// NewGitHub starts the fake with one user, octocat (verified primary
// email, no orgs). The caller closes it (Close).
func NewGitHub() *GitHub {
	g := &GitHub{
		ClientID: "Iv1." + rnd(8), ClientSecret: rnd(20),
		codes: map[string]*codeGrant{}, tokens: map[string]*token{}, refresh: map[string]*token{}, calls: map[string]int{},
		user: &GitHubUser{ID: 583231, Login: "octocat", Name: "The Octocat",
			Emails: []GitHubEmail{{Email: "octocat@github.com", Primary: true, Verified: true}}},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", g.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", g.accessToken)
	mux.HandleFunc("GET "+APIPrefix+"/user", g.api(g.userHandler))
	mux.HandleFunc("GET "+APIPrefix+"/user/emails", g.api(g.emails))
	mux.HandleFunc("GET "+APIPrefix+"/user/orgs", g.api(g.orgs))
	g.Server = httptest.NewServer(mux)
	return g
}

// Endpoints to configure idp.Config with.
func (g *GitHub) Endpoints() *idp.Endpoints {
	return &idp.Endpoints{
		AuthURL: g.URL + "/login/oauth/authorize", TokenURL: g.URL + "/login/oauth/access_token",
		APIURL: g.URL + APIPrefix,
	}
}

// SetUser sets who logs in next.
func (g *GitHub) SetUser(u *GitHubUser) { g.locked(func() { g.user = u }) }

// SetDeny makes the next authorize deny access.
func (g *GitHub) SetDeny(deny bool) { g.locked(func() { g.deny = deny }) }

// SetExpiringTokens switches between OAuth-app and GitHub-App tokens.
func (g *GitHub) SetExpiringTokens(on bool) { g.locked(func() { g.expiring = on }) }

// SetPerPage caps list pages.
func (g *GitHub) SetPerPage(n int) { g.locked(func() { g.perPage = n }) }

// locked runs f under the fake's lock (the setters race the handlers).
func (g *GitHub) locked(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f()
}

// Authorizes returns the authorize requests seen so far.
func (g *GitHub) Authorizes() []AuthorizeRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]AuthorizeRequest(nil), g.authorizes...)
}

// Calls returns how many times path (e.g. "/user/orgs") was requested.
func (g *GitHub) Calls(path string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[path]
}

func rnd(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (g *GitHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls["/login/oauth/authorize"]++
	g.authorizes = append(g.authorizes, AuthorizeRequest{
		ClientID: q.Get("client_id"), RedirectURI: q.Get("redirect_uri"), Scope: q.Get("scope"), State: q.Get("state"),
		CodeChallenge: q.Get("code_challenge"), CodeChallengeMethod: q.Get("code_challenge_method"),
	})
	if q.Get("client_id") != g.ClientID {
		// GitHub renders a 404 page for an unknown application.
		http.Error(w, "Not Found", http.StatusNotFound)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || redirect.Scheme == "" {
		http.Error(w, "The redirect_uri MUST match the registered callback URL for this application.", http.StatusBadRequest)
		return
	}
	m := q.Get("code_challenge_method")
	if q.Get("code_challenge") != "" && m != "S256" {
		// GitHub supports S256 only.
		http.Error(w, "code_challenge_method must be S256", http.StatusBadRequest)
		return
	}
	v := redirect.Query()
	if g.deny {
		g.deny = false
		v.Set("error", "access_denied")
		v.Set("error_description", "The user has denied your application access.")
		v.Set("error_uri", "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-authorization-request-errors/#access-denied")
	} else {
		code := rnd(10)
		g.codes[code] = &codeGrant{user: g.user, scope: normalizeScope(q.Get("scope")), redirectURI: q.Get("redirect_uri"),
			challenge: q.Get("code_challenge"), method: m, expires: time.Now().Add(10 * time.Minute)}
		v.Set("code", code)
	}
	if s := q.Get("state"); s != "" {
		v.Set("state", s)
	}
	redirect.RawQuery = v.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// normalizeScope turns the requested space-separated scopes into GitHub's
// comma-separated granted list.
func normalizeScope(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, ",", " ")), ",")
}

// tokenAnswer writes fields as JSON when the client accepts it, else as a
// form-encoded body — GitHub's default — always with HTTP 200, errors too.
func tokenAnswer(w http.ResponseWriter, r *http.Request, fields map[string]any) {
	accept := r.Header.Get("Accept")
	for _, part := range strings.Split(accept, ",") {
		if mt, _, _ := mime.ParseMediaType(strings.TrimSpace(part)); mt == "application/json" {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_ = json.NewEncoder(w).Encode(fields)
			return
		}
	}
	v := url.Values{}
	for k, val := range fields {
		v.Set(k, fmt.Sprint(val))
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	_, _ = w.Write([]byte(v.Encode()))
}

func tokenError(w http.ResponseWriter, r *http.Request, code, desc, uri string) {
	tokenAnswer(w, r, map[string]any{"error": code, "error_description": desc,
		"error_uri": "https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#" + uri})
}

func (g *GitHub) accessToken(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls["/login/oauth/access_token"]++
	if id != g.ClientID || subtle.ConstantTimeCompare([]byte(secret), []byte(g.ClientSecret)) != 1 {
		tokenError(w, r, "incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.", "incorrect-client-credentials")
		return
	}
	var user *GitHubUser
	var scope string
	switch r.PostForm.Get("grant_type") {
	case "refresh_token":
		old, ok := g.refresh[r.PostForm.Get("refresh_token")]
		if !ok {
			tokenError(w, r, "bad_refresh_token", "The refresh token passed is incorrect or expired.", "bad-refresh-token")
			return
		}
		delete(g.refresh, r.PostForm.Get("refresh_token")) // GitHub rotates refresh tokens
		user, scope = old.user, old.scope
	case "", "authorization_code":
		code := r.PostForm.Get("code")
		cg, ok := g.codes[code]
		if !ok || cg.used || time.Now().After(cg.expires) {
			tokenError(w, r, "bad_verification_code", "The code passed is incorrect or expired.", "bad-verification-code")
			return
		}
		cg.used = true
		if ru := r.PostForm.Get("redirect_uri"); ru != "" && ru != cg.redirectURI {
			tokenError(w, r, "redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.", "redirect-uri-mismatch")
			return
		}
		if cg.challenge != "" {
			sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
			if base64.RawURLEncoding.EncodeToString(sum[:]) != cg.challenge {
				tokenError(w, r, "bad_verification_code", "The code_verifier does not match the code_challenge.", "bad-verification-code")
				return
			}
		}
		user, scope = cg.user, cg.scope
	default:
		tokenError(w, r, "unsupported_grant_type", "The grant type is not supported.", "unsupported-grant-type")
		return
	}
	access := "gho_" + rnd(18)
	t := &token{user: user, scope: scope}
	fields := map[string]any{"access_token": access, "token_type": "bearer", "scope": scope}
	if g.expiring {
		access = "ghu_" + rnd(18)
		t.expires = time.Now().Add(8 * time.Hour)
		rt := "ghr_" + rnd(30)
		g.refresh[rt] = &token{user: user, scope: scope}
		fields = map[string]any{"access_token": access, "token_type": "bearer", "scope": "",
			"expires_in": 28800, "refresh_token": rt, "refresh_token_expires_in": 15811200}
	}
	g.tokens[access] = t
	tokenAnswer(w, r, fields)
}

type apiHandler func(w http.ResponseWriter, r *http.Request, t *token)

func apiError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg,
		"documentation_url": "https://docs.github.com/rest", "status": strconv.Itoa(status)})
}

// api authenticates "Authorization: Bearer|token <t>" as GitHub does.
func (g *GitHub) api(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		var raw string
		for _, p := range []string{"Bearer ", "bearer ", "token "} {
			if strings.HasPrefix(auth, p) {
				raw = strings.TrimPrefix(auth, p)
			}
		}
		g.mu.Lock()
		g.calls[strings.TrimPrefix(r.URL.Path, APIPrefix)]++
		t, ok := g.tokens[raw]
		g.mu.Unlock()
		if !ok || (!t.expires.IsZero() && time.Now().After(t.expires)) {
			apiError(w, http.StatusUnauthorized, "Bad credentials")
			return
		}
		w.Header().Set("X-OAuth-Scopes", strings.ReplaceAll(t.scope, ",", ", "))
		h(w, r, t)
	}
}

func hasScope(t *token, s string) bool {
	for _, v := range strings.Split(t.scope, ",") {
		if v == s {
			return true
		}
	}
	return false
}

func (g *GitHub) userHandler(w http.ResponseWriter, _ *http.Request, t *token) {
	u := t.user
	var public any
	for _, e := range u.Emails {
		if e.Visibility != nil && *e.Visibility == "public" {
			public = e.Email
		}
	}
	writeJSON(w, map[string]any{"login": u.Login, "id": u.ID, "node_id": "MDQ6VXNlcjE=", "type": "User",
		"site_admin": false, "name": u.Name, "email": public,
		"html_url": "https://github.com/" + u.Login, "avatar_url": "https://github.com/images/error/octocat_happy.gif"})
}

func (g *GitHub) emails(w http.ResponseWriter, _ *http.Request, t *token) {
	if !hasScope(t, "user:email") && !hasScope(t, "user") {
		apiError(w, http.StatusNotFound, "Not Found")
		return
	}
	out := t.user.Emails
	if out == nil {
		out = []GitHubEmail{}
	}
	writeJSON(w, out)
}

func (g *GitHub) orgs(w http.ResponseWriter, r *http.Request, t *token) {
	var all []map[string]any
	for _, o := range t.user.Orgs {
		if o.Public || hasScope(t, "read:org") || hasScope(t, "admin:org") {
			all = append(all, map[string]any{"login": o.Login, "id": len(all) + 1, "url": "https://api.github.com/orgs/" + o.Login})
		}
	}
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if per <= 0 {
		per = 30
	}
	if per > 100 {
		per = 100
	}
	g.mu.Lock()
	if g.perPage > 0 && per > g.perPage {
		per = g.perPage
	}
	g.mu.Unlock()
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	if page < 1 {
		page = 1
	}
	start, end := (page-1)*per, page*per
	if start > len(all) {
		start = len(all)
	}
	if end > len(all) {
		end = len(all)
	}
	if end < len(all) {
		next := *r.URL
		next.Scheme, next.Host = "http", r.Host
		q := next.Query()
		q.Set("page", strconv.Itoa(page+1))
		q.Set("per_page", strconv.Itoa(per))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf(`<%s>; rel="next"`, next.String()))
	}
	out := all[start:end]
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, out)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

// SetOrgs changes the org memberships of the user with id, as GitHub does
// when an org removes someone: tokens already issued (and their refresh
// successors) see the change. Entries are replaced, never mutated, so
// handlers holding the old ones stay race-free.
func (g *GitHub) SetOrgs(id int64, orgs []GitHubOrg) {
	g.mu.Lock()
	defer g.mu.Unlock()
	repl := map[*GitHubUser]*GitHubUser{}
	swap := func(u *GitHubUser) *GitHubUser {
		if u == nil || u.ID != id {
			return u
		}
		if n, ok := repl[u]; ok {
			return n
		}
		c := *u
		c.Orgs = append([]GitHubOrg(nil), orgs...)
		repl[u] = &c
		return &c
	}
	for _, m := range []map[string]*token{g.tokens, g.refresh} {
		for k, t := range m {
			nt := *t
			nt.user = swap(t.user)
			m[k] = &nt
		}
	}
	g.user = swap(g.user)
}
