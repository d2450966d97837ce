// People running a team from the Gatehouse console in Debian's headless
// Chromium, driven with playwright-core (started by TestConsoleInChromium).
// Three people, each in their own browser context: the operator (first
// account of a fresh deployment), Ada (signs up, owns the team) and Vic
// (invited as a viewer). Mail has no SMTP server here: links reach people
// through the operator's mail view, as on a real deployment without one.
//
// Input: one JSON argument {phase, base, spki, outDir, upstream, mock,
// connector}. phase "setup": sign-ups, email verification, team, invitation,
// viewer refused, IdP configured and tested. phase "after" (the Go test
// connected an MCP client in between): the user in the Users view, revoke
// all, password reset, TOTP on and signing in with it, operator suspends the
// team, the connector answers a clear error. Screenshots at 1280 px and
// 390 px go to outDir.
// Output: one JSON line {ok, steps, overflow, secrets, ...}; secrets are
// every secret value the pages handed out or took (passwords, link tokens,
// session cookies, the TOTP secret, recovery codes, an API key), which the
// Go test then looks for in the server's debug log.
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { chromium } from 'playwright-core';

const args = JSON.parse(process.argv[2] ?? '{}');
const base = args.base;
const steps = [];
const overflow = []; // pages wider than a 390 px phone screen
const dialogs = [];  // any alert() would be an XSS
const secrets = [];
const out = { ok: true, steps, overflow, dialogs, secrets };
const PW = 'correct horse battery staple';
const PW2 = 'a brand new passphrase here';
let current;
secrets.push(PW, PW2);

// keepSecrets notes the token of a link and the session cookies of pages.
function keepLinkToken(link) {
  secrets.push(new URL(link).searchParams.get('token'));
  return link;
}
async function keepSessions(...pages) {
  for (const p of pages) {
    for (const c of await p.context().cookies()) if (c.name === 'gatehouse_console') secrets.push(c.value);
  }
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--ignore-certificate-errors-spki-list=${args.spki}`],
});

async function person(name) {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  page.on('dialog', async (d) => {
    if (d.type() === 'confirm') { await d.accept(); return; }
    dialogs.push(`${name}: ${d.type()} ${d.message()}`);
    await d.dismiss();
  });
  return page;
}

// shot saves the page at 1280 px and at 390 px (a phone), and notes a page
// that scrolls sideways at phone width.
async function shot(page, name) {
  current = page;
  const n = String(steps.length + 1).padStart(2, '0');
  const wide = `${args.outDir}/${args.phase}-${n}-${name}-1280.png`;
  const narrow = `${args.outDir}/${args.phase}-${n}-${name}-390.png`;
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: wide, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  const w = await page.evaluate(() => document.documentElement.scrollWidth);
  if (w > 392) overflow.push(`${name}: ${w}px`);
  await page.screenshot({ path: narrow, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  steps.push({ name, url: page.url().replace(/token=[^&]+/, 'token=…'), screenshots: [wide, narrow] });
}

async function fail(msg) {
  let text = '';
  try { text = (await current.locator('body').innerText()).slice(0, 1500); } catch { /* gone */ }
  try { await current.screenshot({ path: `${args.outDir}/${args.phase}-failure.png`, fullPage: true }); } catch { /* gone */ }
  process.stdout.write(JSON.stringify({ ...out, ok: false, error: String(msg?.stack ?? msg), text }) + '\n');
  await browser.close();
  process.exit(1);
}

async function expectText(page, text) {
  current = page;
  await page.getByText(text, { exact: false }).first().waitFor({ timeout: 15000 });
}

async function signIn(page, email, password) {
  current = page;
  await page.goto(`${base}/console/login`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
}

async function signOut(page) {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL(/\/console\/login/);
}

// mailLink reads the newest link to path for `to` in the operator's mail view.
async function mailLink(op, to, path) {
  current = op;
  await op.goto(`${base}/console/operator/mail`);
  const cards = op.locator('section.card', { hasText: `To ${to}` });
  const n = await cards.count();
  for (let i = 0; i < n; i++) {
    const m = (await cards.nth(i).innerText()).match(new RegExp(`https://[^\\s]+${path.replace('/', '\\/')}\\?token=[A-Za-z0-9_-]+`));
    if (m) return m[0];
  }
  throw new Error(`no ${path} link for ${to} in the operator's mail view`);
}

// totp computes an RFC 6238 code (SHA-1, 6 digits, 30 s) for a base32 secret.
function totp(secret, t = Date.now()) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(Math.floor(t / 1000 / 30)));
  const h = createHmac('sha1', key).update(msg).digest();
  const o = h[h.length - 1] & 0xf;
  return String(((h.readUInt32BE(o) & 0x7fffffff) % 1000000)).padStart(6, '0');
}

try {
  const op = await person('operator');
  const ada = await person('ada');
  if (args.phase === 'setup') {
    // The first account of a fresh deployment is the operator; it confirms
    // its address too. No SMTP and JSON logs here: the person at the
    // terminal confirms it with `gatehouse admin grant`.
    await op.goto(`${base}/signup`);
    await op.getByLabel('Email address').fill('op@example.com');
    await op.getByLabel('Password').fill(PW);
    await op.getByRole('button', { name: 'Create account' }).click();
    await expectText(op, 'Check your email');
    await shot(op, 'operator-check-email');
    const env = Object.fromEntries(args.gatehouseEnv.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
    execFileSync(args.gatehouse, ['admin', 'grant', 'op@example.com'], { env, cwd: args.gatehouseDir, stdio: 'pipe' });
    await signIn(op, 'op@example.com', PW);
    await op.waitForURL(/\/console/);
    await shot(op, 'operator-first-account');

    // Ada signs up: "check your email"; the link reaches her through the
    // operator's mail view; she confirms, signs in, creates her team.
    await ada.goto(`${base}/signup`);
    await ada.getByLabel('Email address').fill('ada@example.com');
    await ada.getByLabel('Your name').fill('Ada Lovelace');
    await ada.getByLabel('Password').fill(PW);
    await ada.getByRole('button', { name: 'Create account' }).click();
    await expectText(ada, 'Check your email');
    await shot(ada, 'signup-check-email');
    await ada.goto(keepLinkToken(await mailLink(op, 'ada@example.com', '/account/verify')));
    await ada.getByRole('button', { name: 'Confirm my email address' }).click();
    await expectText(ada, 'Your email address is confirmed');
    await ada.getByLabel('Password').fill(PW);
    await ada.getByRole('button', { name: 'Sign in', exact: true }).click();
    await ada.waitForURL(/\/console/);
    await ada.goto(`${base}/console/teams/new`);
    await shot(ada, 'create-team-form');
    await ada.getByLabel('Team name').fill('Acme Corp');
    await ada.getByLabel('Slug').fill('acme');
    await ada.getByLabel('Upstream MCP server URL').fill(args.upstream);
    await ada.getByRole('button', { name: 'Create team' }).click();
    await ada.waitForURL(/\/console\/t\/acme$/);
    await expectText(ada, 'Your team is ready');
    await expectText(ada, `${base}/t/acme/mcp`);
    await shot(ada, 'team-overview');

    // Ada invites Vic as a viewer; Vic joins with the link and is refused
    // an admin action.
    await ada.goto(`${base}/console/t/acme/members`);
    await ada.locator('#inv_email').fill('vic@example.com');
    await ada.locator('#inv_role').selectOption('viewer');
    await ada.getByRole('button', { name: 'Invite' }).click();
    const invite = keepLinkToken(await ada.locator('button.copy[data-copy*="/invite?token="]').getAttribute('data-copy'));
    await shot(ada, 'members-invited');
    const vic = await person('vic');
    await vic.goto(invite);
    await expectText(vic, 'Join Acme Corp');
    await vic.getByRole('link', { name: 'Create an account' }).click();
    await vic.getByLabel('Your name').fill('Vic Viewer');
    await vic.getByLabel('Password').fill(PW);
    await vic.getByRole('button', { name: 'Create account' }).click();
    await vic.waitForURL(/\/console\/t\/acme$/);
    await expectText(vic, 'your role: viewer');
    await vic.goto(`${base}/console/t/acme/settings`);
    await vic.getByRole('button', { name: 'Save settings' }).click();
    await expectText(vic, 'Your role in this team is viewer');
    await shot(vic, 'viewer-refused');
    await keepSessions(op, ada, vic);

    // Ada configures the team's IdP (OpenID Connect) and tests it.
    await ada.goto(`${base}/console/t/acme/settings`);
    await ada.locator('#idp_type').selectOption('oidc');
    await ada.locator('#idp_client_id').fill(args.mock.clientID);
    await ada.locator('#idp_client_secret').fill(args.mock.clientSecret);
    await ada.locator('#idp_issuer_url').fill(args.mock.issuer);
    await ada.getByRole('button', { name: 'Save identity provider' }).click();
    await expectText(ada, 'Identity provider saved');
    await ada.getByRole('button', { name: 'Test OpenID Connect' }).click();
    await expectText(ada, 'passed');
    await expectText(ada, 'accepted the sign-in request');
    await shot(ada, 'idp-tested');
  } else {
    // The Go test connected an MCP client through the IdP in between.
    await signIn(ada, 'ada@example.com', PW);
    await ada.waitForURL(/\/console\/t\/acme$/);
    await ada.goto(`${base}/console/t/acme/users`);
    await expectText(ada, args.userEmail);
    await shot(ada, 'users-view');
    await ada.getByRole('button', { name: /Revoke/ }).first().click();
    await expectText(ada, 'was revoked');
    await shot(ada, 'user-access-revoked');
    // A client named <script>… is shown as text, never run.
    await ada.goto(`${base}/console/t/acme/clients`);
    await expectText(ada, '<script>alert(1)</script> Agent');
    await ada.goto(`${base}/console/t/acme/grants`);
    await shot(ada, 'grants');
    await ada.goto(`${base}/console/t/acme/audit`);
    await shot(ada, 'audit-log');

    // The person's own page: their clients and grants, newest first.
    await ada.goto(`${base}/console/t/acme/users`);
    await ada.locator('td a[href*="/console/t/acme/users/"]').first().click();
    await expectText(ada, 'Grants, newest first');
    await expectText(ada, args.userEmail);
    await shot(ada, 'user-detail');

    // A custom domain (its TXT challenge shown) and an audit webhook (its
    // signing secret shown once).
    await ada.goto(`${base}/console/t/acme/integrations`);
    await ada.locator('#custom_domain').fill('mcp.acme-corp.example');
    await ada.getByRole('button', { name: 'Save domain' }).click();
    await expectText(ada, 'waiting for the DNS record');
    await expectText(ada, '_gatehouse-challenge.mcp.acme-corp.example');
    await shot(ada, 'custom-domain');
    await ada.locator('#audit_webhook_url').fill('https://hooks.acme-corp.example/gatehouse');
    await ada.getByRole('button', { name: 'Add webhook' }).click();
    await expectText(ada, 'Webhook signing secret — shown once');
    await shot(ada, 'webhook-added');

    // A second provider (GitHub) added beside OpenID Connect, then removed.
    await ada.goto(`${base}/console/t/acme/settings`);
    await ada.locator('#idp_type').selectOption('github');
    await ada.locator('#idp_client_id').fill('Iv1.e2e-github-app');
    await ada.locator('#idp_client_secret').fill('e2e-github-secret');
    await ada.locator('#idp_keep_others').check();
    await ada.getByRole('button', { name: 'Save identity provider' }).click();
    await expectText(ada, 'Identity provider saved');
    await shot(ada, 'idp-two-providers');
    await ada.getByRole('button', { name: 'Remove GitHub' }).click();
    await expectText(ada, 'GitHub removed');
    await expectText(ada, 'Test OpenID Connect');
    await shot(ada, 'idp-removed');

    // Ada resets her password by the emailed link.
    await signOut(ada);
    await ada.goto(`${base}/account/forgot`);
    await ada.getByLabel('Email address').fill('ada@example.com');
    await ada.getByRole('button', { name: 'Send the link' }).click();
    await expectText(ada, 'Check your email');
    await signIn(op, 'op@example.com', PW);
    await ada.goto(keepLinkToken(await mailLink(op, 'ada@example.com', '/account/reset')));
    await ada.getByLabel('New password').fill(PW2);
    await ada.getByRole('button', { name: 'Save the new password' }).click();
    await expectText(ada, 'Your password is changed');
    await signIn(ada, 'ada@example.com', PW2);
    await ada.waitForURL(/\/console\/t\/acme$/);
    await shot(ada, 'signed-in-new-password');

    // Ada turns on two-step sign-in and signs in with it.
    await ada.goto(`${base}/account/totp`);
    const secret = await ada.locator('button.copy').first().getAttribute('data-copy');
    secrets.push(secret);
    const first = totp(secret);
    await ada.getByLabel('Code').fill(first);
    await ada.getByRole('button', { name: 'Turn on' }).click();
    await expectText(ada, 'your recovery codes, shown once');
    for (const c of await ada.locator('ul.codes code').allInnerTexts()) secrets.push(c, c.replace('-', ''));
    await shot(ada, 'totp-on-recovery-codes');
    await signOut(ada);
    await signIn(ada, 'ada@example.com', PW2);
    await ada.waitForURL(/\/console\/login\/totp/);
    await shot(ada, 'totp-asked');
    let code = totp(secret);
    while (code === first) { // a code works once: wait for the next step
      await new Promise((r) => setTimeout(r, 1000));
      code = totp(secret);
    }
    await ada.getByLabel('Code').fill(code);
    await ada.getByRole('button', { name: 'Sign in' }).click();
    await ada.waitForURL(/\/console\/t\/acme$/);
    await ada.goto(`${base}/account`);
    await expectText(ada, 'password+totp');
    await shot(ada, 'account-sessions');

    // Ada creates an API key for automation: shown once.
    await ada.goto(`${base}/console/t/acme/keys`);
    await ada.locator('#key_name').fill('CI deploy');
    await ada.getByRole('button', { name: 'Create API key' }).click();
    await expectText(ada, 'shown once');
    secrets.push(await ada.locator('section.secret button.copy').getAttribute('data-copy'));
    await shot(ada, 'api-key-created');
    await keepSessions(op, ada);

    // The operator suspends the team; its connector answers a clear error.
    await op.goto(`${base}/console/operator?q=acme`);
    await shot(op, 'operator-teams');
    await op.getByRole('button', { name: 'Suspend' }).click();
    await expectText(op, 'is suspended');
    await shot(op, 'operator-suspended');
    const res = await fetch(args.connector, { method: 'POST', headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } } }) });
    out.connectorStatus = res.status;
    out.connectorBody = await res.text();
    await ada.goto(`${base}/console/t/acme`);
    await expectText(ada, 'suspended by the platform operator');
    await shot(ada, 'owner-sees-suspension');
    await op.goto(`${base}/console/operator/audit`);
    await shot(op, 'platform-audit');
  }
  process.stdout.write(JSON.stringify(out) + '\n');
  await browser.close();
} catch (e) {
  await fail(e);
}
