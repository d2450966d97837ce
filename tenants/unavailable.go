package tenants

import "errors"

// ErrUnavailable marks a failure of a dependency (the database did not
// answer in time, refused the connection, or cannot write) rather than of
// the request. HTTP surfaces answer it with 503 and Retry-After, never with
// "not found" or "invalid client": a client must retry, not forget the
// connector (docs/SECURITY.md "Fault behaviour").
var ErrUnavailable = errors.New("temporarily unavailable")

// UnavailableError wraps the driver error that made a store unavailable;
// errors.Is(err, ErrUnavailable) holds and the cause stays for the log.
type UnavailableError struct{ Cause error }

func (e *UnavailableError) Error() string { return "store unavailable: " + e.Cause.Error() }

// Unwrap exposes the cause (e.g. context.DeadlineExceeded).
func (e *UnavailableError) Unwrap() error { return e.Cause }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }
