package provision

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

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
