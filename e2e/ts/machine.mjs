// A machine client of the official TypeScript SDK (no user, no browser):
// ClientCredentialsProvider (client secret) or PrivateKeyJwtProvider
// (RFC 7523 private_key_jwt), both from @modelcontextprotocol/sdk's
// client/auth-extensions. The SDK discovers the authorization server from
// the connector's 401, gets a client_credentials token and calls echo.
//
//   node ts/machine.mjs <secret|private_key_jwt> <connector URL> <issuer> <client id> <secret or PKCS#8 PEM file>
//
// Prints one JSON line: {ok, tokenType, echo, tokenAuth} or {ok:false, error}.
import fs from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ClientCredentialsProvider, PrivateKeyJwtProvider } from '@modelcontextprotocol/sdk/client/auth-extensions.js';

const [kind, resource, issuer, clientId, cred] = process.argv.slice(2);
const out = (v) => { process.stdout.write(JSON.stringify(v) + '\n'); };
const tokenAuth = [];
const origFetch = globalThis.fetch;
globalThis.fetch = async (input, init = {}) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  if (url.pathname.endsWith('/oauth/token')) {
    const body = new URLSearchParams(typeof init.body === 'string' ? init.body : init.body?.toString() ?? '');
    const headers = new Headers(init.headers ?? {});
    tokenAuth.push(body.has('client_assertion') ? 'private_key_jwt' : headers.has('Authorization') ? 'client_secret_basic' : body.has('client_secret') ? 'client_secret_post' : 'none');
  }
  return origFetch(input, init);
};
try {
  const provider = kind === 'private_key_jwt'
    ? new PrivateKeyJwtProvider({ clientId, privateKey: fs.readFileSync(cred, 'utf8'), algorithm: 'ES256', expectedIssuer: issuer })
    : new ClientCredentialsProvider({ clientId, clientSecret: cred, expectedIssuer: issuer });
  const client = new Client({ name: 'gatehouse-e2e-machine', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(resource), { authProvider: provider });
  await client.connect(transport);
  const r = await client.callTool({ name: 'echo', arguments: { text: 'hello from a machine' } });
  const echo = (r.content ?? []).filter((c) => c.type === 'text').map((c) => c.text).join('');
  await client.close();
  out({ ok: true, echo, tokenType: provider.tokens()?.token_type, tokenAuth });
  process.exit(0);
} catch (e) {
  out({ ok: false, error: String(e?.stack ?? e), tokenAuth });
  process.exit(1);
}
