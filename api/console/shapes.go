package console

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gatehouse/gatehouse/tenants"
)

// The shapes the console's pages and forms share: a page built by a view
// function and its flash, a keyset-paged list, a form refused field by
// field, an expected domain refusal (a target gone, a stale link), and the
// notice that ends a form.

// pageView builds a page's data; a form refused by the domain shows the same
// page again.
type pageView func(c *gin.Context) (*view, error)

// show renders the page that build makes, with the flash take returns.
func (u *ui) show(c *gin.Context, build pageView, name string, take func(*gin.Context) *flash) {
	v, err := build(c)
	if err != nil {
		u.fail(c, err)
		return
	}
	v.Flash = take(c)
	u.render(c, http.StatusOK, name, v)
}

// teamFlash is the flash of the next team page, of any kind (notices, and
// secrets shown once).
func (u *ui) teamFlash(c *gin.Context) *flash { return u.takeFlash(c, sessionOf(c).ID, "/console") }

// takeNotice is the flash of the next page when it is a notice.
func (u *ui) takeNotice(c *gin.Context) *flash {
	if f := u.teamFlash(c); f != nil && f.Kind == "notice" {
		return f
	}
	return nil
}

// notice sets the one-time message of the next team page.
func (u *ui) notice(c *gin.Context, msg string) {
	_ = u.setFlash(c, &flash{Binding: sessionOf(c).ID, Kind: "notice", Values: map[string]string{"msg": msg}}, "/console")
}

// listPage lists the page at the request's ?cursor. A cursor the store did
// not issue (a stale or forged link) shows the first page instead, with a
// notice that calls it first ("first page", "newest events").
func listPage[T any](c *gin.Context, v *view, first string, list func(tenants.Page) ([]T, string, error)) (items []T, next, cursor string, err error) {
	cursor = c.Query("cursor")
	items, next, err = list(tenants.Page{Limit: 50, Cursor: cursor})
	if errors.Is(err, tenants.ErrBadCursor) {
		v.Notice = "That page link is no longer valid; showing the " + first + "."
		cursor = ""
		items, next, err = list(tenants.Page{Limit: 50})
	}
	return items, next, cursor, err
}

// refuse shows a form's page again (422) with the values posted in fields
// and the domain's errors per field.
func (u *ui) refuse(c *gin.Context, build pageView, name string, fields []string, errs map[string][]string, notice string) {
	v, err := build(c)
	if err != nil {
		u.fail(c, err)
		return
	}
	for _, f := range fields {
		v.Form[f] = c.PostForm(f)
	}
	v.Errors, v.Notice = errs, notice
	u.render(c, http.StatusUnprocessableEntity, name, v)
}

// formErrors is fieldErrors for a form that creates something unique: a
// conflict (tenants.ErrConflict) is said as taken, the error of field.
func formErrors(err error, field, taken string) (map[string][]string, bool) {
	if errors.Is(err, tenants.ErrConflict) {
		return map[string][]string{field: {taken}}, true
	}
	return fieldErrors(err)
}

// refusal is how a request answers an expected domain error (errors.Is):
// the error page with status and msg, or with the error's own words when
// msg is empty.
type refusal struct {
	err    error
	status int
	msg    string
}

// accepted reports whether the domain call's err is nil; otherwise it has
// answered: the first refusal err is, else the failure page.
func (u *ui) accepted(c *gin.Context, err error, refusals ...refusal) bool {
	if err == nil {
		return true
	}
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			msg := r.msg
			if msg == "" {
				msg = capitalize(err.Error()) + "."
			}
			u.errorPage(c, r.status, msg)
			return false
		}
	}
	u.fail(c, err)
	return false
}

// done is accepted for a form that names something: 404 with missing when
// it is gone.
func (u *ui) done(c *gin.Context, err error, missing string) bool {
	return u.accepted(c, err, refusal{tenants.ErrNotFound, http.StatusNotFound, missing})
}

// backWith ends a team form: msg is shown once on the team page at sub.
func (u *ui) backWith(c *gin.Context, sub, msg string) {
	u.notice(c, msg)
	c.Redirect(http.StatusSeeOther, u.tenantURL(tenantOf(c), sub))
}
