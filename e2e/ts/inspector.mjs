// A person using the MCP Inspector (web UI, started by the Go test) in
// Debian's headless Chromium, driven with playwright-core: add the
// connector URL, Connect, sign in on the dev IdP page, allow on the consent
// page if one is shown, see the tool list, call a tool, see the result.
// A screenshot of each step goes to outDir.
//
// Input: one JSON argument {inspector, connector, issuer, outDir, spki,
// profileDir}. spki is the base64 SHA-256 of the gateway's TLS key, the one
// certificate Chromium is told to accept (the test CA is not in its store).
// Output: one JSON line {ok, steps, tools, result, blocked, navigations}.
import { chromium } from 'playwright-core';

const args = JSON.parse(process.argv[2] ?? '{}');
const steps = [];
const blocked = [];
const navigations = [];
let page;

async function shot(name) {
  const path = `${args.outDir}/${String(steps.length + 1).padStart(2, '0')}-${name}.png`;
  await page.screenshot({ path });
  steps.push({ name, url: redact(page.url()), screenshot: path });
}

// Codes and states are single-use, but keep them out of the report anyway.
const redact = (u) => u.replace(/([?&](code|state)=)[^&]+/g, '$1…');

async function fail(msg) {
  let text = '';
  try {
    await shot('failure');
    text = (await page.locator('body').innerText()).slice(0, 1500);
  } catch { /* the page may be gone */ }
  process.stdout.write(JSON.stringify({ ok: false, error: String(msg?.stack ?? msg), steps, blocked, navigations, text }) + '\n');
  process.exit(1);
}

const context = await chromium.launchPersistentContext(args.profileDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--ignore-certificate-errors-spki-list=${args.spki}`],
  viewport: { width: 1400, height: 900 },
});
const timeout = 20000;
context.setDefaultTimeout(timeout);
// Only loopback (and *.localhost, which Chromium resolves to loopback):
// the Inspector's page asks for web fonts on the internet; refuse and report.
await context.route('**/*', (route) => {
  const u = new URL(route.request().url());
  if (['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname) || u.hostname.endsWith('.localhost') || u.protocol === 'data:') {
    return route.continue();
  }
  if (!blocked.includes(u.host)) blocked.push(u.host);
  return route.abort('blockedbyclient');
});
page = context.pages()[0] ?? await context.newPage();
page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations.push(redact(f.url())); });

try {
  const inspector = new URL(args.inspector);
  await page.goto(args.inspector);
  await page.getByRole('button', { name: 'Add Servers' }).waitFor();
  await shot('inspector-started');

  // Add the connector URL as a Streamable HTTP server.
  await page.getByRole('button', { name: 'Add Servers' }).click();
  await page.getByText('Add manually').click();
  const dlg = page.getByRole('dialog');
  await dlg.getByLabel('Server ID').fill('gatehouse');
  await dlg.getByLabel('Transport').click();
  await page.getByRole('option', { name: 'streamable-http' }).click();
  await dlg.getByLabel('URL').fill(args.connector);
  await shot('connector-url-entered');
  await dlg.getByRole('button', { name: 'Add' }).click();
  await dlg.waitFor({ state: 'hidden' });

  // Connect: the Inspector discovers the authorization server from the
  // 401, registers itself (DCR) and sends the browser to authorize (PKCE).
  await page.getByRole('switch', { name: 'Connect or disconnect "gatehouse"' }).click({ force: true });
  await page.waitForURL((u) => u.href.startsWith(args.issuer + '/'), { timeout });
  for (let i = 0; i < 4 && !page.url().startsWith(inspector.origin); i++) {
    await page.waitForLoadState();
    const before = page.url();
    if (await page.locator('input[name=username]').count()) {
      await shot('dev-login');
      await page.locator('input[name=username]').fill('alice');
      await page.locator('form button[type=submit]').first().click();
    } else if (await page.locator('button[name=decision][value=approve]').count()) {
      await shot('consent');
      await page.locator('button[name=decision][value=approve]').click();
    } else {
      await fail(`authorization stopped at ${redact(before)}`);
    }
    await page.waitForURL((u) => u.href !== before, { timeout });
  }
  await page.waitForURL((u) => u.origin === inspector.origin, { timeout });
  await page.getByText('Connected', { exact: true }).waitFor();
  await shot('connected');

  // The tool list.
  await page.locator('label.mantine-SegmentedControl-label', { hasText: 'Tools' }).click();
  await page.getByRole('button', { name: 'echo', exact: true }).waitFor();
  const tools = (await page.getByText(/^Tools \(\d+\)$/).innerText());
  const names = [];
  for (const n of ['add', 'countdown', 'echo', 'whoami']) {
    if (await page.getByRole('button', { name: n, exact: true }).count()) names.push(n);
  }
  await shot('tool-list');

  // Call a tool and see its result.
  await page.getByRole('button', { name: 'echo', exact: true }).click();
  await page.getByRole('textbox', { name: 'text' }).fill('hello from the inspector');
  await shot('tool-call-form');
  await page.getByRole('button', { name: 'Execute Tool' }).click();
  await page.getByText('Results', { exact: true }).waitFor();
  const result = await page.getByText('hello from the inspector', { exact: true }).first().innerText();
  await shot('tool-result');

  process.stdout.write(JSON.stringify({ ok: true, steps, toolsHeading: tools, tools: names, result, blocked, navigations }) + '\n');
  await context.close();
  process.exit(0);
} catch (e) {
  await fail(e);
}
