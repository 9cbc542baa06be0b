// SPDX-License-Identifier: MIT
// Drives kiln-test-portal's sign-in page in headless Debian Chromium (playwright-core): fill the
// form, capture the firezone-fd0020211111:// deep link the portal redirects to.  Used by
// test-signin-browser.mjs and, as a command, by the gui suite's test "browser":
//
//   node signin-driver.mjs SIGN_IN_URL EMAIL PASSWORD    # prints the deep link on stdout
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

// A throw-away profile; close() removes it.
export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'kiln-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// Opens url (the page kiln or a test built), signs in and resolves to
// { page, redirect, deepLink } once the portal answers client_redirect with its 302.
export async function signIn(context, url, email, password) {
  const page = await context.newPage();
  await page.goto(url);
  await page.fill('#email', email);
  await page.fill('#password', password);
  // The page after the POST goes on to client_redirect by itself (meta refresh), which answers
  // with the 302 to the app's scheme.
  const [redirect] = await Promise.all([
    page.waitForResponse((res) => /\/sign_in\/client_redirect$/.test(new URL(res.url()).pathname)),
    page.click('#sign-in'),
  ]);
  return { page, redirect, deepLink: redirect.headers().location };
}

async function main(argv) {
  if (argv.length !== 3) {
    process.stderr.write('usage: node signin-driver.mjs SIGN_IN_URL EMAIL PASSWORD\n');
    return 2;
  }
  const [url, email, password] = argv;
  const browser = await launchBrowser();
  try {
    const { redirect, deepLink } = await signIn(browser.context, url, email, password);
    if (redirect.status() !== 302 || !deepLink?.startsWith('firezone-fd0020211111://')) {
      process.stderr.write(`signin-driver: no deep link (HTTP ${redirect.status()})\n`);
      return 1;
    }
    process.stdout.write(`${deepLink}\n`);
    return 0;
  } finally {
    await browser.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
