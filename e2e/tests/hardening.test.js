// Browser binding and browser hardening in a real browser (chromium):
// - another origin (a tiny HTTPS server on another port) frames certgate's pages, and the
//   browser refuses to show them (Content-Security-Policy frame-ancestors / X-Frame-Options);
// - sign-in fixation: an attacker starts a sign-in, plants its flow cookie in the victim's
//   browser, the victim signs in with a certificate; the attacker's cookie then continues
//   nothing (flow-not-this-browser), while the victim finishes — the flow cookie is
//   __Host-, Secure, HttpOnly, SameSite=Lax;
// - an OpenID Connect sign-in and a WS-Federation sign-in (the auto-posting form) work under
//   certgate's Content-Security-Policy with no violation reported.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Certgate, CHROMIUM, freePort } from './harness.js';

let certgate;
let browser;
let other;

// Another origin: frames whatever /frame?src= names, and is the relying party (OIDC
// redirects to /callback, WS-Fed posts to /wsfed).
async function startOtherOrigin(tlsDir) {
  const port = await freePort();
  const received = [];
  const server = createServer({
    cert: readFileSync(join(tlsDir, 'localhost.pem')),
    key: readFileSync(join(tlsDir, 'localhost.key')),
  }, (request, response) => {
    const url = new URL(request.url, `https://localhost:${port}`);
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => {
      response.writeHead(200, { 'content-type': 'text/html' });
      if (url.pathname === '/frame') {
        const src = url.searchParams.get('src').replace(/&/g, '&amp;').replace(/"/g, '&quot;');
        response.end(`<!doctype html><title>Framer</title><h1>Framer</h1><iframe id="framed" src="${src}"></iframe>`);
        return;
      }
      if (url.pathname === '/callback') received.push({ path: '/callback', params: Object.fromEntries(url.searchParams) });
      if (url.pathname === '/wsfed' && request.method === 'POST') {
        received.push({ path: '/wsfed', form: Object.fromEntries(new URLSearchParams(body)) });
      }
      response.end('<!doctype html><title>RP</title><h1>Relying party</h1>');
    });
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { port, received, server, origin: `https://localhost:${port}` };
}

before(async () => {
  certgate = await Certgate.create();
  certgate.alice = certgate.issue('alice@contoso.example', 'alice-pw');
  other = await startOtherOrigin(join(certgate.dir, 'tls'));
  certgate.run('client', 'add', 'app', '--name', 'App', '--redirect-uri', `${other.origin}/callback`, '--json');
  certgate.run('rp', 'add', 'wsfed', '--name', 'WS-Fed App', '--realm', 'urn:test:wsfed-app',
    '--reply', `${other.origin}/wsfed`, '--json');
  await certgate.serve();
  for (let i = 0; i < 100; i++) {
    const rows = certgate.json('crl', 'status');
    if (rows.every((row) => row.cached)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  other?.server.close();
  await certgate?.stop();
});

function authorizeUrl(state) {
  const url = new URL(`${certgate.webOrigin}/oauth2/authorize`);
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: 'app', redirect_uri: `${other.origin}/callback`,
    scope: 'openid', state, nonce: `n-${state}`,
  })) url.searchParams.set(k, v);
  return url.toString();
}

/** A browser context that reports every CSP violation (event and console) into `violations`. */
async function watchedContext(options, violations) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true, ...options });
  await context.exposeBinding('reportViolation', (source, violation) => violations.push(violation));
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      window.reportViolation({ directive: e.violatedDirective, blocked: e.blockedURI, page: document.URL });
    });
  });
  context.on('console', (message) => {
    if (/Content Security Policy|Content-Security-Policy/i.test(message.text())) violations.push(message.text());
  });
  return context;
}

function withCertificate() {
  return {
    clientCertificates: [
      { origin: certgate.certauthOrigin, pfxPath: certgate.alice, passphrase: 'alice-pw' },
    ],
  };
}

test('another origin cannot frame certgate pages', async () => {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  for (const target of [authorizeUrl('framed'), `${certgate.webOrigin}/signin/continue`]) {
    const page = await context.newPage();
    const refused = page.waitForEvent('console', {
      predicate: (m) => /frame-ancestors/.test(m.text()),
      timeout: 10_000,
    });
    await page.goto(`${other.origin}/frame?src=${encodeURIComponent(target)}`);
    assert.match((await refused).text(), /frame-ancestors 'none'.*blocked|Refused to frame/s, target);
    assert.equal(await page.locator('h1').innerText(), 'Framer');
    // The frame shows the browser's error page, not certgate's.
    const framed = page.frames().find((f) => f !== page.mainFrame());
    assert.ok(framed, 'the iframe exists');
    const heading = await framed.evaluate(() => document.querySelector('main h1')?.textContent ?? null)
      .catch(() => null);
    assert.equal(heading, null, `${target} rendered in the frame`);
    assert.doesNotMatch(framed.url(), /^https:\/\/localhost/, target);
    await page.close();
  }
  await context.close();
});

test('a planted flow cookie is worthless after the victim signs in; OIDC under the CSP', async () => {
  // The attacker starts a sign-in in their own browser and takes its cookie.
  const attacker = await browser.newContext({ ignoreHTTPSErrors: true });
  const attackerPage = await attacker.newPage();
  await attackerPage.goto(authorizeUrl('fixation'));
  assert.equal(await attackerPage.locator('h1').innerText(), 'Sign in to App');
  const certauthLink = await attackerPage.getByRole('link', { name: 'Continue with your certificate' }).getAttribute('href');
  const flow = new URL(certauthLink).searchParams.get('flow');
  const [planted] = (await attacker.cookies(certgate.webOrigin)).filter((c) => c.name.startsWith('__Host-certgate_flow_'));
  assert.ok(planted, 'a __Host- flow cookie');
  assert.equal(planted.secure, true);
  assert.equal(planted.httpOnly, true);
  assert.equal(planted.sameSite, 'Lax');
  assert.equal(planted.path, '/');
  assert.equal(planted.domain, 'localhost');

  // ...plants it in the victim's browser, and sends the victim the certificate link.
  const violations = [];
  const victim = await watchedContext(withCertificate(), violations);
  await victim.addCookies([{
    name: planted.name, value: planted.value, url: `${certgate.webOrigin}/`,
    secure: true, httpOnly: true, sameSite: 'Lax',
  }]);
  const victimPage = await victim.newPage();
  await victimPage.goto(certauthLink);
  assert.equal(await victimPage.locator('h1').innerText(), 'Continue?');
  const [rotated] = (await victim.cookies(certgate.webOrigin)).filter((c) => c.name === planted.name);
  assert.ok(rotated, 'the certificate step set the flow cookie');
  assert.notEqual(rotated.value, planted.value);
  assert.equal(rotated.secure, true);
  assert.equal(rotated.httpOnly, true);
  assert.equal(rotated.sameSite, 'Lax');

  // The attacker's cookie no longer continues the flow.
  const refused = await attackerPage.goto(`${certgate.webOrigin}/signin/continue?flow=${flow}`);
  assert.equal(refused.status(), 403);
  assert.match(await attackerPage.locator('main').innerText(), /flow-not-this-browser/);

  // The victim finishes, under the CSP.
  await victimPage.getByRole('button', { name: /^Continue as/ }).click();
  await victimPage.waitForURL(/\/callback/);
  const redirect = other.received.filter((r) => r.path === '/callback').at(-1);
  assert.equal(redirect.params.state, 'fixation');
  assert.ok(redirect.params.code);
  assert.deepEqual(violations, []);
  await attacker.close();
  await victim.close();
});

test('a WS-Federation sign-in auto-posts under the CSP', async () => {
  const violations = [];
  const context = await watchedContext(withCertificate(), violations);
  const page = await context.newPage();
  const start = new URL(`${certgate.webOrigin}/federation/wsfed`);
  start.searchParams.set('wa', 'wsignin1.0');
  start.searchParams.set('wtrealm', 'urn:test:wsfed-app');
  await page.goto(start.toString());
  await page.getByRole('link', { name: 'Continue with your certificate' }).click();
  // certgate's static script posts the form to the relying party: no click needed.
  await page.waitForURL(`${other.origin}/wsfed`);
  assert.equal(await page.locator('h1').innerText(), 'Relying party');
  const posted = other.received.filter((r) => r.path === '/wsfed').at(-1);
  assert.equal(posted.form.wa, 'wsignin1.0');
  assert.match(posted.form.wresult, /RequestSecurityTokenResponse/);
  assert.deepEqual(violations, []);
  await context.close();
});
