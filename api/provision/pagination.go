package provision

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

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

// listOfTenant answers one of a tenant's plain lists (clients, grants,
// users, webhook deliveries): a page by ?limit&cursor, the cursor bound to
// the list and the tenant.
func listOfTenant[T any](h *handler, c *gin.Context, list string, read func(ctx context.Context, tenantID string, p tenants.Page) ([]T, string, error)) {
	t := tenantOf(c)
	scope := list + ":" + t.ID
	p, ok := h.pageOf(c, scope)
	if !ok {
		return
	}
	items, next, err := read(c.Request.Context(), t.ID, p)
	if err != nil {
		h.fail(c, err, "")
		return
	}
	writeList(c, items, h.sealCursor(scope, next))
}

// allOfTenant reads one of a tenant's short lists that are not paged (API
// keys, enterprise IdPs; no query parameters); false when it has answered.
func allOfTenant[T any](h *handler, c *gin.Context, read func(ctx context.Context, tenantID string) ([]T, error)) ([]T, bool) {
	if _, ok := query(c); !ok {
		return nil, false
	}
	items, err := read(c.Request.Context(), tenantOf(c).ID)
	if err != nil {
		h.fail(c, err, "")
		return nil, false
	}
	return items, true
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
