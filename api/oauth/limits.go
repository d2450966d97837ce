package oauth

import (
	"bytes"
	"io"
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants/limits"
)

// limits returns the authorize and token rate limits: per tenant, client
// and client IP (limits.Authorize, limits.Token), shared by every replica
// through the platform limiter. DCR is limited in the domain (only new
// registrations are charged).
func (h *handler) limits() (authorize, token gin.HandlerFunc) {
	key := func(c *gin.Context) string {
		tenant := ""
		if site := httpx.Site(c); site.Tenant != nil {
			tenant = site.Tenant.ID
		}
		return limits.Key(tenant, limitClientID(c), c.ClientIP())
	}
	return h.d.RateLimit("authorize", limits.Authorize, key), h.d.RateLimit("token", limits.Token, key)
}

// limitClientID is the client a request names (Basic credentials, the
// form body or the query). The body is read and put back untouched (a read
// error included), so the handler's own parsing and errors are unchanged.
func limitClientID(c *gin.Context) string {
	r := c.Request
	if id, _, ok := r.BasicAuth(); ok {
		if u, err := url.QueryUnescape(id); err == nil {
			return clip(u)
		}
	}
	id := r.URL.Query().Get("client_id")
	if r.Method == http.MethodPost && r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(r.Body)
		rest := io.Reader(http.NoBody)
		if err != nil {
			rest = errReader{err}
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), rest), r.Body}
		if v, perr := url.ParseQuery(string(b)); perr == nil && v.Get("client_id") != "" {
			id = v.Get("client_id")
		}
	}
	return clip(id)
}

func clip(s string) string {
	if len(s) > 512 {
		return s[:512]
	}
	return s
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
