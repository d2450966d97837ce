// Keeps a client under test on this machine: *.localhost resolves to
// loopback (RFC 6761 §6.3, host-mode tenants live at {slug}.gh.localhost)
// and every other name is refused, with one line on stderr
//   e2e-blocked: <hostname>
// that the Go test reports (MCP Inspector, mcp-remote and the SDK drivers
// are preloaded with `node --import ./ts/loopback-only.mjs`). IP literals
// other than loopback are refused the same way at connect time.
import dns from 'node:dns';
import net from 'node:net';

const local = (h) => /(^|\.)localhost\.?$/i.test(h);
const loopbackIP = (ip) => /^127\./.test(ip) || ip === '::1' || ip === '::ffff:127.0.0.1';
const report = (h) => process.stderr.write(`e2e-blocked: ${h}\n`);

dns.lookup = function (host, opts, cb) {
  if (typeof opts === 'function') { cb = opts; opts = {}; }
  const all = opts && opts.all;
  if (local(host) || loopbackIP(host)) {
    const address = loopbackIP(host) ? host : '127.0.0.1';
    const family = address.includes(':') ? 6 : 4;
    return process.nextTick(cb, null, ...(all ? [[{ address, family }]] : [address, family]));
  }
  report(host);
  const err = Object.assign(new Error(`getaddrinfo ENOTFOUND ${host} (e2e: loopback only)`), { code: 'ENOTFOUND', hostname: host });
  return process.nextTick(cb, err);
};
dns.promises.lookup = (host, opts = {}) => new Promise((resolve, reject) => {
  dns.lookup(host, opts, (err, address, family) => {
    if (err) reject(err);
    else resolve(opts.all ? address : { address, family });
  });
});

const origConnect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  // net.connect() hands over its normalized [options, cb] array.
  let o = Array.isArray(args[0]) ? args[0][0] : args[0];
  if (typeof o !== 'object' || o === null) o = { port: args[0], host: args[1] };
  if (o && !o.path && o.host && net.isIP(o.host) && !loopbackIP(o.host)) {
    report(o.host);
    process.nextTick(() => this.destroy(Object.assign(new Error(`connect to ${o.host} refused (e2e: loopback only)`), { code: 'ECONNREFUSED' })));
    return this;
  }
  return origConnect.apply(this, args);
};
