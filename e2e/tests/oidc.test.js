// The full OpenID Connect code flow in a real browser, with certificate + TOTP, against a
// small relying party in this test: chromium (playwright-core's clientCertificates presents
// the user's PKCS#12 to the certificate sign-in listener) → authorize → certificate sign-in →
// no authenticator yet: the page asks for a Temporary Access Pass (no QR code, a reason code)
// → the administrator issues one with the CLI → the pass unlocks the TOTP enrollment (the test
// reads the key from the page and computes codes, as an authenticator app would) → "continue
// as" → code → the relying party redeems it, verifies the
// ID token against the JWKS, calls userinfo and refreshes; then an administrator revokes the
// user's sessions and the refresh token stops working.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, verify, randomBytes, createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { chromium } from 'playwright-core';
import { Certgate, CHROMIUM, freePort } from './harness.js';
import { totp } from './totp.js';

let certgate;
let browser;
let rp;

const b64url = (buffer) => buffer.toString('base64url');

// The relying party: receives the redirect, keeps what it got.
async function startRelyingParty() {
  const port = await freePort();
  const received = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url, `http://localhost:${port}`);
    // Only the redirects: the browser also asks for /favicon.ico, at its own pace.
    if (url.pathname === '/callback') received.push(Object.fromEntries(url.searchParams));
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end('<!doctype html><title>RP</title><h1>Relying party</h1>');
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { port, received, server, redirectUri: `http://localhost:${port}/callback` };
}

// Node's fetch must accept certgate's private CA for the back channel.
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';

before(async () => {
  rp = await startRelyingParty();
  certgate = await Certgate.create();
  certgate.alice = certgate.issue('alice@contoso.example', 'alice-pw');
  const client = JSON.parse(certgate.run(
    'client', 'add', 'demo-app', '--name', 'Demo App', '--redirect-uri', rp.redirectUri, '--json',
  ));
  certgate.clientSecret = client.clientSecret;
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
  rp?.server.close();
  await certgate?.stop();
});

async function tokenRequest(form) {
  const basic = Buffer.from(`demo-app:${certgate.clientSecret}`).toString('base64');
  const response = await fetch(`${certgate.webOrigin}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

test('certificate + TOTP sign-in through the OpenID Connect code flow, then revocation', async () => {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    clientCertificates: [
      { origin: certgate.certauthOrigin, pfxPath: certgate.alice, passphrase: 'alice-pw' },
    ],
  });
  const page = await context.newPage();
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const verifier = b64url(randomBytes(32));
  const challenge = b64url(createHash('sha256').update(verifier).digest());
  const authorize = new URL(`${certgate.webOrigin}/oauth2/authorize`);
  for (const [k, v] of Object.entries({
    response_type: 'code', client_id: 'demo-app', redirect_uri: rp.redirectUri,
    scope: 'openid profile offline_access', state, nonce,
    code_challenge: challenge, code_challenge_method: 'S256',
    acr_values: 'urn:certgate:acr:mfa',
  })) authorize.searchParams.set(k, v);

  await page.goto(authorize.toString());
  assert.equal(await page.locator('h1').innerText(), 'Sign in to Demo App');
  await page.getByRole('link', { name: 'Continue with your certificate' }).click();
  // Multi-factor asked for, nothing enrolled yet: the certificate alone cannot set up the
  // second factor. The page says what to ask the administrator for, and shows no key.
  assert.equal(await page.locator('h1').innerText(), 'Temporary Access Pass');
  assert.match(await page.locator('main').innerText(), /second-factor-enrollment-requires-access-pass/);
  assert.equal(await page.locator('svg').count(), 0);
  assert.doesNotMatch(await page.content(), /otpauth:|Key:/);
  await page.getByLabel('Temporary Access Pass from your administrator').fill('AAAA-BBBB-CCCC');
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.match(await page.locator('main').innerText(), /access-pass-not-issued/);
  assert.equal(await page.locator('svg').count(), 0);
  // The administrator issues a pass (shown once); the user types it.
  const { temporaryAccessPass } = certgate.json(
    'user', 'access-pass', 'create', 'alice@contoso.example', '--lifetime', '30m',
  );
  await page.getByLabel('Temporary Access Pass from your administrator').fill(temporaryAccessPass);
  await page.getByRole('button', { name: 'Continue' }).click();
  // The pass unlocks the enrollment page with a QR code.
  assert.equal(await page.locator('h1').innerText(), 'Set up your authenticator app');
  assert.equal(await page.locator('svg').count(), 1);
  const key = (await page.locator('figcaption code').innerText()).trim();
  await page.getByLabel('One-time code').fill('000000' === totp(key) ? '111111' : '000000');
  await page.getByRole('button', { name: 'Confirm' }).click();
  assert.match(await page.locator('main').innerText(), /totp-invalid/);
  await page.getByLabel('One-time code').fill(totp(key));
  await page.getByRole('button', { name: 'Confirm' }).click();

  // "Continue as" for this client.
  assert.equal(await page.locator('h1').innerText(), 'Continue?');
  assert.match(await page.locator('main').innerText(), /Demo App/);
  await page.getByRole('button', { name: /^Continue as/ }).click();
  await page.waitForURL(/\/callback/);
  const redirect = rp.received.at(-1);
  assert.equal(redirect.state, state);
  assert.ok(redirect.code);

  // The relying party redeems the code (PKCE) and checks the ID token against the JWKS.
  const tokens = await tokenRequest({
    grant_type: 'authorization_code', code: redirect.code, redirect_uri: rp.redirectUri,
    code_verifier: verifier,
  });
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  assert.equal(tokens.headers.get('cache-control'), 'no-store');
  const [header, payload, signature] = tokens.body.id_token.split('.');
  const jwks = await (await fetch(`${certgate.webOrigin}/oauth2/jwks`)).json();
  const { kid } = JSON.parse(Buffer.from(header, 'base64url'));
  const jwk = jwks.keys.find((k) => k.kid === kid);
  assert.ok(jwk, 'the signing key is published');
  const valid = verify('sha256', Buffer.from(`${header}.${payload}`),
    { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url'));
  assert.ok(valid, 'the ID token signature verifies with the JWKS');
  const claims = JSON.parse(Buffer.from(payload, 'base64url'));
  assert.equal(claims.upn, 'alice@contoso.example');
  assert.equal(claims.nonce, nonce);
  assert.equal(claims.aud, 'demo-app');
  assert.equal(claims.acr, 'urn:certgate:acr:mfa');
  assert.deepEqual(claims.amr, ['swk', 'otp', 'mfa']);
  const [issued] = certgate.json('pki', 'list');
  assert.equal(claims.x5_serial, issued.serial);
  assert.match(claims.x5_issuer, /Contoso Issuing CA/);

  // A replayed code is refused.
  const replay = await tokenRequest({
    grant_type: 'authorization_code', code: redirect.code, redirect_uri: rp.redirectUri,
    code_verifier: verifier,
  });
  assert.equal(replay.status, 400);
  assert.equal(replay.body.error, 'invalid_grant');

  // userinfo with the access token... which the replay just revoked (RFC 6749 §4.1.2): so
  // sign in again, this time with the code from the now-enrolled authenticator.
  await page.goto(authorize.toString().replace(state, `${state}2`));
  await page.getByRole('link', { name: 'Continue with your certificate' }).click();
  assert.equal(await page.locator('h1').innerText(), 'Enter your one-time code');
  // The enrollment code's time step was used: wait for the next step if needed.
  let code = totp(key);
  await page.getByLabel('One-time code').fill(code);
  await page.getByRole('button', { name: 'Verify' }).click();
  if (await page.locator('h1').innerText() !== 'Continue?') {
    await new Promise((r) => setTimeout(r, 30_000 - (Date.now() % 30_000) + 500));
    code = totp(key);
    await page.getByLabel('One-time code').fill(code);
    await page.getByRole('button', { name: 'Verify' }).click();
  }
  assert.equal(await page.locator('h1').innerText(), 'Continue?');
  await page.getByRole('button', { name: /^Continue as/ }).click();
  await page.waitForURL(/\/callback/);
  const second = await tokenRequest({
    grant_type: 'authorization_code', code: rp.received.at(-1).code,
    redirect_uri: rp.redirectUri, code_verifier: verifier,
  });
  assert.equal(second.status, 200, JSON.stringify(second.body));
  const info = await (await fetch(`${certgate.webOrigin}/oauth2/userinfo`, {
    headers: { authorization: `Bearer ${second.body.access_token}` },
  })).json();
  assert.equal(info.upn, 'alice@contoso.example');

  // Refresh works, and rotates.
  const refreshed = await tokenRequest({ grant_type: 'refresh_token', refresh_token: second.body.refresh_token });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  assert.notEqual(refreshed.body.refresh_token, second.body.refresh_token);

  // An administrator revokes the user's sessions: the refresh token stops working at once.
  certgate.run('user', 'revoke-sessions', 'alice@contoso.example');
  await new Promise((r) => setTimeout(r, 1100));
  const revoked = await tokenRequest({ grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token });
  assert.equal(revoked.status, 400);
  assert.equal(revoked.body.error, 'invalid_grant');
  assert.match(revoked.body.error_description, /refresh-token-revoked-by-sts/);
  await context.close();
});
