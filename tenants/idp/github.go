package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/oauth2"
	githubep "golang.org/x/oauth2/github"

	"github.com/gatehouse/gatehouse/tenants"
)

// GitHubAPIURL is github.com's REST API.
const GitHubAPIURL = "https://api.github.com"

// githubMaxPages bounds /user/orgs pagination (100 per page).
const githubMaxPages = 10

type github struct {
	cfg Config
	oc  *oauth2.Config
	api *url.URL
}

func newGitHub(cfg Config) *github {
	ep := githubep.Endpoint
	// GitHub documents client_id/client_secret as form parameters; saying
	// so avoids x/oauth2's probe round trip.
	ep.AuthStyle = oauth2.AuthStyleInParams
	api := GitHubAPIURL
	if e := cfg.Endpoints; e != nil {
		if e.AuthURL != "" {
			ep.AuthURL = e.AuthURL
		}
		if e.TokenURL != "" {
			ep.TokenURL = e.TokenURL
		}
		if e.APIURL != "" {
			api = e.APIURL
		}
	}
	u, err := url.Parse(strings.TrimRight(api, "/"))
	if err != nil {
		u, _ = url.Parse(GitHubAPIURL)
	}
	scopes := scopesOr(cfg.IdP.Scopes, []string{"read:user", "user:email"}, "user:email")
	if len(cfg.IdP.AllowedOrgs) > 0 {
		// Without read:org, /user/orgs lists only public memberships.
		scopes = scopesOr(scopes, nil, "read:org")
	}
	return &github{cfg: cfg, api: u, oc: &oauth2.Config{
		ClientID: cfg.IdP.ClientID, ClientSecret: cfg.ClientSecret, RedirectURL: cfg.RedirectURL,
		Endpoint: ep, Scopes: scopes,
	}}
}

func (g *github) Type() string { return tenants.IdPGitHub }

// AuthCodeURL: GitHub has no nonce; state and PKCE S256 protect the flow.
func (g *github) AuthCodeURL(state, _, verifier string) string {
	return g.oc.AuthCodeURL(state, pkceChallenge(verifier)...)
}

type githubUser struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
	Name  string `json:"name"`
}

type githubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

type githubOrg struct {
	Login string `json:"login"`
}

func (g *github) Exchange(ctx context.Context, code, _, verifier string) (*Identity, *Token, error) {
	tok, err := g.oc.Exchange(clientContext(ctx, g.cfg.HTTPClient), code, pkceVerifier(verifier)...)
	if err != nil {
		return nil, nil, exchangeError(err)
	}
	id, err := g.identify(ctx, tok.AccessToken)
	if err != nil {
		return nil, nil, err
	}
	return id, fromOAuth2(tok), nil
}

// identify reads who holds token and applies the tenant's sign-in rules
// (verified email domain, org membership): at login, and again at every
// refresh while a rule is set.
func (g *github) identify(ctx context.Context, token string) (*Identity, error) {
	var u githubUser
	if _, err := g.get(ctx, token, g.apiURL("/user"), &u); err != nil {
		return nil, apiLoginError("your GitHub profile", err)
	}
	if u.ID == 0 {
		return nil, &LoginError{Reason: ReasonUpstreamError, Message: "GitHub returned no user id."}
	}
	id := &Identity{Issuer: g.cfg.IdP.Issuer(), Subject: strconv.FormatInt(u.ID, 10), Username: u.Login, Name: u.Name}

	var emails []githubEmail
	if _, err := g.get(ctx, token, g.apiURL("/user/emails"), &emails); err != nil {
		// A GitHub App without the email permission cannot read them; that
		// only blocks the login when the tenant restricts domains.
		if len(g.cfg.IdP.AllowedDomains) > 0 {
			return nil, apiLoginError("your verified email addresses", err)
		}
	}
	id.Email, id.EmailVerified = pickGitHubEmail(emails, g.cfg.IdP.AllowedDomains)
	if err := checkDomain(g.cfg.IdP, id.Email, id.EmailVerified); err != nil {
		return nil, err
	}

	if len(g.cfg.IdP.AllowedOrgs) > 0 {
		orgs, err := g.orgs(ctx, token)
		if err != nil {
			return nil, apiLoginError("your GitHub organizations", err)
		}
		id.Orgs = orgs
		if !g.cfg.IdP.OrgAllowed(orgs) {
			return nil, &LoginError{Reason: ReasonOrgNotAllowed,
				Message: "Your GitHub account is not a member of an organization allowed to sign in here (or the organization has not approved this app)."}
		}
	}
	return id, nil
}

// pickGitHubEmail chooses among verified addresses only: with allowed
// domains, among those in an allowed domain when there is one; the primary
// address first.
func pickGitHubEmail(emails []githubEmail, allowed []string) (string, bool) {
	var verified []githubEmail
	for _, e := range emails {
		if e.Verified && e.Email != "" {
			verified = append(verified, e)
		}
	}
	if len(allowed) > 0 {
		var in []githubEmail
		for _, e := range verified {
			if containsFold(allowed, emailDomain(e.Email)) {
				in = append(in, e)
			}
		}
		if len(in) > 0 {
			verified = in
		}
	}
	if len(verified) == 0 {
		return "", false
	}
	for _, e := range verified {
		if e.Primary {
			return e.Email, true
		}
	}
	return verified[0].Email, true
}

func (g *github) orgs(ctx context.Context, token string) ([]string, error) {
	next := g.apiURL("/user/orgs") + "?per_page=100"
	var out []string
	for page := 0; next != "" && page < githubMaxPages; page++ {
		var orgs []githubOrg
		n, err := g.get(ctx, token, next, &orgs)
		if err != nil {
			return nil, err
		}
		for _, o := range orgs {
			out = append(out, o.Login)
		}
		next = n
	}
	return out, nil
}

func (g *github) apiURL(path string) string {
	return g.api.String() + path
}

// githubAPIError is a non-200 API answer (its body is not kept).
type githubAPIError struct {
	Path   string
	Status int
}

func (e *githubAPIError) Error() string {
	return fmt.Sprintf("GitHub API %s answered HTTP %d", e.Path, e.Status)
}

func apiLoginError(what string, err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &LoginError{Reason: ReasonUpstreamError, Message: "Could not read " + what + " from GitHub.", Err: err}
}

// get fetches a GitHub REST resource into v and returns the rel="next" page
// URL, which is followed only on the API's own origin (the token must not
// travel elsewhere).
func (g *github) get(ctx context.Context, token, rawURL string, v any) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("User-Agent", "Gatehouse")
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return "", &githubAPIError{Path: req.URL.Path, Status: resp.StatusCode}
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return "", fmt.Errorf("GitHub API %s: %w", req.URL.Path, err)
	}
	return g.nextLink(resp.Header.Get("Link")), nil
}

// nextLink parses an RFC 8288 Link header for rel="next".
func (g *github) nextLink(h string) string {
	for _, part := range strings.Split(h, ",") {
		segs := strings.Split(part, ";")
		if len(segs) < 2 {
			continue
		}
		target := strings.TrimSpace(segs[0])
		if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
			continue
		}
		isNext := false
		for _, p := range segs[1:] {
			p = strings.TrimSpace(p)
			if strings.EqualFold(p, `rel="next"`) || strings.EqualFold(p, "rel=next") {
				isNext = true
			}
		}
		if !isNext {
			continue
		}
		u, err := url.Parse(target[1 : len(target)-1])
		if err != nil || u.Scheme != g.api.Scheme || u.Host != g.api.Host {
			return ""
		}
		return u.String()
	}
	return ""
}

// Refresh renews a GitHub App user token (8 h access, refresh token);
// OAuth-app tokens do not expire and are returned unchanged. While the
// tenant restricts orgs or domains, membership and emails are read again
// with the renewed token: someone removed from the org loses access at the
// next refresh, not when their refresh token ends.
func (g *github) Refresh(ctx context.Context, t *Token) (*Token, error) {
	nt, err := refreshToken(ctx, g.oc, g.cfg.HTTPClient, t)
	if err != nil {
		return nil, err
	}
	if len(g.cfg.IdP.AllowedOrgs) == 0 && len(g.cfg.IdP.AllowedDomains) == 0 {
		return nt, nil
	}
	if _, err := g.identify(ctx, nt.AccessToken); err != nil {
		return nil, recheckError(err)
	}
	return nt, nil
}
