// The README's first command, as a newcomer uses it: `certgate serve --demo`, import the demo
// user's PKCS#12 into the browser, add the TOTP key to an "authenticator" (this test computes
// the codes), open the demo application and sign in with certificate + TOTP.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { CHROMIUM, certgateBinary, freePort } from './harness.js';
import { totp } from './totp.js';

let dir;
let server;
let browser;
const ports = {};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'certgate-demo-'));
  for (const name of ['http', 'certauth', 'web']) ports[name] = await freePort();
  const data = join(dir, 'data');
  server = spawn(certgateBinary(), ['serve', '--demo'], {
    env: {
      ...process.env,
      CERTGATE_DATA_DIR: data,
      CERTGATE_LISTEN: `127.0.0.1:${ports.http}`,
      CERTGATE_CERTAUTH_LISTEN: `127.0.0.1:${ports.certauth}`,
      CERTGATE_TLS_CERTIFICATE: join(data, 'tls', 'localhost.pem'),
      CERTGATE_TLS_KEY: join(data, 'tls', 'localhost.key'),
      CERTGATE_WEB_LISTEN: `127.0.0.1:${ports.web}`,
      CERTGATE_WEB_PUBLIC_URL: `https://localhost:${ports.web}`,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let output = '';
  server.stdout.on('data', (chunk) => { output += chunk; });
  const deadline = Date.now() + 60_000;
  while (!output.includes('certgate demo')) {
    if (Date.now() > deadline) throw new Error(`certgate serve --demo did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(output, /alice\.p12 {2}\(password: demo\)/);
  assert.match(output, new RegExp(`https://localhost:${ports.web}/demo`));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  if (server) {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
});

test('a newcomer signs in to the demo application with the demo certificate and TOTP', async () => {
  const data = join(dir, 'data');
  const key = readFileSync(join(data, 'demo', 'alice-totp.txt'), 'utf8').split('\n')[0].trim();
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    clientCertificates: [{
      origin: `https://localhost:${ports.certauth}`,
      pfxPath: join(data, 'demo', 'alice.p12'),
      passphrase: 'demo',
    }],
  });
  const page = await context.newPage();
  await page.goto(`https://localhost:${ports.web}/demo`);
  assert.equal(await page.locator('h1').innerText(), 'certgate demo application');
  // The server fetches its own CRLs within its first job tick; until then sign-in is refused
  // with crl-unavailable, so try again briefly.
  for (let i = 0; i < 30; i++) {
    await page.getByRole('link', { name: 'Sign in with your certificate' }).click();
    assert.equal(await page.locator('h1').innerText(), 'Sign in to certgate demo application');
    await page.getByRole('link', { name: 'Continue with your certificate' }).click();
    if (await page.locator('h1').innerText() === 'Enter your one-time code') break;
    await page.goto(`https://localhost:${ports.web}/demo`);
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.equal(await page.locator('h1').innerText(), 'Enter your one-time code');
  // The demo's setup used the current time step to confirm the key: a code of that step is a
  // replay; an authenticator app shows the next one 30 s later.
  for (let attempt = 0; attempt < 3; attempt++) {
    await page.getByLabel('One-time code').fill(totp(key));
    await page.getByRole('button', { name: 'Verify' }).click();
    const heading = await page.locator('h1').innerText();
    if (heading === 'Continue?') break;
    assert.match(await page.locator('main').innerText(), /totp-replayed|totp-invalid/);
    await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 500));
  }
  assert.equal(await page.locator('h1').innerText(), 'Continue?');
  await page.getByRole('button', { name: /^Continue as/ }).click();
  await page.waitForURL(/\/demo\/callback/);
  assert.equal(await page.locator('h1').innerText(), 'Signed in');
  const text = await page.locator('main').innerText();
  assert.match(text, /alice@contoso\.example/);
  assert.match(text, /urn:certgate:acr:mfa/);
  await context.close();
});
