package doctor

import (
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Requests that carried no usable token carry no client id. The doctor links
// each to the client most likely to have sent it, and groups the rest.

// clientState gathers one client's events.
type clientState struct {
	id      string
	client  *tenants.Client
	events  []tenants.AuditEvent // own events (carry client_id), oldest first
	linked  []tenants.AuditEvent // attributed events (no client_id), oldest first
	uas     map[string]bool
	ips     map[string]bool
	tokenAt []time.Time // token.issued / token.refreshed (success) times
}

// byClient is every client's state, in order of first appearance, and the
// MCP events that carried no client id.
type byClient struct {
	states map[string]*clientState
	order  []string
	loose  []tenants.AuditEvent
}

func (b *byClient) get(id string) *clientState {
	s, ok := b.states[id]
	if !ok {
		s = &clientState{id: id, uas: map[string]bool{}, ips: map[string]bool{}}
		b.states[id] = s
		b.order = append(b.order, id)
	}
	return s
}

func isMCP(action string) bool { return strings.HasPrefix(action, "mcp.") }

func isTokenEvent(ev tenants.AuditEvent) bool {
	return (ev.Action == tenants.ActTokenIssued || ev.Action == tenants.ActTokenRefreshed) && ev.Outcome != tenants.OutcomeFailure
}

// groupByClient sorts evs (oldest first) to their clients.
func groupByClient(in Input, evs []tenants.AuditEvent) *byClient {
	b := &byClient{states: map[string]*clientState{}}
	for i := range in.Clients {
		b.get(in.Clients[i].ID).client = &in.Clients[i]
	}
	for _, ev := range evs {
		if ev.ClientID == "" {
			if isMCP(ev.Action) {
				b.loose = append(b.loose, ev)
			}
			continue // admin.*, key.rotated: not part of a client's story
		}
		s := b.get(ev.ClientID)
		s.events = append(s.events, ev)
		// What identifies the client's software and network: its own
		// registration, tokens and MCP requests (not the person's browser).
		if isMCP(ev.Action) || isTokenEvent(ev) || ev.Action == tenants.ActClientRegistered {
			if ev.UserAgent != "" {
				s.uas[ev.UserAgent] = true
			}
			if ev.IP != "" {
				s.ips[ev.IP] = true
			}
		}
		if isTokenEvent(ev) {
			s.tokenAt = append(s.tokenAt, ev.Time)
		}
	}
	return b
}

// linkLoose links each token-less request to the client that most likely
// sent it: one that held a token issued before it (within window),
// preferring a matching user agent, then IP, then the most recent issuance.
// A discovery probe, or a request no client fits, is grouped and returned.
func (b *byClient) linkLoose(evs []tenants.AuditEvent, window time.Duration) []Group {
	groups := map[string]*Group{}
	out := []Group{}
	var keys []string
	for _, ev := range b.loose {
		if !b.isDiscoveryProbe(ev, evs) {
			if s := b.attribute(ev, window); s != nil {
				s.linked = append(s.linked, ev)
				continue
			}
		}
		key := ev.Action + "|" + ev.Reason
		g, ok := groups[key]
		if !ok {
			g = &Group{Action: ev.Action, Reason: ev.Reason, Label: Label(ev), First: ev.Time}
			if ev.Action == tenants.ActMCPDenied && ev.Reason == tenants.ReasonNoHeader {
				g.Note = "Requests without a token that start a new connection are normal: clients send one to discover the authorization server from the 401."
			}
			groups[key] = g
			keys = append(keys, key)
		}
		g.Count++
		g.Last = ev.Time
		g.UserAgents = addUnique(g.UserAgents, ev.UserAgent)
	}
	for _, k := range keys {
		out = append(out, *groups[k])
	}
	return out
}

// probeWindow is how soon after an unauthenticated request a new client's
// registration or authorization marks that request as its discovery probe.
const probeWindow = 2 * time.Minute

// lastTokenBefore is the last token issuance of s at or before t (zero: none).
func (s *clientState) lastTokenBefore(t time.Time) time.Time {
	var last time.Time
	for _, at := range s.tokenAt {
		if !at.After(t) {
			last = at
		}
	}
	return last
}

// isDiscoveryProbe reports whether a request without a token is the first,
// unauthenticated request of a new connection (every client sends one to
// learn the authorization server from the 401): a client that held no token
// yet registers or starts authorizing shortly after it.
func (b *byClient) isDiscoveryProbe(ev tenants.AuditEvent, evs []tenants.AuditEvent) bool {
	if ev.Action != tenants.ActMCPDenied || ev.Reason != tenants.ReasonNoHeader {
		return false
	}
	for _, next := range evs {
		if !next.Time.After(ev.Time) {
			continue
		}
		if next.Time.Sub(ev.Time) > probeWindow {
			break
		}
		if next.ClientID == "" || (next.Action != tenants.ActClientRegistered && next.Action != tenants.ActAuthorizeStarted) {
			continue
		}
		if s := b.states[next.ClientID]; s != nil && s.lastTokenBefore(ev.Time).IsZero() {
			return true
		}
	}
	return false
}

func (b *byClient) attribute(ev tenants.AuditEvent, window time.Duration) *clientState {
	var best *clientState
	bestScore, bestAt := -1, time.Time{}
	for _, id := range b.order {
		s := b.states[id]
		last := s.lastTokenBefore(ev.Time)
		if last.IsZero() || ev.Time.Sub(last) > window {
			continue
		}
		score := 0
		if ev.UserAgent != "" && s.uas[ev.UserAgent] {
			score += 2
		}
		if ev.IP != "" && s.ips[ev.IP] {
			score++
		}
		if score > bestScore || (score == bestScore && last.After(bestAt)) {
			best, bestScore, bestAt = s, score, last
		}
	}
	return best
}

// attribution says how evs were linked to the client of d ("client_id"
// when they all carried it).
func (d *diagnosis) attribution(evs []tenants.AuditEvent) string {
	anyLinked, ua, ip := false, false, false
	for _, ev := range evs {
		if d.linked[ev.ID] {
			anyLinked = true
		}
		if ev.UserAgent != "" && d.s.uas[ev.UserAgent] {
			ua = true
		}
		if ev.IP != "" && d.s.ips[ev.IP] {
			ip = true
		}
	}
	const why = " (these requests carry no client id)"
	switch {
	case !anyLinked:
		return "client_id"
	case ua && ip:
		return "linked by time window, user agent and IP" + why
	case ua:
		return "linked by time window and user agent" + why
	case ip:
		return "linked by time window and IP" + why
	}
	return "linked by time window only" + why
}
