// Shared pieces of the SDK client drivers (aisdk.mjs, agents.mjs, and the
// provider of flow.mjs): an in-memory OAuthClientProvider (the hook the SDKs
// take), the loopback callback it redirects to, and a trace of every request
// the SDK makes (traceFetch).
//
// The authorization URL is not visited here: the driver prints
//   AUTHORIZE <url>
// on stdout and the Go test completes it like a person in a browser (dev
// login form, consent page if shown) up to the callback below, exactly as it
// does for mcp-remote (e2e/clients_test.go). Everything else is the SDK's
// own OAuth code: discovery, DCR, PKCE, the code exchange and the refresh.
import http from 'node:http';

// Every request the SDK makes, in order (no headers are changed: the
// User-Agent the gateway logs is the SDK's own), once traceFetch ran.
export const trace = [];
export function traceFetch() {
const origFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  let rpc;
  if (typeof init.body === 'string') {
    try { rpc = JSON.parse(init.body).method; } catch { rpc = new URLSearchParams(init.body).get('grant_type') ?? undefined; }
  }
  if (init.body instanceof URLSearchParams) rpc = init.body.get('grant_type');
  const at = Date.now();
  const res = await origFetch(input, init);
  trace.push({ at, method: init.method ?? (input instanceof Request ? input.method : 'GET'), path: url.pathname, host: url.host,
    status: res.status, rpc, auth: headers.has('Authorization') });
  return res;
};
}

export function fail(msg, extra = {}) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(msg?.stack ?? msg), trace, ...extra }) + '\n');
  process.exit(1);
}

// succeed prints the driver's result line and exits.
export function succeed(store, result) {
  process.stdout.write(JSON.stringify({ ok: true, clientId: store.client?.client_id, authorizations: store.authUrls.length,
    ...result, trace }) + '\n');
  process.exit(0);
}

// startCallback listens on 127.0.0.1 and resolves next() with the query of
// each authorization response (code, state, iss or error).
export async function startCallback(path = '/callback') {
  const waiting = [];
  const srv = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://127.0.0.1');
    if (u.pathname !== path) { res.writeHead(404).end(); return; }
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end('You can close this window.');
    waiting.shift()?.(Object.fromEntries(u.searchParams));
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${srv.address().port}${path}`,
    next: () => new Promise((resolve) => waiting.push(resolve)),
    close: () => srv.close(),
  };
}

// memoryProvider is an OAuthClientProvider keeping everything in memory.
// redirectToAuthorization records the URL and, unless onAuthorize says
// otherwise, prints it for the Go test to complete.
export function memoryProvider(redirectUrl, clientName, onAuthorize = (url) => process.stdout.write(`AUTHORIZE ${url}\n`)) {
  const store = { client: undefined, tokens: undefined, verifier: undefined, discovery: undefined, authUrls: [], saved: [] };
  const provider = {
    get redirectUrl() { return redirectUrl; },
    get clientMetadata() {
      return {
        client_name: clientName,
        redirect_uris: [redirectUrl],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      };
    },
    clientInformation() { return store.client; },
    saveClientInformation(info) { store.client = info; },
    tokens() { return store.tokens; },
    saveTokens(t) { store.tokens = t; store.saved.push({ at: Date.now(), tokens: t }); },
    redirectToAuthorization(url) {
      store.authUrls.push(url.toString());
      onAuthorize(url.toString());
    },
    saveCodeVerifier(v) { store.verifier = v; },
    codeVerifier() { return store.verifier; },
    // The official client v2 binds the callback leg to the authorization
    // server it discovered (SEP-2352) when the provider keeps this state.
    saveDiscoveryState(s) { store.discovery = s; },
    discoveryState() { return store.discovery; },
  };
  return { provider, store };
}

// grants lists the token requests in the trace by grant type.
export const grants = (type) => trace.filter((x) => x.rpc === type);

// waitForRefresh calls `call` every `every` ms until the SDK has refreshed
// its access token (a refresh_token grant answered 200 after `since`) and a
// call after it succeeded; it returns what happened, for the report.
export async function waitForRefresh(call, since, { every = 5000, deadline = +(process.env.E2E_REFRESH_DEADLINE_MS ?? 150000) } = {}) {
  const start = Date.now();
  const calls = [];
  while (Date.now() - start < deadline) {
    await new Promise((r) => setTimeout(r, every));
    let out;
    try {
      out = { at: Date.now(), ok: true, text: await call() };
    } catch (e) {
      out = { at: Date.now(), ok: false, error: String(e?.message ?? e) };
    }
    calls.push(out);
    const refreshed = trace.find((x) => x.rpc === 'refresh_token' && x.at >= since);
    if (refreshed && out.ok && out.at > refreshed.at) {
      const denied = trace.find((x) => x.status === 401 && x.auth && x.at >= since && x.at <= refreshed.at);
      return {
        refreshStatus: refreshed.status,
        refreshAfterSeconds: Math.round((refreshed.at - since) / 1000),
        refreshAfter401: !!denied,
        failedCalls: calls.filter((c) => !c.ok).map((c) => c.error),
        textAfterRefresh: out.text,
      };
    }
  }
  fail('no successful call after a token refresh', { calls });
}

export const text = (r) => (r?.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');
