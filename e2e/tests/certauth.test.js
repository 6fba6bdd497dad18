// The certificate sign-in page in a real browser: chromium presents the user's PKCS#12
// (playwright-core's clientCertificates), certgate validates it and shows the result; without
// a certificate, and with a revoked one, the page says why, with the reason code, a
// correlation ID and what to do next.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { Certgate, CHROMIUM } from './harness.js';

let certgate;
let browser;

before(async () => {
  certgate = await Certgate.create();
  certgate.alice = certgate.issue('alice@contoso.example', 'alice-pw');
  certgate.mallory = certgate.issue('mallory@contoso.example', 'mallory-pw');
  await certgate.serve();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  // The server fetches the CRLs on its own within its first job tick.
  for (let i = 0; i < 100; i++) {
    const rows = certgate.json('crl', 'status');
    if (rows.every((row) => row.cached)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(async () => {
  await browser?.close();
  await certgate?.stop();
});

async function visit(clientCertificates) {
  const context = await browser.newContext({
    // certgate's own CA signed the listener's certificate; the browser does not know it.
    ignoreHTTPSErrors: true,
    clientCertificates,
  });
  const page = await context.newPage();
  const response = await page.goto(`${certgate.certauthOrigin}/certauth`);
  return { context, page, status: response.status() };
}

test('a valid certificate signs in and the page names the user', async () => {
  const { context, page, status } = await visit([
    { origin: certgate.certauthOrigin, pfxPath: certgate.alice, passphrase: 'alice-pw' },
  ]);
  assert.equal(status, 200);
  assert.equal(await page.locator('h1').innerText(), 'Certificate accepted');
  const text = await page.locator('main').innerText();
  assert.match(text, /Signed in as alice@contoso\.example/);
  assert.match(text, /CN=alice@contoso\.example/);
  assert.equal(await page.locator('html').getAttribute('lang'), 'en');
  await context.close();
});

test('no certificate: the page says what to do, with the reason code and a correlation ID', async () => {
  const { context, page, status } = await visit([]);
  assert.equal(status, 401);
  assert.equal(await page.locator('h1').innerText(), 'Sign-in failed');
  const text = await page.locator('main').innerText();
  assert.match(text, /no-certificate/);
  assert.match(text, /[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/);
  assert.equal(await page.getByRole('alert').count(), 1);
  await context.close();
});

test('a revoked certificate is refused with cert-revoked', async () => {
  const [mallory] = certgate.json('pki', 'list').filter((c) => c.upn.startsWith('mallory'));
  certgate.run('pki', 'revoke', '--serial', mallory.serial, '--reason', 'keyCompromise');
  certgate.run('pki', 'crl');
  certgate.run('crl', 'refresh');
  // The server picks the new CRL up within its job tick (2 s).
  let seen;
  for (let i = 0; i < 50; i++) {
    const { context, page } = await visit([
      { origin: certgate.certauthOrigin, pfxPath: certgate.mallory, passphrase: 'mallory-pw' },
    ]);
    seen = await page.locator('main').innerText();
    await context.close();
    if (/cert-revoked/.test(seen)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(seen, /cert-revoked/);
  assert.match(seen, /Ask your administrator for a new one/);
});
