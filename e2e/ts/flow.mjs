// The official TypeScript MCP SDK client doing the whole OAuth flow against
// a Gatehouse connector URL, as a desktop client would:
//   401 discovery → protected resource metadata → authorization server
//   metadata → dynamic client registration → PKCE authorize (dev IdP, no
//   browser: the authorize redirects are followed with fetch, manual
//   redirects, to the callback this script hosts on 127.0.0.1) → token →
//   tools/list → tools/call → refresh (after the access token is refused) →
//   tools/call.
// Driven by e2e/ts_test.go. Input: one JSON argument
//   {"url": connector URL, "userAgent": "...", "clientName": "..."}
// Output: one JSON line on stdout {ok, trace, tools, echo, ...}; exit 1 on failure.
import http from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { memoryProvider } from './oauth-client.mjs';

const args = JSON.parse(process.argv[2] ?? '{}');
const userAgent = args.userAgent ?? 'gatehouse-e2e-ts';

// Host mode ({slug}.gh.localhost) resolves through ts/localhost-dns.mjs,
// preloaded with --import by the Go test.

// Every request the SDK makes, in order: what the Go test checks.
const trace = [];
const origFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  const headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
  headers.set('User-Agent', userAgent);
  let rpc;
  if (typeof init.body === 'string') {
    try { rpc = JSON.parse(init.body).method; } catch { /* not JSON-RPC */ }
  }
  if (init.body instanceof URLSearchParams) rpc = init.body.get('grant_type');
  const res = await origFetch(input, { ...init, headers });
  trace.push({ method: init.method ?? 'GET', path: url.pathname, host: url.host, status: res.status, rpc,
    auth: headers.has('Authorization') });
  return res;
};

function fail(msg, extra = {}) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(msg), trace, ...extra }) + '\n');
  process.exit(1);
}

// The callback the authorization server redirects to.
let gotCode;
const codePromise = new Promise((resolve) => { gotCode = resolve; });
const cb = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://127.0.0.1');
  if (u.pathname !== '/callback') { res.writeHead(404).end(); return; }
  gotCode({ code: u.searchParams.get('code'), state: u.searchParams.get('state'), iss: u.searchParams.get('iss'),
    error: u.searchParams.get('error'), error_description: u.searchParams.get('error_description') });
  res.writeHead(200, { 'Content-Type': 'text/plain' }).end('done');
});
await new Promise((r) => cb.listen(0, '127.0.0.1', r));
const redirectUrl = `http://127.0.0.1:${cb.address().port}/callback`;

// An in-memory OAuthClientProvider; this script visits the authorization
// URL itself (visit below).
const { provider, store } = memoryProvider(redirectUrl, args.clientName ?? 'Gatehouse e2e (TypeScript SDK)', () => {});

// The consent page's form: its action and the fields "Allow" posts.
const unescape = (s) => s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&quot;/g, '"')
  .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
function consentApproval(pageUrl, body) {
  const action = body.match(/<form method="post" action="([^"]+)"/);
  const request = body.match(/name="request" value="([^"]+)"/);
  const csrf = body.match(/name="csrf" value="([^"]+)"/);
  if (!action || !request || !csrf) fail('consent page without its form', { body: body.slice(0, 500) });
  const form = new URLSearchParams({ request: unescape(request[1]), csrf: unescape(csrf[1]), decision: 'approve' });
  return { url: new URL(unescape(action[1]), pageUrl).toString(), form };
}

// Follows the authorization URL like a browser (dev IdP auto-login, no
// form) until the redirect reaches our callback; on the consent page, shown
// with every IdP, the user allows the client.
async function visit(authUrl) {
  let next = authUrl.toString();
  let form = null; // the consent form to post to next
  const jar = new Map();
  for (let i = 0; i < 15; i++) {
    const headers = { 'User-Agent': 'Mozilla/5.0 (e2e browser)' };
    if (jar.size) headers.Cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const init = { redirect: 'manual', headers };
    if (form) {
      init.method = 'POST';
      init.body = form.toString();
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      form = null;
    }
    const res = await origFetch(next, init);
    for (const c of res.headers.getSetCookie?.() ?? []) {
      const [kv] = c.split(';');
      const eq = kv.indexOf('=');
      jar.set(kv.slice(0, eq).trim(), kv.slice(eq + 1).trim());
    }
    const loc = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && loc) {
      next = new URL(loc, next).toString();
      if (next.startsWith(redirectUrl)) {
        await origFetch(next);
        return codePromise;
      }
      continue;
    }
    const body = await res.text();
    if (res.status === 200 && new URL(next).pathname.endsWith('/oauth/consent')) {
      ({ url: next, form } = consentApproval(next, body));
      continue;
    }
    fail(`authorize stopped at ${next} with HTTP ${res.status}`, { body: body.slice(0, 500) });
  }
  fail('too many redirects during authorization');
}

const mcpUrl = new URL(args.url);
const newTransport = () => new StreamableHTTPClientTransport(mcpUrl, { authProvider: provider });
let client = new Client({ name: 'gatehouse-e2e-ts', version: '1.0.0' });
let transport = newTransport();
try {
  await client.connect(transport);
  fail('connected without authorization');
} catch (e) {
  if (!(e instanceof UnauthorizedError)) fail(`expected UnauthorizedError, got ${e?.stack ?? e}`);
}
if (!store.authUrls.length) fail('the SDK did not produce an authorization URL');
const authUrl = store.authUrls.at(-1);
const result = await visit(authUrl);
if (!result.code) fail(`authorization failed: ${result.error} ${result.error_description}`);
await transport.finishAuth(result.code);
const firstTokens = store.tokens;

client = new Client({ name: 'gatehouse-e2e-ts', version: '1.0.0' });
transport = newTransport();
await client.connect(transport);
const tools = await client.listTools();
const call1 = await client.callTool({ name: 'echo', arguments: { text: 'hello from ts' } });

// The access token stops working (as at expiry): the SDK gets 401
// invalid_token, refreshes with its refresh token and retries.
store.tokens = { ...store.tokens, access_token: 'expired.' + store.tokens.access_token.slice(7) };
let call2;
try {
  client = new Client({ name: 'gatehouse-e2e-ts', version: '1.0.0' });
  transport = newTransport();
  await client.connect(transport);
  call2 = await client.callTool({ name: 'echo', arguments: { text: 'after refresh' } });
} catch (e) {
  fail(`after the refused token: ${e?.stack ?? e}`);
}
const text = (r) => (r.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');
await client.close();
cb.close();
process.stdout.write(JSON.stringify({
  ok: true,
  clientId: store.client?.client_id,
  tokenEndpointAuthMethod: store.client?.token_endpoint_auth_method,
  authUrl: authUrl.toString(),
  iss: result.iss,
  tools: tools.tools.map((t) => t.name),
  echo: text(call1),
  echoAfterRefresh: text(call2),
  refreshTokenRotated: !!(firstTokens?.refresh_token && store.tokens?.refresh_token && firstTokens.refresh_token !== store.tokens.refresh_token),
  tokensSaved: store.saved.length,
  trace,
}) + '\n');
process.exit(0);
