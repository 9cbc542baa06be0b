// SPDX-License-Identifier: MIT
// The sign-in page of kiln-test-portal in headless Debian Chromium, driven by playwright-core:
// fill the form, capture the firezone-fd0020211111:// deep link the portal redirects to, check
// every parameter, and check that nonce ‖ fragment is a token the portal accepts on the client
// WebSocket.  A wrong password shows the error on the page.  Run by test-signin-browser.sh.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { join } from 'node:path';
import { launchBrowser, signIn } from './signin-driver.mjs';

const portalExe = join(process.env.KILN_BUILD_ROOT, 'tests/portal/kiln-test-portal');
const demoConfig = join(process.env.KILN_SOURCE_ROOT, 'tests/portal/demo.json');
const UA = 'Debian/12 gui-client/1.5.17 (x86_64; 6.1.0)';
const PUBLIC_KEY = 'S6REkbStSNMfn8hpLkVxibjR+zz3RO/Gq40TprHJE2U=';

let portal;
let base;
let browser;

function startPortal() {
  return new Promise((resolve, reject) => {
    const child = spawn(portalExe, ['--config', demoConfig, '--listen', '127.0.0.1', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/^listening on (\S+)$/m);
      if (m) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`portal exited with ${code}`)));
  });
}

// The WebSocket upgrade with the headers the Rust client sends; resolves to the HTTP status
// (101 when the portal accepts the token).
function upgradeStatus(token) {
  const query = new URLSearchParams({ external_id: 'browser-test', name: 'browser', public_key: PUBLIC_KEY });
  return new Promise((resolve, reject) => {
    const req = request(`${base}/client/v2/websocket?${query}`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        'User-Agent': UA,
        'X-Authorization': `Bearer ${token}`,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end();
  });
}

before(async () => {
  ({ child: portal, url: base } = await startPortal());
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  portal?.kill('SIGTERM');
});

test('sign-in redirects to the deep link with a token the portal accepts', async () => {
  const nonce = randomBytes(32).toString('hex');
  const state = randomBytes(32).toString('hex');
  const { page, redirect, deepLink } = await signIn(browser.context,
    `${base}/demo?as=gui-client&nonce=${nonce}&state=${state}`, 'alice@example.com', 'wonderland');
  assert.equal(redirect.status(), 302);
  assert.ok(deepLink?.startsWith('firezone-fd0020211111://'), deepLink);

  const url = new URL(deepLink);
  assert.equal(url.protocol, 'firezone-fd0020211111:');
  assert.equal(url.host, 'handle_client_sign_in_callback');
  // Form encoding: a space is '+', as the real portal sends it.
  assert.ok(deepLink.includes('account_name=Kiln+Demo'), deepLink);
  const keys = [...url.searchParams.keys()];
  assert.deepEqual(keys, [
    'account_name', 'account_slug', 'actor_name', 'fragment', 'identity_provider_identifier', 'state',
  ]);
  assert.equal(url.searchParams.get('account_name'), 'Kiln Demo');
  assert.equal(url.searchParams.get('account_slug'), 'demo');
  assert.equal(url.searchParams.get('actor_name'), 'Alice Liddell');
  assert.equal(url.searchParams.get('state'), state);
  assert.match(url.searchParams.get('identity_provider_identifier'),
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  const fragment = url.searchParams.get('fragment');
  assert.match(fragment, /^\.SFMyNTY\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);

  assert.equal(await upgradeStatus(nonce + fragment), 101);
  // The fragment is bound to its nonce.
  assert.equal(await upgradeStatus(randomBytes(32).toString('hex') + fragment), 401);
  await page.close();
});

test('a wrong password shows the error on the page', async () => {
  const page = await browser.context.newPage();
  await page.goto(`${base}/demo?as=gui-client&nonce=abc123&state=def456`);
  assert.equal(await page.locator('h1').textContent(), 'Sign in to Kiln Demo');
  await page.fill('#email', 'alice@example.com');
  await page.fill('#password', 'not-the-password');
  await Promise.all([page.waitForNavigation(), page.click('#sign-in')]);
  assert.equal((await page.locator('#error').textContent()).trim(), 'Invalid email or password.');
  // The form is shown again with the email kept and the flow parameters intact.
  assert.equal(await page.inputValue('#email'), 'alice@example.com');
  assert.equal(await page.inputValue('input[name=nonce]'), 'abc123');
  assert.equal(await page.inputValue('input[name=state]'), 'def456');
  await page.close();
});

test('a sign-in request without a nonce is refused', async () => {
  const page = await browser.context.newPage();
  const res = await page.goto(`${base}/demo?as=gui-client&state=x`);
  assert.equal(res.status(), 400);
  assert.match(await page.locator('body').textContent(), /nonce/);
  await page.close();
});
