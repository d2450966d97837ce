package provision

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

// validationDetail is the problem detail of a validation failure: the one
// field's complaint, or how many fields failed (the list is in errors).
func validationDetail(ve *tenants.ValidationError) string {
	if len(ve.Errors) == 1 {
		return ve.Errors[0].Field + " " + ve.Errors[0].Detail
	}
	return strconv.Itoa(len(ve.Errors)) + " fields are invalid; see errors"
}

// query checks the query string against the allowed names (a typo such as
// ?sinse= is an error, not a silently unfiltered list) and returns it.
func query(c *gin.Context, allowed ...string) (map[string]string, bool) {
	q := c.Request.URL.Query()
	out := map[string]string{}
	var errs []tenants.FieldError
	for k, vs := range q {
		known := false
		for _, a := range allowed {
			if a == k {
				known = true
			}
		}
		switch {
		case !known:
			errs = append(errs, tenants.FieldError{Field: k, Detail: "is not a known query parameter (allowed: " + strings.Join(allowed, ", ") + ")"})
		case len(vs) > 1:
			errs = append(errs, tenants.FieldError{Field: k, Detail: "must be given once"})
		default:
			out[k] = vs[0]
		}
	}
	if len(errs) > 0 {
		problem(c, http.StatusBadRequest, probBadQuery, "the query string has invalid parameters", errs)
		return nil, false
	}
	return out, true
}
