package provision

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	"github.com/gatehouse/gatehouse/tenants"
)

// Problem is an RFC 9457 problem detail. Errors lists field-level problems
// of a validation failure; RequestID ties the answer to the server log.
type Problem struct {
	Type      string               `json:"type"`
	Title     string               `json:"title"`
	Status    int                  `json:"status"`
	Detail    string               `json:"detail"`
	Instance  string               `json:"instance"`
	RequestID string               `json:"request_id,omitempty"`
	Errors    []tenants.FieldError `json:"errors,omitempty"`
}

// Problem types. They are URNs (RFC 9457 §3.1.1 allows any URI); docs/API.md
// lists them.
const (
	probValidation    = "urn:gatehouse:problem:validation"
	probMalformed     = "urn:gatehouse:problem:malformed-json"
	probUnauthorized  = "urn:gatehouse:problem:unauthorized"
	probForbidden     = "urn:gatehouse:problem:forbidden"
	probSuspended     = "urn:gatehouse:problem:team-suspended"
	probNotFound      = "urn:gatehouse:problem:not-found"
	probConflict      = "urn:gatehouse:problem:conflict"
	probTooLarge      = "urn:gatehouse:problem:body-too-large"
	probMediaType     = "urn:gatehouse:problem:unsupported-media-type"
	probInternal      = "urn:gatehouse:problem:internal"
	probBadQuery      = "urn:gatehouse:problem:invalid-query"
	probNotConfigured = "urn:gatehouse:problem:not-configured"
)

var problemTitles = map[string]string{
	probValidation:           "The request has invalid fields",
	probMalformed:            "The request body is not valid JSON",
	probUnauthorized:         "Authentication required",
	probForbidden:            "Not allowed with this credential",
	probSuspended:            "The team is suspended",
	probNotFound:             "Not found",
	probConflict:             "Already exists",
	probTooLarge:             "Request body too large",
	probMediaType:            "Unsupported media type",
	probInternal:             "Internal error",
	probBadQuery:             "Invalid query parameters",
	probNotConfigured:        "Not configured",
	httpx.ProblemUnavailable: "Service unavailable",
}

const problemContentType = "application/problem+json"

// problem writes a problem+json answer and aborts the chain.
func problem(c *gin.Context, status int, typ, detail string, errs []tenants.FieldError) {
	p := Problem{Type: typ, Title: problemTitles[typ], Status: status, Detail: detail,
		Instance: c.Request.URL.Path, RequestID: c.GetString("request_id"), Errors: errs}
	body, _ := json.Marshal(p)
	c.Header("Content-Type", problemContentType)
	c.Header("Cache-Control", "no-store")
	c.Status(status)
	_, _ = c.Writer.Write(body)
	c.Abort()
}

// notFound is the one answer for a missing resource; a tenant key asking
// about another tenant gets exactly this too, so keys cannot probe slugs.
func notFound(c *gin.Context, what string) {
	problem(c, http.StatusNotFound, probNotFound, what+" was not found", nil)
}

// fail maps a domain error to its problem.
func (h *handler) fail(c *gin.Context, err error, notFoundWhat string) {
	var ve *tenants.ValidationError
	var se *tenants.JSONSyntaxError
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

func validationDetail(ve *tenants.ValidationError) string {
	if len(ve.Errors) == 1 {
		return ve.Errors[0].Field + " " + ve.Errors[0].Detail
	}
	return strconv.Itoa(len(ve.Errors)) + " fields are invalid; see errors"
}

func tooLarge(c *gin.Context) {
	problem(c, http.StatusRequestEntityTooLarge, probTooLarge, "request bodies are limited to 1 MiB", nil)
}

// bodyOpts says what a handler accepts.
type bodyOpts struct {
	// optional: an empty body is allowed (read as no data).
	optional bool
	// mergePatch also accepts application/merge-patch+json (RFC 7396).
	mergePatch bool
}

// readBody reads a JSON body under the size limit, checking the media type.
// It returns nil data for an allowed empty body; ok=false means a problem
// was written.
func readBody(c *gin.Context, o bodyOpts) (data []byte, ok bool) {
	if c.GetBool("body_too_large") {
		tooLarge(c)
		return nil, false
	}
	hasBody := c.Request.Body != nil && c.Request.Body != http.NoBody && c.Request.ContentLength != 0
	if hasBody {
		ct := c.GetHeader("Content-Type")
		mt, _, err := mime.ParseMediaType(ct)
		allowed := err == nil && (mt == "application/json" || (o.mergePatch && mt == "application/merge-patch+json"))
		if !allowed {
			want := "application/json"
			if o.mergePatch {
				want = "application/merge-patch+json or application/json"
			}
			if ct == "" {
				ct = "none"
			}
			c.Header("Accept-Patch", "application/merge-patch+json, application/json")
			problem(c, http.StatusUnsupportedMediaType, probMediaType, "Content-Type "+ct+" is not accepted; send "+want, nil)
			return nil, false
		}
		b, err := io.ReadAll(c.Request.Body)
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				tooLarge(c)
			} else {
				problem(c, http.StatusBadRequest, probMalformed, "the request body could not be read", nil)
			}
			return nil, false
		}
		data = b
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		if o.optional {
			return nil, true
		}
		problem(c, http.StatusBadRequest, probMalformed, "a JSON request body is required", nil)
		return nil, false
	}
	return data, true
}

// bind reads and strictly decodes a JSON body into v (unknown fields, wrong
// types and trailing data are 400s naming the problem).
func (h *handler) bind(c *gin.Context, v any, o bodyOpts) bool {
	data, ok := readBody(c, o)
	if !ok {
		return false
	}
	if data == nil {
		return true
	}
	if err := tenants.DecodeStrict(data, v, ""); err != nil {
		h.fail(c, err, "")
		return false
	}
	return true
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

// page reads ?limit&cursor.
func page(c *gin.Context, q map[string]string) (tenants.Page, bool) {
	p := tenants.Page{Cursor: q["cursor"]}
	if s, ok := q["limit"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 200 {
			problem(c, http.StatusBadRequest, probBadQuery, "limit is out of range",
				[]tenants.FieldError{{Field: "limit", Detail: "must be an integer between 1 and 200"}})
			return p, false
		}
		p.Limit = n
	}
	if _, ok := q["cursor"]; ok && p.Cursor == "" {
		problem(c, http.StatusBadRequest, probBadQuery, "cursor is empty",
			[]tenants.FieldError{{Field: "cursor", Detail: "must not be empty; omit it for the first page"}})
		return p, false
	}
	return p, true
}

// list is the shape of every list answer (docs/RULES.md §9).
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func writeList[T any](c *gin.Context, items []T, next string) {
	if items == nil {
		items = []T{}
	}
	c.JSON(http.StatusOK, list[T]{Items: items, NextCursor: next})
}

// Cursors handed out by the API wrap the store's cursor with a MAC bound to
// the list and tenant, so a tampered or foreign cursor is a clear 400
// instead of a silently wrong page.
func (h *handler) sealCursor(scope, next string) string {
	if next == "" {
		return ""
	}
	return next + "." + h.d.Sealer.MACText("api-cursor", cursorMACData(scope, next), 16)
}

func cursorMACData(scope, raw string) []byte { return []byte(scope + "\x00" + raw) }

// openCursor unwraps p.Cursor in place; false means a problem was written.
func (h *handler) openCursor(c *gin.Context, scope string, p *tenants.Page) bool {
	if p.Cursor == "" {
		return true
	}
	i := strings.LastIndexByte(p.Cursor, '.')
	if i > 0 {
		// Any configured secret key: cursors survive a key rotation.
		if h.d.Sealer.VerifyMACText("api-cursor", cursorMACData(scope, p.Cursor[:i]), p.Cursor[i+1:]) {
			p.Cursor = p.Cursor[:i]
			return true
		}
	}
	h.fail(c, tenants.ErrBadCursor, "")
	return false
}
