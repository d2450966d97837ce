package oauth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/api/httpx"
	as "github.com/gatehouse/gatehouse/tenants/oauth"
)

// register is dynamic client registration (RFC 7591 §3).
func (h *handler) register(c *gin.Context) {
	var req as.RegistrationRequest
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.jsonError(c, &as.Error{Code: as.ErrInvalidClientMetadata, Description: "registration request is too large", Status: http.StatusRequestEntityTooLarge})
			return
		}
		h.jsonError(c, &as.Error{Code: as.ErrInvalidRequest, Description: "could not read the request body"})
		return
	}
	if err := json.Unmarshal(body, &req); err != nil {
		h.jsonError(c, &as.Error{Code: as.ErrInvalidClientMetadata, Description: "registration request must be a JSON object of client metadata (RFC 7591 §2): " + err.Error()})
		return
	}
	resp, e := h.as.Register(c.Request.Context(), httpx.Site(c), c.ClientIP(), req)
	if e != nil {
		h.jsonError(c, e)
		return
	}
	c.JSON(http.StatusCreated, resp)
}
