package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"
)

// Dialer opens TCP connections only to addresses its Policy allows. A host
// name is resolved here and every address it resolves to is checked before
// any connection is attempted (a name with one refused address is refused
// as a whole); the connection then goes to the checked literal address, so
// a second resolution (DNS rebinding) cannot change where it lands. The
// socket-level Control hook checks once more.
type Dialer struct {
	Policy Policy
	// Timeout bounds resolution plus connecting (0: none beyond ctx).
	Timeout time.Duration
	// KeepAlive of the connection (0: Go's default, negative: off).
	KeepAlive time.Duration
	// Lookup resolves a host name (nil: net.DefaultResolver.LookupNetIP).
	// network is "ip", "ip4" or "ip6". Tests map names to addresses here.
	Lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)
	// Connect opens a connection to an address that passed the policy,
	// given as a literal "ip:port" (nil: a net.Dialer). Tests observe
	// connection attempts here.
	Connect func(ctx context.Context, network, addr string) (net.Conn, error)
}

// DialContext is an http.Transport DialContext.
func (d *Dialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	lookupNet := "ip"
	switch network {
	case "tcp":
	case "tcp4":
		lookupNet = "ip4"
	case "tcp6":
		lookupNet = "ip6"
	default:
		return nil, fmt.Errorf("egress: network %q is not dialed", network)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.Timeout)
		defer cancel() // a connected net.Conn outlives its dial context
	}
	addrs, err := d.resolve(ctx, lookupNet, host)
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	for _, a := range addrs {
		if err := d.Policy.Check(a); err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
	}
	connect := d.Connect
	if connect == nil {
		connect = d.netDialer().DialContext
	}
	var first error
	for _, a := range addrs {
		c, err := connect(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		if first == nil {
			first = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, first
}

func (d *Dialer) resolve(ctx context.Context, network, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	lookup := d.Lookup
	if lookup == nil {
		lookup = net.DefaultResolver.LookupNetIP
	}
	addrs, err := lookup(ctx, network, host)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, errors.New("egress: " + host + " has no address")
	}
	return addrs, nil
}

func (d *Dialer) netDialer() *net.Dialer {
	return &net.Dialer{
		Timeout:   d.Timeout,
		KeepAlive: d.KeepAlive,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return &AddrError{Reason: "unparsable address " + address}
			}
			return d.Policy.Check(ap.Addr())
		},
	}
}
