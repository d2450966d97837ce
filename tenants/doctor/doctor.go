// Package doctor is the connection doctor (docs/RULES.md §8): from a tenant's audit
// events it rebuilds, per OAuth client, the timeline of a connection
// (client.registered → authorize.started → login → consent → code.issued →
// token.issued → token.refreshed → mcp.*) and names the first step that went
// wrong in plain words, with a suggested fix. It also self-checks the tenant's
// public URLs the way clients discover them (selfcheck.go).
//
// Diagnose is a pure function of its input, so every diagnosis is unit-tested
// with synthetic events; Load reads that input from the store.
package doctor

import (
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// SelfCheckUserAgent is sent by the self-check. Events it causes (its
// unauthenticated probe of the MCP URL is an mcp.denied no_header) are left
// out of the diagnosis.
const SelfCheckUserAgent = "Gatehouse-Doctor/1 (self-check)"

// Input is what Diagnose reads.
type Input struct {
	Tenant  *tenants.Tenant
	Now     time.Time
	Events  []tenants.AuditEvent // any order
	Clients []tenants.Client
	// Grants (optional): a grant used after a token was issued proves MCP
	// requests arrived even when audit_mcp_calls records none.
	Grants []tenants.Grant
	// Patience is how long after a step the next one may still be pending
	// before it counts as failed (default 2 minutes).
	Patience time.Duration
	// AttributionWindow bounds how long after a token issuance an
	// unattributed MCP request is linked to that client (default 24 h).
	AttributionWindow time.Duration
}

func (in *Input) defaults() {
	if in.Now.IsZero() {
		in.Now = time.Now().UTC()
	}
	if in.Patience <= 0 {
		in.Patience = 2 * time.Minute
	}
	if in.AttributionWindow <= 0 {
		in.AttributionWindow = 24 * time.Hour
	}
}
