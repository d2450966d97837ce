// The OpenAI Agents SDK (@openai/agents, pinned in package.json) with its
// Streamable HTTP MCP server class and an OAuth provider hook, against a
// Gatehouse connector URL, as an agent app would run it:
//   MCPServerStreamableHttp.connect → 401 → the MCP client's own discovery,
//   DCR and PKCE → AUTHORIZE <url> (completed by the Go test) → auth() with
//   the code → connect again → the tools an Agent gets (getAllMcpTools) →
//   invoke one as the agent runner does → keep calling until the short-lived
//   access token expired and the client refreshed it.
// Input: one JSON argument {"url": connector URL}. Output: AUTHORIZE lines,
// then one JSON line {ok, tools, echo, refresh, trace}; exit 1 on failure.
import { Agent, MCPServerStreamableHttp, RunContext, getAllMcpTools } from '@openai/agents';
// The Agents SDK runs MCP on the official client (its optional dependency).
import { auth, UnauthorizedError } from '@modelcontextprotocol/client';
import { traceFetch, fail, succeed, startCallback, memoryProvider, waitForRefresh, text } from './oauth-client.mjs';

traceFetch();

const args = JSON.parse(process.argv[2] ?? '{}');
const cb = await startCallback();
const { provider, store } = memoryProvider(cb.url, 'Gatehouse e2e (OpenAI Agents SDK)');
const newServer = () => new MCPServerStreamableHttp({ url: args.url, name: 'gatehouse', authProvider: provider, cacheToolsList: false });

let server = newServer();
try {
  await server.connect();
  fail('connected without authorization');
} catch (e) {
  if (!(e instanceof UnauthorizedError) && !store.authUrls.length) fail(e);
}
await server.close().catch(() => {});
if (!store.authUrls.length) fail('the SDK did not start an authorization');
const got = await cb.next();
if (!got.code) fail(`authorization failed: ${got.error} ${got.error_description}`);
try {
  const r = await auth(provider, { serverUrl: args.url, authorizationCode: got.code, iss: got.iss });
  if (r !== 'AUTHORIZED') fail(`auth() with the code answered ${r}`);
} catch (e) { fail(e); }
const issuedAt = Date.now();

let tools, echo, refresh;
try {
  server = newServer();
  await server.connect();
  // What the agent runner gives the model: function tools built from the
  // server's tool list; invoked the way the runner invokes them.
  const agent = new Agent({ name: 'e2e', mcpServers: [server] });
  const runContext = new RunContext({});
  const fnTools = await getAllMcpTools({ mcpServers: [server], runContext, agent });
  tools = fnTools.map((t) => t.name).sort();
  const echoTool = fnTools.find((t) => t.name === 'echo');
  if (!echoTool) fail(`no echo tool in ${tools}`);
  const out = await echoTool.invoke(runContext, JSON.stringify({ text: 'hello from the agents sdk' }));
  echo = typeof out === 'string' ? out : text(out) || JSON.stringify(out);
  refresh = await waitForRefresh(async () => {
    return text({ content: await server.callTool('echo', { text: 'after expiry' }) });
  }, issuedAt);
  await server.close();
} catch (e) { fail(e); }
cb.close();
succeed(store, { tools, echo, refresh });
