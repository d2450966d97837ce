package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	as "github.com/gatehouse/gatehouse/tenants/oauth"
)

// jsonError writes an RFC 6749 §5.2 error body.
func (h *handler) jsonError(c *gin.Context, err error) {
	e := as.AsError(err)
	h.logError(c, e)
	for k, vs := range e.Header {
		for _, v := range vs {
			c.Writer.Header().Add(k, v)
		}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(e.HTTPStatus(), e.JSON())
}

func (h *handler) logError(c *gin.Context, e *as.Error) {
	if e.Cause == nil && e.HTTPStatus() < 500 {
		return
	}
	if errors.Is(e.Cause, tenants.ErrUnavailable) {
		h.d.Sites.Outage().Down(e.Cause) // logged once per outage
		return
	}
	lvl := h.d.Logger.Warn
	if e.HTTPStatus() >= 500 {
		lvl = h.d.Logger.Error
	}
	cause := ""
	if e.Cause != nil {
		cause = e.Cause.Error()
	}
	lvl("oauth error", "route", c.FullPath(), "error", e.Code, "description", e.Description, "cause", cause, "request_id", c.GetString("request_id"))
}

// readForm parses a form body (and, for GET, the query), mapping an
// oversized body to 413.
func readForm(c *gin.Context, bodyOnly bool) (url.Values, *as.Error) {
	if err := c.Request.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &as.Error{Code: as.ErrInvalidRequest, Description: "request body is too large", Status: http.StatusRequestEntityTooLarge}
		}
		return nil, &as.Error{Code: as.ErrInvalidRequest, Description: "request body is not a valid form"}
	}
	if bodyOnly {
		return c.Request.PostForm, nil
	}
	return c.Request.Form, nil
}

// backChannelForm reads the form body of a back-channel request (token,
// revocation, introspection) and refuses any of params sent more than once
// (RFC 6749 §3.2); when it returns false it has answered.
func (h *handler) backChannelForm(c *gin.Context, params ...string) (url.Values, bool) {
	form, e := readForm(c, true)
	if e == nil {
		if rep := repeated(form, params...); len(rep) > 0 {
			e = &as.Error{Code: as.ErrInvalidRequest, Description: "parameter " + rep[0] + " was sent more than once"}
		}
	}
	if e != nil {
		h.jsonError(c, e)
		return nil, false
	}
	return form, true
}

// clientForm is backChannelForm followed by client authentication (RFC 6749
// §2.3) for the token and revocation endpoints; when it returns false it
// has answered.
func (h *handler) clientForm(c *gin.Context, params ...string) (url.Values, *tenants.Client, bool) {
	form, ok := h.backChannelForm(c, params...)
	if !ok {
		return nil, nil, false
	}
	client, e := h.authenticate(c, form)
	if e != nil {
		h.jsonError(c, e)
		return nil, nil, false
	}
	return form, client, true
}

// repeated lists the names among params that occur more than once (RFC 6749
// §3.1, §3.2: parameters must not be repeated).
func repeated(v url.Values, params ...string) []string {
	var out []string
	for _, p := range params {
		if len(v[p]) > 1 {
			out = append(out, p)
		}
	}
	return out
}

func present(v url.Values, k string) bool {
	_, ok := v[k]
	return ok
}

// clientCredentials reads client authentication (RFC 6749 §2.3.1): HTTP
// Basic (form-urlencoded id and secret) or client_id/client_secret in the
// body; never both methods at once.
func clientCredentials(c *gin.Context, form url.Values) (as.ClientCredentials, *as.Error) {
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	if rep := repeated(form, "client_id", "client_secret"); len(rep) > 0 {
		return as.ClientCredentials{}, &as.Error{Code: as.ErrInvalidRequest, Description: "parameter " + rep[0] + " was sent more than once"}
	}
	authz := c.GetHeader("Authorization")
	if present(form, "client_assertion") || present(form, "client_assertion_type") {
		return assertionCredentials(c, form)
	}
	if len(authz) > 6 && strings.EqualFold(authz[:6], "basic ") {
		user, pass, ok := c.Request.BasicAuth()
		if !ok {
			return as.ClientCredentials{}, &as.Error{Code: as.ErrInvalidClient, Description: "malformed Basic authorization", Status: http.StatusUnauthorized}
		}
		id, err1 := url.QueryUnescape(user)
		secret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil {
			return as.ClientCredentials{}, &as.Error{Code: as.ErrInvalidClient, Description: "malformed Basic authorization", Status: http.StatusUnauthorized}
		}
		if formSecret != "" || (formID != "" && formID != id) {
			return as.ClientCredentials{}, &as.Error{Code: as.ErrInvalidRequest, Description: "use exactly one client authentication method"}
		}
		return as.ClientCredentials{ClientID: id, Secret: secret, Method: as.AuthBasic}, nil
	}
	if formSecret != "" {
		return as.ClientCredentials{ClientID: formID, Secret: formSecret, Method: as.AuthPost}, nil
	}
	return as.ClientCredentials{ClientID: formID, Method: as.AuthNone}, nil
}

// bearer returns the token of an Authorization: Bearer header.
func bearer(c *gin.Context) (string, bool) {
	authz := c.GetHeader("Authorization")
	if len(authz) > 7 && strings.EqualFold(authz[:7], "bearer ") {
		return strings.TrimSpace(authz[7:]), true
	}
	return "", false
}

// authenticate reads and checks client credentials for the site.
func (h *handler) authenticate(c *gin.Context, form url.Values) (*tenants.Client, *as.Error) {
	cred, e := clientCredentials(c, form)
	if e != nil {
		return nil, e
	}
	return h.as.AuthenticateClient(c.Request.Context(), httpx.Site(c), cred)
}
