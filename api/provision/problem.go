package provision

import (
	"encoding/json"
	"net/http"

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

// tooLarge answers a body over the 1 MiB limit (httpx.LimitBody).
func tooLarge(c *gin.Context) {
	problem(c, http.StatusRequestEntityTooLarge, probTooLarge, "request bodies are limited to 1 MiB", nil)
}
