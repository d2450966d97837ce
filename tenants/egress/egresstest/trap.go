// Package egresstest holds test helpers for the outbound address policy:
// a loopback trap server that counts every connection it accepts, so a test
// can show that a refused fetch never reached it, and a Connect seam that
// records connection attempts.
package egresstest

import (
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
)

// Trap is a loopback HTTP(S) server that must see no connection while the
// policy refuses loopback. It answers 200 {"trap":true} to anything.
type Trap struct {
	*httptest.Server
	conns atomic.Int64
}

// NewTrap starts a plain-HTTP trap (closed at the end of the test).
func NewTrap(t testing.TB) *Trap { return newTrap(t, false) }

// NewTLSTrap starts an HTTPS trap with httptest's certificate.
func NewTLSTrap(t testing.TB) *Trap { return newTrap(t, true) }

func newTrap(t testing.TB, tlsOn bool) *Trap {
	t.Helper()
	tr := &Trap{}
	tr.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"trap":true}`))
	}))
	tr.Config.ErrorLog = log.New(io.Discard, "", 0) // e.g. handshakes a refused client abandons
	tr.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			tr.conns.Add(1)
		}
	}
	if tlsOn {
		tr.StartTLS()
	} else {
		tr.Start()
	}
	t.Cleanup(tr.Close)
	return tr
}

// Conns is the number of connections accepted so far.
func (tr *Trap) Conns() int64 { return tr.conns.Load() }

// Untouched fails the test when the trap accepted any connection.
func (tr *Trap) Untouched(t testing.TB) {
	t.Helper()
	if n := tr.Conns(); n != 0 {
		t.Errorf("the loopback trap %s accepted %d connection(s); the outbound address policy should have refused them", tr.URL, n)
	}
}

// Touched fails the test when the trap accepted no connection (the
// control case: with private fetch allowed the same request gets there).
func (tr *Trap) Touched(t testing.TB) {
	t.Helper()
	if tr.Conns() == 0 {
		t.Errorf("the loopback trap %s accepted no connection; the control request should have reached it", tr.URL)
	}
}

// DialedIf checks the trap against a run with private fetch allowed or
// not: Touched when allowed (the control), Untouched when not.
func (tr *Trap) DialedIf(t testing.TB, allowed bool) {
	t.Helper()
	if allowed {
		tr.Touched(t)
	} else {
		tr.Untouched(t)
	}
}

// Dials is an egress.Dialer Connect seam (also gateway.Options.Connect): it
// records every connection attempt the policy let through, dials loopback
// addresses (and addresses Route maps to one) for real, and refuses every
// other address, so no test ever sends a packet to a non-loopback address.
type Dials struct {
	// Route maps an address ("ip:port") to a loopback address dialed
	// instead: a public name whose server is a local fake.
	Route map[string]string

	mu    sync.Mutex
	addrs []string
}

// Connect is the seam.
func (d *Dials) Connect(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
	if to, ok := d.Route[addr]; ok {
		addr = to
	}
	if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Addr().IsLoopback() {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	return nil, errors.New("egresstest: refusing to dial the non-loopback address " + addr)
}

// Attempts lists the addresses Connect was called with, in order, less
// those Route maps.
func (d *Dials) Attempts() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, a := range d.addrs {
		if _, routed := d.Route[a]; !routed {
			out = append(out, a)
		}
	}
	return out
}
