// The Vercel AI SDK MCP client (@ai-sdk/mcp, pinned in package.json) with
// its OAuth provider hook against a Gatehouse connector URL, as an app
// using the AI SDK would run it:
//   createMCPClient → 401 → the SDK's own discovery, DCR and PKCE →
//   AUTHORIZE <url> (completed by the Go test) → auth() with the code →
//   createMCPClient again → tools() → execute a tool → keep calling until
//   the short-lived access token expired and the SDK refreshed it.
// Input: one JSON argument {"url": connector URL}. Output: AUTHORIZE lines,
// then one JSON line {ok, tools, echo, refresh, trace}; exit 1 on failure.
import { createMCPClient, auth, UnauthorizedError } from '@ai-sdk/mcp';
import { traceFetch, fail, succeed, startCallback, memoryProvider, waitForRefresh, text } from './oauth-client.mjs';

traceFetch();

const args = JSON.parse(process.argv[2] ?? '{}');
const cb = await startCallback();
const { provider, store } = memoryProvider(cb.url, 'Gatehouse e2e (AI SDK)');
const connect = () => createMCPClient({ transport: { type: 'http', url: args.url, authProvider: provider } });

let client;
try {
  client = await connect();
  fail('connected without authorization');
} catch (e) {
  if (!(e instanceof UnauthorizedError) && !store.authUrls.length) fail(e);
}
if (!store.authUrls.length) fail('the SDK did not start an authorization');
const got = await cb.next();
if (!got.code) fail(`authorization failed: ${got.error} ${got.error_description}`);
try {
  const r = await auth(provider, { serverUrl: args.url, authorizationCode: got.code, callbackState: got.state, callbackIssuer: got.iss });
  if (r !== 'AUTHORIZED') fail(`auth() with the code answered ${r}`);
} catch (e) { fail(e); }
const issuedAt = Date.now();

let tools, echo, refresh;
try {
  client = await connect();
  const listed = await client.listTools();
  // The AI SDK tool set, as generateText would run it.
  const set = await client.tools();
  echo = text(await set.echo.execute({ text: 'hello from the ai sdk' }, { toolCallId: 'call-1', messages: [] }));
  tools = listed.tools.map((t) => t.name).sort();
  refresh = await waitForRefresh(async () => text(await client.callTool({ name: 'echo', arguments: { text: 'after expiry' } })), issuedAt);
  await client.close();
} catch (e) { fail(e); }
cb.close();
succeed(store, { tools, echo, refresh });
