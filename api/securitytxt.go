package api

import (
	"net/http"
	"strings"
	"time"
)

// securityTxtPath is RFC 9116 §3's location.
const securityTxtPath = "/.well-known/security.txt"

// securityTxtLifetime: RFC 9116 §2.5.5 recommends an Expires under a year
// ahead. The contacts come from the running configuration, so the file is
// as current as the deployment; the date moves once a day (cacheable).
const securityTxtLifetime = 180 * 24 * time.Hour

// securityTxt serves RFC 9116 security.txt for the operator's contacts
// (GATEHOUSE_SECURITY_CONTACT, validated at start; at least one).
func securityTxt(contacts []string, now func() time.Time) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		var b strings.Builder
		for _, c := range contacts {
			b.WriteString("Contact: " + c + "\n")
		}
		expires := now().UTC().Truncate(24 * time.Hour).Add(securityTxtLifetime)
		b.WriteString("Expires: " + expires.Format(time.RFC3339) + "\n")
		// The console and every message Gatehouse writes are in English.
		b.WriteString("Preferred-Languages: en\n")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=86400")
		_, _ = w.Write([]byte(b.String()))
	}
}
