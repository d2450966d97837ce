package egress_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse/gatehouse/tenants/egress"
	"github.com/gatehouse/gatehouse/tenants/egress/egresstest"
)

// TestSecurity_OutboundAddressPolicy_Ranges is the range table of
// docs/SECURITY.md "Outbound address policy": each address, its class, and
// what each switch setting does with it.
func TestSecurity_OutboundAddressPolicy_Ranges(t *testing.T) {
	pub, priv, never := egress.Public, egress.Private, egress.Never
	cases := []struct {
		addr  string
		class egress.Class
		name  string // substring of the range name
	}{
		// Public.
		{"8.8.8.8", pub, ""},
		{"1.1.1.1", pub, ""},
		{"2606:4700::1111", pub, ""},
		{"100.63.255.255", pub, ""}, // just below CGNAT
		{"100.128.0.0", pub, ""},    // just above CGNAT
		{"198.17.255.255", pub, ""}, // just below 198.18/15
		{"198.20.0.0", pub, ""},     // just above
		{"172.32.0.1", pub, ""},     // just above 172.16/12
		{"64:ff9c::1", pub, ""},     // beside NAT64
		// Private: refused unless a switch relaxes it.
		{"127.0.0.1", priv, "loopback"},
		{"127.255.255.254", priv, "loopback"},
		{"::1", priv, "loopback"},
		{"10.1.2.3", priv, "RFC 1918"},
		{"172.16.0.1", priv, "RFC 1918"},
		{"172.31.255.255", priv, "RFC 1918"},
		{"192.168.1.1", priv, "RFC 1918"},
		{"fc00::1", priv, "unique local"},
		{"fd12:3456::1", priv, "unique local"},
		{"fec0::1", priv, "site-local"},
		{"100.64.0.1", priv, "CGNAT"},
		{"100.127.255.254", priv, "CGNAT"},
		{"198.18.0.1", priv, "198.18/15"},
		{"198.19.255.254", priv, "198.18/15"},
		{"192.0.0.8", priv, "192.0.0/24"},
		{"64:ff9b::808:808", priv, "NAT64"},      // NAT64 of a public address is still refused
		{"64:ff9b::7f00:1", priv, "NAT64"},       // NAT64 of 127.0.0.1
		{"64:ff9b::a00:1", priv, "NAT64"},        // NAT64 of 10.0.0.1
		{"64:ff9b:1::1", priv, "local NAT64"},    // local-use NAT64
		{"::ffff:127.0.0.1", priv, "loopback"},   // IPv4-mapped
		{"::ffff:10.0.0.1", priv, "RFC 1918"},    // IPv4-mapped
		{"::ffff:100.64.0.1", priv, "CGNAT"},     // IPv4-mapped
		{"::127.0.0.1", priv, "IPv4-compatible"}, // IPv4-compatible
		{"::8.8.8.8", priv, "IPv4-compatible"},   // IPv4-compatible of a public address
		{"::ffff:0:7f00:1", priv, "SIIT"},        // SIIT of 127.0.0.1
		{"2002:7f00:1::", priv, "6to4"},          // 6to4 of 127.0.0.1
		{"2002:808:808::", priv, "6to4"},         // 6to4 of a public address
		{"2001:0:808:808::80ff:fefe", priv, "Teredo"},
		// Never: refused whatever the switches say.
		{"169.254.169.254", never, "metadata"},
		{"169.254.170.2", never, "link-local"},
		{"169.254.0.1", never, "link-local"},
		{"100.100.100.200", never, "metadata"}, // inside CGNAT, still never
		{"192.0.0.192", never, "metadata"},     // inside 192.0.0/24, still never
		{"fd00:ec2::254", never, "metadata"},   // inside fc00::/7, still never
		{"fd00:ec2::23", never, "metadata"},
		{"fd20:ce::254", never, "metadata"},
		{"fe80::1", never, "link-local"},
		{"fe80::1%eth0", never, "link-local"},
		{"0.0.0.0", never, "0/8"},
		{"0.0.0.1", never, "0/8"},
		{"::", never, "unspecified"},
		{"224.0.0.1", never, "multicast"},
		{"239.255.255.250", never, "multicast"},
		{"ff02::1", never, "multicast"},
		{"255.255.255.255", never, "broadcast"},
		{"240.0.0.1", never, "reserved"},
		{"192.0.2.1", never, "documentation"},
		{"198.51.100.1", never, "documentation"},
		{"203.0.113.1", never, "documentation"},
		{"2001:db8::1", never, "documentation"},
		{"100::1", never, "discard"},
		// IPv6 forms of Never addresses are Never.
		{"::ffff:169.254.169.254", never, "metadata"},
		{"::169.254.169.254", never, "metadata"},
		{"64:ff9b::a9fe:a9fe", never, "metadata"},        // NAT64 of 169.254.169.254
		{"64:ff9b::6464:64c8", never, "metadata"},        // NAT64 of 100.100.100.200
		{"64:ff9b:1:a9fe:a9:fe00::", never, "metadata"},  // local NAT64 /48 form of 169.254.169.254
		{"64:ff9b::1", never, "0/8"},                     // NAT64 of 0.0.0.1
		{"2002:a9fe:a9fe::1", never, "metadata"},         // 6to4 of 169.254.169.254
		{"2001:0:a9fe:a9fe::", never, "metadata"},        // Teredo server 169.254.169.254
		{"2001:0:808:808::5601:5601", never, "metadata"}, // Teredo client ^169.254.169.254
		{"::ffff:0:a9fe:a9fe", never, "metadata"},        // SIIT
	}
	for _, c := range cases {
		ip := netip.MustParseAddr(c.addr)
		class, name := egress.Classify(ip)
		if class != c.class || !strings.Contains(name, c.name) {
			t.Errorf("%s: class %v %q, want %v %q", c.addr, class, name, c.class, c.name)
		}
		strict := egress.Policy{}.Check(ip)
		relaxed := egress.Policy{AllowPrivate: true}.Check(ip)
		if (strict == nil) != (c.class == pub) {
			t.Errorf("%s: strict policy says %v", c.addr, strict)
		}
		if (relaxed == nil) != (c.class != never) {
			t.Errorf("%s: relaxed policy says %v (link-local and metadata are never relaxed)", c.addr, relaxed)
		}
		if strict != nil && !errors.Is(strict, egress.ErrForbiddenAddress) {
			t.Errorf("%s: %v is not ErrForbiddenAddress", c.addr, strict)
		}
	}
}

// Refused literal addresses never reach the connect step.
func TestDialerRefusesBeforeConnecting(t *testing.T) {
	for _, allow := range []bool{false, true} {
		rec := &egresstest.Dials{}
		d := &egress.Dialer{Policy: egress.Policy{AllowPrivate: allow}, Connect: rec.Connect}
		refused := []string{"169.254.169.254:80", "[fd00:ec2::254]:80", "100.100.100.200:80", "0.0.0.1:80", "[fe80::1]:80", "[::ffff:169.254.169.254]:80"}
		if !allow {
			refused = append(refused, "100.64.0.1:80", "198.18.0.1:80", "[64:ff9b::7f00:1]:443", "127.0.0.1:80", "10.0.0.1:80", "[::1]:80")
		}
		for _, a := range refused {
			_, err := d.DialContext(context.Background(), "tcp", a)
			if !errors.Is(err, egress.ErrForbiddenAddress) {
				t.Errorf("allowPrivate=%v %s: %v, want ErrForbiddenAddress", allow, a, err)
			}
		}
		if got := rec.Attempts(); len(got) != 0 {
			t.Errorf("allowPrivate=%v: connection attempts %v", allow, got)
		}
	}
}

// A name is checked on every address it resolves to, and refused as a
// whole when one is refused; each dial resolves again, so a name that
// rebinds to a refused address is caught on the dial that sees it.
func TestDialerChecksEveryResolvedAddress(t *testing.T) {
	rec := &egresstest.Dials{}
	answers := map[string][]netip.Addr{
		"mixed.test":   {netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("169.254.169.254")},
		"private.test": {netip.MustParseAddr("10.0.0.5")},
		"public.test":  {netip.MustParseAddr("8.8.4.4")},
	}
	var mu sync.Mutex
	rebinds := 0
	lookup := func(_ context.Context, _, host string) ([]netip.Addr, error) {
		if host == "rebind.test" {
			mu.Lock()
			defer mu.Unlock()
			rebinds++
			if rebinds == 1 {
				return []netip.Addr{netip.MustParseAddr("8.8.8.8")}, nil
			}
			return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
		}
		return answers[host], nil
	}
	d := &egress.Dialer{Lookup: lookup, Connect: rec.Connect}
	for _, h := range []string{"mixed.test:443", "private.test:443"} {
		if _, err := d.DialContext(context.Background(), "tcp", h); !errors.Is(err, egress.ErrForbiddenAddress) {
			t.Errorf("%s: %v", h, err)
		}
	}
	if _, err := d.DialContext(context.Background(), "tcp", "public.test:443"); errors.Is(err, egress.ErrForbiddenAddress) {
		t.Errorf("public.test refused: %v", err)
	}
	_, _ = d.DialContext(context.Background(), "tcp", "rebind.test:443")
	if _, err := d.DialContext(context.Background(), "tcp", "rebind.test:443"); !errors.Is(err, egress.ErrForbiddenAddress) {
		t.Errorf("rebound name: %v", err)
	}
	want := []string{"8.8.4.4:443", "8.8.8.8:443"}
	if got := list(rec.Attempts()); got != strings.Join(want, ",") {
		t.Errorf("connection attempts %s, want %v", got, want)
	}
}

func list(s []string) string { return strings.Join(s, ",") }

// The client refuses a loopback server under the strict policy (the trap
// sees no connection) and reaches it with private fetch allowed.
func TestClientPolicyOnLoopback(t *testing.T) {
	trap := egresstest.NewTrap(t)
	_, err := egress.NewClient(egress.Options{}).Get(trap.URL)
	if !errors.Is(err, egress.ErrForbiddenAddress) {
		t.Fatalf("strict: %v", err)
	}
	trap.Untouched(t)
	resp, err := egress.NewClient(egress.Options{Policy: egress.Policy{AllowPrivate: true}}).Get(trap.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	trap.Touched(t)
}

func TestClientHTTPSOnly(t *testing.T) {
	trap := egresstest.NewTrap(t)
	c := egress.NewClient(egress.Options{Policy: egress.Policy{AllowPrivate: true}, HTTPSOnly: true})
	if _, err := c.Get(trap.URL); !errors.Is(err, egress.ErrHTTPSRequired) {
		t.Fatalf("http URL: %v", err)
	}
	trap.Untouched(t)
}

// SameHost follows a redirect on the same host and refuses one to another
// host before connecting to it; NoRedirects returns the 3xx as is.
func TestClientRedirects(t *testing.T) {
	trap := egresstest.NewTrap(t)
	var srv *egresstest.Trap
	srv = egresstest.NewTrap(t)
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, trap.URL+"/x", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	relaxed := egress.Policy{AllowPrivate: true}
	c := egress.NewClient(egress.Options{Policy: relaxed})
	resp, err := c.Get(srv.URL + "/here")
	if err != nil || resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/ok" {
		t.Fatalf("same-host redirect: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := c.Get(srv.URL + "/away"); !errors.Is(err, egress.ErrRedirectRefused) {
		t.Fatalf("cross-host redirect: %v", err)
	}
	nc := egress.NewClient(egress.Options{Policy: relaxed, Redirects: egress.NoRedirects})
	resp, err = nc.Get(srv.URL + "/away")
	if err != nil || resp.StatusCode != http.StatusFound {
		t.Fatalf("no redirects: %v %v", resp, err)
	}
	resp.Body.Close()
	trap.Untouched(t)
}
