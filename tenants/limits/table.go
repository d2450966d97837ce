package limits

import "time"

// The platform's limits, in one place (docs/SECURITY.md "Limits"). Keys
// are built by the callers with Key.
var (
	// DCR: new client registrations per tenant and client IP (idempotent
	// re-registrations are not charged).
	DCR = Limit{Burst: 20, Every: 30 * time.Second}
	// Authorize: authorization requests per tenant, client and IP.
	Authorize = PerMinute(60)
	// Token: token requests per tenant, client and IP.
	Token = PerMinute(120)
	// ConsoleLogin: console sign-in attempts per IP, and per account.
	ConsoleLogin = Per(20, 10*time.Minute)
	// Signup: SaaS signups per IP.
	Signup = Per(10, time.Hour)
	// API: provisioning API requests per credential (admin token or API key).
	API = PerMinute(600)
)

// Key joins the parts of a limiter key ("dcr", tenant, IP …) with '|',
// which no part (ids, slugs, IPs) contains.
func Key(parts ...string) string {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	b := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			b = append(b, '|')
		}
		b = append(b, p...)
	}
	return string(b)
}
