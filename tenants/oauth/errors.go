package oauth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/gatehouse/gatehouse/tenants"
)

// Error codes of RFC 6749 §4.1.2.1 / §5.2, RFC 7591 §3.2.2, RFC 8707 §2.
const (
	ErrInvalidRequest          = "invalid_request"
	ErrInvalidClient           = "invalid_client"
	ErrInvalidGrant            = "invalid_grant"
	ErrUnauthorizedClient      = "unauthorized_client"
	ErrUnsupportedGrantType    = "unsupported_grant_type"
	ErrUnsupportedResponseType = "unsupported_response_type"
	ErrInvalidScope            = "invalid_scope"
	ErrAccessDenied            = "access_denied"
	ErrServerError             = "server_error"
	ErrTemporarilyUnavailable  = "temporarily_unavailable"
	ErrInvalidTarget           = "invalid_target"
	ErrInvalidRedirectURI      = "invalid_redirect_uri"
	ErrInvalidClientMetadata   = "invalid_client_metadata"
	ErrInvalidToken            = "invalid_token"
	ErrUnsupportedTokenType    = "unsupported_token_type"
)

// Suspended is the answer of every endpoint of a tenant an operator
// suspended (DESIGN §12); copy it to change it.
var Suspended = Error{Code: ErrAccessDenied, Description: tenants.SuspendedMessage, Status: http.StatusForbidden}

// Error is an OAuth error response (RFC 6749 §5.2). Handlers return it and
// the HTTP layer writes it: as JSON on the back-channel endpoints, as a
// redirect to the client when RedirectURI is set (RFC 6749 §4.1.2.1: only
// once the client and its redirect URI are validated), else as a page.
type Error struct {
	Code        string
	Description string
	// Status is the HTTP status for JSON answers (default 400).
	Status int
	// RedirectURI, State: where the error may be sent back (authorize only).
	RedirectURI string
	State       string
	// Header is added to the response (e.g. WWW-Authenticate on a 401).
	Header http.Header
	// Cause is logged, never shown.
	Cause error
}

func (e *Error) Error() string {
	s := e.Code
	if e.Description != "" {
		s += ": " + e.Description
	}
	if e.Cause != nil {
		s += " (" + e.Cause.Error() + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Cause }

// HTTPStatus is the status of the JSON answer.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	return http.StatusBadRequest
}

// Redirectable reports whether the error goes back to the client's redirect URI.
func (e *Error) Redirectable() bool { return e.RedirectURI != "" }

// RedirectURL builds the error response of RFC 6749 §4.1.2.1 with the
// RFC 9207 iss parameter.
func (e *Error) RedirectURL(issuer string) string {
	q := url.Values{}
	q.Set("error", e.Code)
	if e.Description != "" {
		q.Set("error_description", e.Description)
	}
	if e.State != "" {
		q.Set("state", e.State)
	}
	q.Set("iss", issuer)
	return appendQuery(e.RedirectURI, q)
}

// JSON is the error body of RFC 6749 §5.2.
func (e *Error) JSON() map[string]string {
	m := map[string]string{"error": e.Code}
	if e.Description != "" {
		m["error_description"] = e.Description
	}
	return m
}

func newErr(code, format string, args ...any) *Error {
	return &Error{Code: code, Description: fmt.Sprintf(format, args...)}
}

// Errors are changed by copying, never rebuilt by hand (a rebuilt value
// loses its Status and Cause: a database failure would answer 400 and never
// be logged) and never mutated in place (a value may be shared).

func (e *Error) clone() *Error {
	c := *e
	if e.Header != nil {
		c.Header = e.Header.Clone()
	}
	return &c
}

// WithStatus returns a copy answering with HTTP status s.
func (e *Error) WithStatus(s int) *Error { c := e.clone(); c.Status = s; return c }

// WithDescription returns a copy with another error_description.
func (e *Error) WithDescription(format string, args ...any) *Error {
	c := e.clone()
	c.Description = fmt.Sprintf(format, args...)
	return c
}

// WithCause returns a copy that logs err as its cause.
func (e *Error) WithCause(err error) *Error { c := e.clone(); c.Cause = err; return c }

// WithRedirect returns a copy sent back to the client's redirect URI
// (RFC 6749 §4.1.2.1), for errors found once the client and its redirect
// URI are validated.
func (e *Error) WithRedirect(redirectURI, state string) *Error {
	c := e.clone()
	c.RedirectURI, c.State = redirectURI, state
	return c
}

// AsError converts any error into an *Error; unknown errors become
// server_error with the cause kept for the log.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		if e.Code == ErrServerError && errors.Is(e.Cause, tenants.ErrUnavailable) {
			return unavailable(e.Cause)
		}
		return e
	}
	return serverError(err)
}

// serverError is a 500, or a 503 temporarily_unavailable (RFC 6749
// §4.1.2.1) when the store could not answer: the client should retry, and
// must not take it for a verdict on its request.
func serverError(err error) *Error {
	if errors.Is(err, tenants.ErrUnavailable) {
		return unavailable(err)
	}
	return &Error{Code: ErrServerError, Description: "internal error", Status: http.StatusInternalServerError, Cause: err}
}

func unavailable(err error) *Error {
	return &Error{Code: ErrTemporarilyUnavailable, Description: "the authorization server is temporarily unavailable; retry shortly",
		Status: http.StatusServiceUnavailable, Header: http.Header{"Retry-After": {"5"}}, Cause: err}
}

// appendQuery adds q to raw's query, keeping what is there (RFC 6749 §3.1.2:
// the redirect URI may carry a query that must be retained).
func appendQuery(raw string, q url.Values) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	existing := u.Query()
	for k, vs := range q {
		existing[k] = vs
	}
	u.RawQuery = existing.Encode()
	return u.String()
}
