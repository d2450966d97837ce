// Resolve every *.localhost name to loopback (RFC 6761 §6.3), as browsers
// do: host-mode tenants in the e2e tests live at {slug}.gh.localhost.
// Preloaded with `node --import` for the SDK flow and the conformance suite.
import dns from 'node:dns';

const origLookup = dns.lookup;
dns.lookup = function (host, opts, cb) {
  if (typeof opts === 'function') { cb = opts; opts = {}; }
  if (/(^|\.)localhost\.?$/i.test(host)) {
    if (opts && opts.all) return process.nextTick(cb, null, [{ address: '127.0.0.1', family: 4 }]);
    return process.nextTick(cb, null, '127.0.0.1', 4);
  }
  return origLookup.call(dns, host, opts, cb);
};
