// Package egress is Gatehouse's one outbound address policy (docs/RULES.md §3,
// docs/SECURITY.md "Outbound address policy"). Every connection made on a
// tenant's behalf — upstream IdP calls (server and workers), client ID
// metadata documents, audit webhooks, the doctor's self-check and the
// gateway's upstream MCP connections — is opened by a Dialer that checks
// each resolved address against a Policy just before connecting, so
// neither DNS rebinding nor a redirect can reach an address the policy
// refuses.
//
// Addresses fall into three classes: Public (allowed), Private (loopback,
// RFC 1918, unique-local, CGNAT, benchmarking, NAT64 and other translation
// forms: refused unless Policy.AllowPrivate) and Never (link-local, cloud
// metadata, unspecified, this-network, multicast, broadcast, reserved and
// documentation ranges: refused whatever the switches say).
package egress

import (
	"errors"
	"net/netip"
)

// Class is how the policy treats an address.
type Class uint8

const (
	// Public addresses are allowed.
	Public Class = iota
	// Private addresses are refused unless Policy.AllowPrivate.
	Private
	// Never addresses are always refused (link-local, metadata, non-unicast).
	Never
)

func (c Class) String() string {
	switch c {
	case Public:
		return "public"
	case Private:
		return "private"
	}
	return "never"
}

// ErrForbiddenAddress is matched (errors.Is) by every refusal of the policy.
var ErrForbiddenAddress = errors.New("address refused by the outbound address policy")

// AddrError is a refused address and the range that refused it.
type AddrError struct {
	Addr   netip.Addr
	Reason string // the range's name, e.g. "cloud metadata", "loopback"
}

func (e *AddrError) Error() string {
	return "address " + e.Addr.String() + " refused by the outbound address policy (" + e.Reason + ")"
}

// Is makes errors.Is(err, ErrForbiddenAddress) true.
func (e *AddrError) Is(target error) bool { return target == ErrForbiddenAddress }

// Policy decides which addresses outbound connections may reach.
type Policy struct {
	// AllowPrivate also allows Private addresses (GATEHOUSE_ALLOW_PRIVATE_FETCH
	// for fetches; GATEHOUSE_REFUSE_PRIVATE_UPSTREAMS=false for upstream MCP
	// servers). Never addresses stay refused.
	AllowPrivate bool
}

// Check returns nil when ip may be connected to, else an *AddrError.
func (p Policy) Check(ip netip.Addr) error {
	c, name := Classify(ip)
	if c == Never || (c == Private && !p.AllowPrivate) {
		return &AddrError{Addr: ip, Reason: name}
	}
	return nil
}

type addrRange struct {
	prefix netip.Prefix
	class  Class
	name   string
}

func r(prefix string, c Class, name string) addrRange {
	return addrRange{netip.MustParsePrefix(prefix), c, name}
}

// ranges: an address takes the strictest class of the ranges holding it
// (the first listed name of that class), so a metadata address inside a
// private range (100.100.100.200 in CGNAT, fd00:ec2::254 in fc00::/7) is
// Never.
var ranges = []addrRange{
	// Cloud metadata services (IMDS): AWS, GCP, Azure, DigitalOcean, OCI
	// at 169.254.169.254; Oracle's legacy 192.0.0.192; Alibaba 100.100.100.200;
	// AWS's IPv6 services (IMDS fd00:ec2::254, DNS, NTP, EKS pod identity)
	// in fd00:ec2::/32; GCP's IPv6 metadata fd20:ce::254.
	r("169.254.169.254/32", Never, "cloud metadata"),
	r("100.100.100.200/32", Never, "cloud metadata"),
	r("192.0.0.192/32", Never, "cloud metadata"),
	r("fd00:ec2::/32", Never, "cloud metadata"),
	r("fd20:ce::254/128", Never, "cloud metadata"),
	// Never: link-local and what is not a unicast destination.
	r("169.254.0.0/16", Never, "link-local"),
	r("fe80::/10", Never, "link-local"),
	r("0.0.0.0/8", Never, "this network (0/8)"),
	r("::/128", Never, "unspecified"),
	r("224.0.0.0/4", Never, "multicast"),
	r("ff00::/8", Never, "multicast"),
	r("255.255.255.255/32", Never, "broadcast"),
	r("240.0.0.0/4", Never, "reserved (240/4)"),
	r("192.0.2.0/24", Never, "documentation"),
	r("198.51.100.0/24", Never, "documentation"),
	r("203.0.113.0/24", Never, "documentation"),
	r("2001:db8::/32", Never, "documentation"),
	r("3fff::/20", Never, "documentation"),
	r("100::/64", Never, "discard-only"),
	// Private: reachable only inside a network; relaxable by the switches.
	r("127.0.0.0/8", Private, "loopback"),
	r("::1/128", Private, "loopback"),
	r("10.0.0.0/8", Private, "private (RFC 1918)"),
	r("172.16.0.0/12", Private, "private (RFC 1918)"),
	r("192.168.0.0/16", Private, "private (RFC 1918)"),
	r("fc00::/7", Private, "unique local (fc00::/7)"),
	r("fec0::/10", Private, "site-local (deprecated)"),
	r("100.64.0.0/10", Private, "shared address space (CGNAT 100.64/10)"),
	r("198.18.0.0/15", Private, "benchmarking (198.18/15)"),
	r("192.0.0.0/24", Private, "IETF protocol assignments (192.0.0/24)"),
	r("192.88.99.0/24", Private, "6to4 relay anycast"),
	// IPv6 forms that carry an IPv4 address: Private themselves, and as
	// strict as the IPv4 address they carry (embedded below).
	r("64:ff9b::/96", Private, "NAT64 (64:ff9b::/96)"),
	r("64:ff9b:1::/48", Private, "local NAT64 (64:ff9b:1::/48)"),
	r("::ffff:0:0:0/96", Private, "IPv4-translated (SIIT)"),
	r("::/96", Private, "IPv4-compatible"),
	r("2002::/16", Private, "6to4"),
	r("2001::/32", Private, "Teredo"),
}

// Classify returns the class of ip and the name of the range that decided
// it ("" for public addresses).
func Classify(ip netip.Addr) (Class, string) {
	if !ip.IsValid() {
		return Never, "invalid address"
	}
	ip = ip.WithZone("")
	if ip.Is4In6() { // ::ffff:a.b.c.d is the IPv4 address itself
		return Classify(ip.Unmap())
	}
	c, name := Public, ""
	for _, ar := range ranges {
		if ar.class > c && ar.prefix.Contains(ip) {
			c, name = ar.class, ar.name
		}
	}
	exact, guessed := embeddedIPv4(ip)
	for _, v4 := range exact {
		if ec, en := Classify(v4); ec > c {
			c, name = ec, en+" (embedded in "+ip.String()+")"
		}
	}
	// A guessed position may hold any bits: only the addresses no switch
	// relaxes (link-local, metadata) count there.
	for _, v4 := range guessed {
		if ec, en := Classify(v4); ec > c && (v4.IsLinkLocalUnicast() || isMetadata(v4)) {
			c, name = ec, en+" (embedded in "+ip.String()+")"
		}
	}
	return c, name
}

func isMetadata(ip netip.Addr) bool {
	for _, ar := range ranges {
		if ar.name == "cloud metadata" && ar.prefix.Contains(ip) {
			return true
		}
	}
	return false
}

// embeddedIPv4 returns the IPv4 addresses an IPv6 address carries in the
// translation and tunnelling forms a dial could be routed through: NAT64
// (RFC 6052), IPv4-compatible, SIIT, 6to4 and Teredo (server and
// de-obfuscated client) are exact; the local-use NAT64 /48 is guessed at
// every prefix length it may use.
func embeddedIPv4(ip netip.Addr) (exact, guessed []netip.Addr) {
	if !ip.Is6() {
		return nil, nil
	}
	b := ip.As16()
	v4 := func(a, b2, c, d byte) netip.Addr { return netip.AddrFrom4([4]byte{a, b2, c, d}) }
	zero := func(bs []byte) bool {
		for _, x := range bs {
			if x != 0 {
				return false
			}
		}
		return true
	}
	switch {
	case zero(b[:12]): // IPv4-compatible ::a.b.c.d (not :: or ::1, classified above)
		if !zero(b[12:15]) || b[15] > 1 {
			exact = append(exact, v4(b[12], b[13], b[14], b[15]))
		}
	case zero(b[:8]) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0: // SIIT ::ffff:0:a.b.c.d
		exact = append(exact, v4(b[12], b[13], b[14], b[15]))
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(b[4:12]): // 64:ff9b::/96
		exact = append(exact, v4(b[12], b[13], b[14], b[15]))
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1: // 64:ff9b:1::/48
		// RFC 6052 §2.2: the IPv4 address follows the network's prefix
		// (/48 or longer inside this /48), skipping bits 64-71; the
		// prefix length is unknown here, so every position is a guess.
		guessed = append(guessed,
			v4(b[6], b[7], b[9], b[10]),    // /48
			v4(b[7], b[9], b[10], b[11]),   // /56
			v4(b[9], b[10], b[11], b[12]),  // /64
			v4(b[12], b[13], b[14], b[15]), // /96
		)
	case b[0] == 0x20 && b[1] == 0x02: // 6to4 2002:AABB:CCDD::/48
		exact = append(exact, v4(b[2], b[3], b[4], b[5]))
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0: // Teredo 2001::/32
		exact = append(exact, v4(b[4], b[5], b[6], b[7]), v4(^b[12], ^b[13], ^b[14], ^b[15]))
	}
	return exact, guessed
}
