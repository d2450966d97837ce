package doctor

import (
	"net/url"
	"slices"

	"github.com/gatehouse/gatehouse/tenants"
)

// merged returns own and linked events, oldest first.
func (s *clientState) merged() []tenants.AuditEvent {
	all := slices.Concat(s.events, s.linked)
	sortEvents(all)
	return all
}

// clientName prefers the registered name, else the CIMD URL's host, else the id.
func clientName(s *clientState) string {
	if s.client != nil && s.client.Name != "" {
		return s.client.Name
	}
	for _, ev := range s.events {
		if n := detailString(ev, tenants.DetailClientName); n != "" {
			return n
		}
	}
	if u, err := url.Parse(s.id); err == nil && u.Scheme == "https" && u.Host != "" {
		return u.Host
	}
	return s.id
}

// collapse merges consecutive events with the same action, outcome, reason
// and user agent into one entry with a count; registered is the product the
// client's registration names (entrySoftware).
func collapse(evs []tenants.AuditEvent, linked map[string]bool, registered string) []Entry {
	out := []Entry{}
	for _, ev := range evs {
		if n := len(out); n > 0 {
			p := &out[n-1]
			if p.Action == ev.Action && p.Outcome == ev.Outcome && p.Reason == ev.Reason && p.UserAgent == ev.UserAgent &&
				p.Attributed == linked[ev.ID] && p.Label == Label(ev) {
				p.Count++
				t := ev.Time
				p.LastTime = &t
				continue
			}
		}
		e := Entry{Time: ev.Time, Count: 1, Action: ev.Action, Label: Label(ev), Outcome: ev.Outcome, Reason: ev.Reason,
			Subject: ev.Subject, UserAgent: ev.UserAgent, IP: ev.IP, Attributed: linked[ev.ID],
			Software: entrySoftware(ev.UserAgent, registered, linked[ev.ID])}
		if len(ev.Details) > 0 {
			e.Details = map[string]any(ev.Details)
		}
		out = append(out, e)
	}
	return out
}
