package console

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/accounts"
	"github.com/gatehouse/gatehouse/tenants/idp"
)

// Console sign-in with a platform-level IdP (GATEHOUSE_PLATFORM_IDP_*): an
// OAuth 2.0 authorization code flow with PKCE (RFC 7636) and, for OIDC,
// a nonce; state, nonce and verifier ride in a sealed cookie bound to this
// browser, so a callback started elsewhere is refused (RFC 6749 §10.12).

func (u *ui) platformIdP(typ string) *httpx.PlatformIdP {
	for i := range u.d.PlatformIdPs {
		if u.d.PlatformIdPs[i].Config.Type == typ {
			return &u.d.PlatformIdPs[i]
		}
	}
	return nil
}

func (u *ui) idpProvider(c *gin.Context, p *httpx.PlatformIdP) (idp.Provider, error) {
	cfg := p.Config
	return idp.New(c.Request.Context(), idp.Config{IdP: &cfg, ClientSecret: p.ClientSecret,
		RedirectURL: u.origin + "/console/login/idp/" + cfg.Type + "/callback", HTTPClient: u.d.IdPClient(), Endpoints: p.Endpoints})
}

func (u *ui) idpStart(c *gin.Context) {
	p := u.platformIdP(c.Param("provider"))
	if p == nil {
		u.notFound(c)
		return
	}
	prov, err := u.idpProvider(c, p)
	if err != nil {
		u.d.Logger.Warn("platform IdP unavailable", "provider", p.Config.Type, "err", err)
		u.errorPage(c, http.StatusBadGateway, "Sign-in with "+p.Label+" is not available right now. Try again, or sign in with email and password.")
		return
	}
	pd := &pending{State: tenants.RandomToken(), Nonce: tenants.RandomToken(), Verifier: tenants.RandomToken() + tenants.RandomToken()[:20],
		Provider: p.Config.Type, Next: c.Query("next"), Exp: u.now().Add(10 * pendingTTL).Unix()}
	sealed, err := u.sealJSON(pd, idpContext)
	if err != nil {
		u.fail(c, err)
		return
	}
	http.SetCookie(c.Writer, u.cookie(idpCookie, sealed, "/console/login/idp", 10*pendingTTL))
	c.Redirect(http.StatusSeeOther, prov.AuthCodeURL(pd.State, pd.Nonce, pd.Verifier))
}

func (u *ui) idpCallback(c *gin.Context) {
	p := u.platformIdP(c.Param("provider"))
	if p == nil {
		u.notFound(c)
		return
	}
	raw, _ := c.Cookie(idpCookie)
	http.SetCookie(c.Writer, u.cookie(idpCookie, "", "/console/login/idp", -1))
	var pd pending
	if raw == "" || !u.openJSON(raw, idpContext, &pd) || pd.Provider != p.Config.Type || u.now().Unix() >= pd.Exp ||
		pd.State == "" || c.Query("state") != pd.State {
		u.errorPage(c, http.StatusBadRequest, "This sign-in did not start in this browser, or took too long. Start again from the sign-in page.")
		return
	}
	if e := c.Query("error"); e != "" {
		u.errorPage(c, http.StatusForbidden, p.Label+" did not sign you in ("+e+"). Start again from the sign-in page.")
		return
	}
	prov, err := u.idpProvider(c, p)
	if err != nil {
		u.errorPage(c, http.StatusBadGateway, "Sign-in with "+p.Label+" is not available right now.")
		return
	}
	id, _, err := prov.Exchange(c.Request.Context(), c.Query("code"), pd.Nonce, pd.Verifier)
	if err != nil {
		u.d.Logger.Warn("platform IdP sign-in failed", "provider", p.Config.Type, "err", err)
		var le *idp.LoginError
		msg := p.Label + " sign-in failed. Start again from the sign-in page."
		if errors.As(err, &le) && le.Message != "" {
			msg = le.Message
		}
		u.errorPage(c, http.StatusForbidden, msg)
		return
	}
	a, err := u.acc.LoginWithIdentity(c.Request.Context(), accounts.Identity{Provider: p.Config.Type, Subject: id.Subject,
		Email: id.Email, EmailVerified: id.EmailVerified, Name: id.Name})
	if !u.accepted(c, err, refusal{accounts.ErrIdPEmail, http.StatusForbidden, ""}, refusal{accounts.ErrSignupClosed, http.StatusForbidden, ""}) {
		return
	}
	u.afterFirstFactor(c, a, accounts.MethodIdPPrefix+p.Config.Type, pd.Next)
}
