package doctor

import (
	"fmt"
	"sort"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// Diagnose builds the report: it groups the events by client (linking
// token-less requests to a client, attribution.go), walks each client's
// latest attempt through the funnel (funnel.go, mcpstage.go) and sums up.
func Diagnose(in Input) Report {
	in.defaults()
	evs := make([]tenants.AuditEvent, 0, len(in.Events))
	for _, ev := range in.Events {
		if ev.UserAgent == SelfCheckUserAgent {
			continue
		}
		evs = append(evs, ev)
	}
	sortEvents(evs)

	rep := Report{GeneratedAt: in.Now, EventsRead: len(evs), Clients: []ClientReport{}, Unattributed: []Group{}}
	if in.Tenant != nil {
		rep.Tenant = in.Tenant.Slug
	}
	if len(evs) > 0 {
		rep.Window = Window{From: evs[0].Time, To: in.Now}
	} else {
		rep.Window = Window{From: in.Now, To: in.Now}
	}

	cl := groupByClient(in, evs)
	rep.Unattributed = cl.linkLoose(evs, in.AttributionWindow)

	grantsByClient := map[string][]tenants.Grant{}
	for _, g := range in.Grants {
		grantsByClient[g.ClientID] = append(grantsByClient[g.ClientID], g)
	}
	for _, id := range cl.order {
		rep.Clients = append(rep.Clients, diagnoseClient(in, cl.states[id], grantsByClient[id]))
	}
	sort.SliceStable(rep.Clients, func(i, j int) bool {
		a, b := rep.Clients[i], rep.Clients[j]
		if ra, rb := statuses[a.Status].rank, statuses[b.Status].rank; ra != rb {
			return ra < rb
		}
		return lastSeen(a).After(lastSeen(b))
	})
	rep.Status, rep.Summary = summarize(rep.Clients)
	rep.StatusLabel = StatusLabel(rep.Status)
	return rep
}

// sortEvents orders events oldest first (ties by id, the store's order).
func sortEvents(evs []tenants.AuditEvent) {
	sort.SliceStable(evs, func(i, j int) bool {
		if !evs[i].Time.Equal(evs[j].Time) {
			return evs[i].Time.Before(evs[j].Time)
		}
		return evs[i].ID < evs[j].ID
	})
}

func lastSeen(c ClientReport) time.Time {
	if c.LastSeen == nil {
		return time.Time{}
	}
	return *c.LastSeen
}

func summarize(cs []ClientReport) (string, string) {
	if len(cs) == 0 {
		return StatusNoClients, "No client has registered or connected yet. Paste the connector URL into an MCP client to start."
	}
	counts := map[string]int{}
	for _, c := range cs {
		counts[c.Status]++
	}
	switch {
	case counts[StatusFailing] > 0:
		first := cs[0] // failing clients sort first
		return StatusFailing, fmt.Sprintf("%d of %d clients failing. %s: %s", counts[StatusFailing], len(cs), quoteName(first.ClientName), first.Problem.Title)
	case counts[StatusUnverified] > 0:
		first := cs[0]
		return StatusUnverified, fmt.Sprintf("%d of %d clients got a token but no MCP request of theirs has been recorded since. %s: %s",
			counts[StatusUnverified], len(cs), quoteName(first.ClientName), first.Problem.Title)
	case counts[StatusInProgress] > 0:
		return StatusInProgress, fmt.Sprintf("%d of %d clients are part-way through connecting; nothing has failed.", counts[StatusInProgress], len(cs))
	case counts[StatusOK] > 0:
		return StatusOK, fmt.Sprintf("%d of %d clients connected and reached the MCP server; no failures found.", counts[StatusOK], len(cs))
	}
	return StatusIdle, fmt.Sprintf("%d clients registered; none has connected in the time window.", len(cs))
}

// diagnoseClient is one client's report: its timeline, and the funnel of
// its latest attempt with the first problem found.
func diagnoseClient(in Input, s *clientState, grants []tenants.Grant) ClientReport {
	cr := ClientReport{ClientID: s.id, ClientName: clientName(s)}
	if s.client != nil {
		cr.Kind = s.client.Kind
	}
	all := s.merged()
	linkedIDs := map[string]bool{}
	for _, ev := range s.linked {
		linkedIDs[ev.ID] = true
	}
	cr.Software = clientSoftware(s)
	cr.Timeline = collapse(all, linkedIDs, SoftwareFromClient(s.client, s.id))
	if n := len(all); n > 0 {
		t := all[n-1].Time
		cr.LastSeen = &t
	} else if s.client != nil {
		t := s.client.CreatedAt
		if s.client.LastUsedAt != nil {
			t = *s.client.LastUsedAt
		}
		cr.LastSeen = &t
	}

	// The latest attempt starts at the last authorize.started (or at the
	// start when none); earlier attempts only produce notes.
	start := 0
	for i, ev := range all {
		if ev.Action == tenants.ActAuthorizeStarted {
			start = i
		}
	}
	d := diagnosis{in: in, s: s, name: cr.ClientName, all: all, attempt: all[start:], grants: grants, linked: linkedIDs}
	cr.Steps, cr.Problem, cr.Status = d.run()
	if cr.Problem != nil {
		cr.Problem.forTenant(in.Tenant)
	}
	cr.StatusLabel = StatusLabel(cr.Status)
	cr.Notes = d.notes
	return cr
}
