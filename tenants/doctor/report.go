package doctor

import "time"

// The report: what Diagnose returns, what GET /api/v1/tenants/{slug}/doctor
// answers and what the console renders. Every code in it (status, step,
// state, problem) has its words beside it, from the tables in words.go and
// problems.go.

// Report is the doctor's answer for one tenant. Its JSON is what
// GET /api/v1/tenants/{slug}/doctor returns and the console renders.
type Report struct {
	Tenant      string    `json:"tenant"`
	GeneratedAt time.Time `json:"generated_at"`
	// Window is the time span of the events read.
	Window Window `json:"window"`
	// Status: ok | failing | unverified | in_progress | idle | no_clients
	// (worst client wins); StatusLabel says it in words (the console's pill).
	Status      string `json:"status"`
	StatusLabel string `json:"status_label"`
	// Summary is one sentence for the top of the page.
	Summary string `json:"summary"`
	// Clients, failing first, then by last activity (newest first).
	Clients []ClientReport `json:"clients"`
	// Unattributed groups refused MCP requests no client could be linked to.
	Unattributed []Group `json:"unattributed"`
	// SelfCheck lists one result set per URL mode (filled by the caller).
	SelfCheck []SelfCheckResult `json:"self_check,omitempty"`
	// EventsRead and Truncated say whether older events were left out.
	EventsRead int  `json:"events_read"`
	Truncated  bool `json:"truncated"`
}

// Window is a time span.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// ClientReport is one client's connection story.
type ClientReport struct {
	ClientID   string `json:"client_id"`
	ClientName string `json:"client_name"`
	Kind       string `json:"kind,omitempty"` // dcr | cimd | preregistered | "" (unknown: deleted)
	// Software names the client products recognized from its registration
	// and its requests' User-Agents ("MCP Inspector", "Claude.ai"; software.go).
	Software []string `json:"software,omitempty"`
	// Status and its words, as in Report.
	Status      string     `json:"status"`
	StatusLabel string     `json:"status_label"`
	LastSeen    *time.Time `json:"last_seen,omitempty"`
	// Problem is the first step that went wrong in the latest connection
	// attempt (nil when none did).
	Problem *Problem `json:"problem,omitempty"`
	// Notes are lesser observations (e.g. earlier failures since recovered).
	Notes []string `json:"notes,omitempty"`
	// Steps is the funnel of the latest attempt, always the seven steps in order.
	Steps []FunnelStep `json:"steps"`
	// Timeline is every event of the client, oldest first, consecutive
	// repeats collapsed (Count > 1).
	Timeline []Entry `json:"timeline"`
}

// Problem names a failed step in plain words.
type Problem struct {
	Code string `json:"code"`
	// Step is the funnel step that failed; StepLabel names it in words.
	Step      string    `json:"step"`
	StepLabel string    `json:"step_label"`
	At        time.Time `json:"at"`
	// Title is a short headline; Detail the full sentence with times,
	// counts and user agents; Fix what to do about it.
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
	// Count of events behind the problem and the user agents they carried.
	// The gateway records at most 30 refusals a minute per reason and IP,
	// so a count at that rate is a lower bound.
	Count      int      `json:"count,omitempty"`
	UserAgents []string `json:"user_agents,omitempty"`
	// Attribution says how events without a client id were linked to this
	// client ("client_id" when they carried one).
	Attribution string `json:"attribution,omitempty"`
}

// FunnelStep is one step of the funnel.
type FunnelStep struct {
	Step  string `json:"step"`
	Label string `json:"label"`
	// State and its words (the console's pill).
	State      string     `json:"state"`
	StateLabel string     `json:"state_label"`
	At         *time.Time `json:"at,omitempty"`
}

// Entry is one (collapsed) timeline entry.
type Entry struct {
	Time      time.Time  `json:"time"`
	LastTime  *time.Time `json:"last_time,omitempty"` // when Count > 1
	Count     int        `json:"count"`
	Action    string     `json:"action"`
	Label     string     `json:"label"`
	Outcome   string     `json:"outcome"`
	Reason    string     `json:"reason,omitempty"`
	Subject   string     `json:"subject,omitempty"`
	UserAgent string     `json:"user_agent,omitempty"`
	// Software is the product the User-Agent belongs to, when recognized.
	Software string         `json:"software,omitempty"`
	IP       string         `json:"ip,omitempty"`
	Details  map[string]any `json:"details,omitempty"`
	// Attributed marks events that carried no client id and were linked to
	// this client by time, user agent and IP.
	Attributed bool `json:"attributed,omitempty"`
}

// Group is a set of similar unattributed events.
type Group struct {
	Action     string    `json:"action"`
	Reason     string    `json:"reason,omitempty"`
	Label      string    `json:"label"`
	Count      int       `json:"count"`
	First      time.Time `json:"first"`
	Last       time.Time `json:"last"`
	UserAgents []string  `json:"user_agents,omitempty"`
	Note       string    `json:"note,omitempty"`
}
