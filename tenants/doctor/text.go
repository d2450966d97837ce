package doctor

import (
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Reading event details and writing them into sentences.

func detailString(ev tenants.AuditEvent, key string) string {
	switch v := ev.Details[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case []string, []any:
		return strings.Join(detailList(ev, key), ", ")
	default:
		return fmt.Sprint(v)
	}
}

// detailList reads a list detail. Events read back from the store hold
// []any (JSON); events still in memory hold []string.
func detailList(ev tenants.AuditEvent, key string) []string {
	switch v := ev.Details[key].(type) {
	case []string:
		return v
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case string:
		if v != "" {
			return []string{v}
		}
	}
	return nil
}

// reasonText renders an event's reason and the IdP's error details.
func reasonText(ev tenants.AuditEvent) string {
	parts := []string{}
	if ev.Reason != "" {
		parts = append(parts, ev.Reason)
	}
	for _, k := range []string{tenants.DetailError, tenants.DetailErrorDesc, tenants.DetailIdPError, tenants.DetailStatus} {
		if v := detailString(ev, k); v != "" && v != ev.Reason {
			parts = append(parts, v)
		}
	}
	if len(parts) == 0 {
		return "no reason recorded"
	}
	return strings.Join(parts, ": ")
}

// fmtTime writes a time in UTC, with the date when it is not today.
func fmtTime(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.Format("2006-01-02") == now.Format("2006-01-02") {
		return t.Format("15:04:05") + " UTC"
	}
	return t.Format("2006-01-02 15:04:05") + " UTC"
}

func quoteName(n string) string { return "'" + n + "'" }

func subjectOr(ev tenants.AuditEvent, def string) string {
	if ev.Subject != "" {
		return "user " + quoteName(ev.Subject)
	}
	return def
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func uaSuffix(uas []string) string {
	if len(uas) == 0 {
		return ""
	}
	return " (User-Agent: " + strings.Join(uas, ", ") + ")"
}

func userAgents(evs []tenants.AuditEvent) []string {
	var out []string
	for _, ev := range evs {
		out = addUnique(out, ev.UserAgent)
	}
	return out
}

func addUnique(list []string, v string) []string {
	if v == "" {
		return list
	}
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(list, v)
}
