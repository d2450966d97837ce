// Package testdns is an authoritative TXT-record DNS server on loopback
// (github.com/miekg/dns) for tests of custom-domain verification. Only
// tests import it.
package testdns

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server answers TXT queries from its records; other names are NXDOMAIN.
type Server struct {
	mu   sync.Mutex
	txt  map[string][]string // fqdn → values
	Addr string              // host:port (UDP)
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{txt: map[string][]string{}, Addr: pc.LocalAddr().String()}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(s.serve)}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { _ = srv.ActivateAndServe() }()
	<-started
	t.Cleanup(func() { _ = srv.Shutdown() })
	return s
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	s.mu.Lock()
	for _, q := range req.Question {
		vals, ok := s.txt[strings.ToLower(q.Name)]
		if !ok {
			m.Rcode = dns.RcodeNameError
		}
		if q.Qtype == dns.TypeTXT {
			for _, v := range vals {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{v}})
			}
		}
	}
	s.mu.Unlock()
	_ = w.WriteMsg(m)
}

// Set publishes the TXT values of name (replacing earlier ones).
func (s *Server) Set(name string, values ...string) {
	s.mu.Lock()
	s.txt[strings.ToLower(strings.TrimSuffix(name, "."))+"."] = values
	s.mu.Unlock()
}

// Resolver sends every query to this server.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.Addr)
	}}
}
