package httpx

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
)

// nulScanLimit bounds how much of a body RefuseNUL reads (the routes' own
// limits are smaller; a larger body is left to them).
const nulScanLimit = 1 << 20

// ProblemInvalidInput is the RFC 9457 type of refused input.
const ProblemInvalidInput = "urn:gatehouse:problem:validation"

const nulMessage = "the request contains a NUL character (U+0000), which no parameter may hold"

// RefuseNUL answers 400 to a request whose path, query, form body or JSON
// strings contain U+0000. Postgres cannot store NUL in text (SQLSTATE
// 22021), so without this an identifier such as client_id=%00 became a
// 500 at every endpoint that looks it up (issue 13, finding 5). One check
// at the edge instead of one per field. The MCP path is exempt: its body
// goes to the tenant's upstream, never to the database.
func RefuseNUL(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if SurfaceOf(r.URL.Path) == SurfaceMCP || IsProbe(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		bad := strings.IndexByte(r.URL.Path, 0) >= 0 || hasNULEscape(r.URL.RawQuery)
		if !bad && r.Body != nil && r.Body != http.NoBody {
			head, err := io.ReadAll(io.LimitReader(r.Body, nulScanLimit))
			if err == nil {
				bad = bodyHasNUL(r.Header.Get("Content-Type"), head)
			}
			r.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(head), r.Body), r.Body}
		}
		if bad {
			WriteError(w, r, http.StatusBadRequest, "invalid_request", ProblemInvalidInput, -32600, nulMessage)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hasNULEscape reports a percent-encoded NUL in a query or form body.
func hasNULEscape(s string) bool {
	for i := strings.IndexByte(s, '%'); i >= 0 && i+2 < len(s); {
		if s[i+1] == '0' && s[i+2] == '0' {
			return true
		}
		j := strings.IndexByte(s[i+1:], '%')
		if j < 0 {
			break
		}
		i += 1 + j
	}
	return strings.IndexByte(s, 0) >= 0
}

func bodyHasNUL(contentType string, b []byte) bool {
	if bytes.IndexByte(b, 0) >= 0 {
		return true
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/x-www-form-urlencoded":
		return hasNULEscape(string(b))
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		if !bytes.Contains(b, []byte(`u0000`)) {
			return false // cheap: no escape can decode to NUL
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			return false // malformed JSON is the handler's 400
		}
		return jsonHasNUL(v)
	}
	return false
}

func jsonHasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.IndexByte(x, 0) >= 0
	case []any:
		for _, e := range x {
			if jsonHasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.IndexByte(k, 0) >= 0 || jsonHasNUL(e) {
				return true
			}
		}
	}
	return false
}
