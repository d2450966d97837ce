package provision

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
	"github.com/gatehouse/gatehouse/tenants/jsonx"
)

// fail maps a domain error to its problem.
func (h *handler) fail(c *gin.Context, err error, notFoundWhat string) {
	var ve *tenants.ValidationError
	var se *jsonx.SyntaxError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ve):
		problem(c, http.StatusBadRequest, probValidation, validationDetail(ve), ve.Errors)
	case errors.As(err, &se):
		problem(c, http.StatusBadRequest, probMalformed, se.Error(), nil)
	case errors.As(err, &mbe):
		tooLarge(c)
	case errors.Is(err, tenants.ErrBadCursor):
		problem(c, http.StatusBadRequest, probBadQuery, "the cursor was not issued by this API",
			[]tenants.FieldError{{Field: "cursor", Detail: "is not a cursor this API issued; start again without it"}})
	case errors.Is(err, tenants.ErrNotFound):
		notFound(c, notFoundWhat)
	case errors.Is(err, tenants.ErrConflict):
		problem(c, http.StatusConflict, probConflict, "a resource with that identity already exists", nil)
	case errors.Is(err, tenants.ErrUnavailable):
		h.d.Sites.Outage().Down(err) // logged once per outage
		c.Header("Retry-After", httpx.RetryAfterSeconds)
		problem(c, http.StatusServiceUnavailable, httpx.ProblemUnavailable, "the service is temporarily unavailable; retry shortly", nil)
	default:
		h.d.Logger.Error("provisioning API error", "err", err, "route", c.FullPath(), "request_id", c.GetString("request_id"))
		problem(c, http.StatusInternalServerError, probInternal, "internal error; see the server log for request "+c.GetString("request_id"), nil)
	}
}
