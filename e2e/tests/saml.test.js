// SAML 2.0 single sign-on in a real browser against a service provider built with pysaml2
// (e2e/saml_sp), registered with `certgate rp add saml --metadata` from its own metadata: the
// SP sends a signed AuthnRequest (HTTP-Redirect binding, rsa-sha256; and HTTP-POST with the
// signature in the XML), chromium signs in with the user's certificate (playwright-core's
// clientCertificates), and certgate posts a signed assertion to the SP's ACS, which pysaml2
// verifies with xmlsec1 against the signing certificate from certgate's signed metadata. The
// SP shows the NameID and the attributes it read. Requests with a broken or no signature are
// refused; a changed response is refused by the SP; after the user's certificate is revoked
// the next sign-in is refused with cert-revoked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Certgate, CHROMIUM } from './harness.js';
import { PysamlSp } from './saml_sp.js';

const UPN = 'alice@contoso.example';
const MAIL = 'alice.liddell@mail.contoso.example';
const SERIAL_CLAIM = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/serialnumber';
const EMAIL_FORMAT = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress';

let certgate;
let browser;
let sp;
let spLogFrom = 0;

before(async () => {
  certgate = await Certgate.create();
  certgate.alice = certgate.issue(UPN, 'alice-pw', MAIL);
  await certgate.serve();
  // The TLS chain's CAs, for the SP's HTTPS fetch of certgate's metadata.
  const caFile = join(certgate.dir, 'ca-bundle.pem');
  const pki = join(certgate.dir, 'data', 'pki');
  writeFileSync(caFile, ['root.pem', 'issuing.pem'].map((f) => readFileSync(join(pki, f), 'utf8')).join(''));
  sp = await PysamlSp.start({
    dir: join(certgate.dir, 'sp'),
    idpMetadataUrl: `${certgate.webOrigin}/federation/saml/metadata`,
    caFile,
  });
  // The SP is registered from its metadata: entity ID, ACS, its signing certificate and
  // AuthnRequestsSigned come from there.
  const metadataFile = join(certgate.dir, 'sp-metadata.xml');
  writeFileSync(metadataFile, await sp.metadata());
  certgate.rp = certgate.json(
    'rp', 'add', 'saml', '--metadata', metadataFile, '--name', 'pysaml2 SP',
    '--name-id-format', 'email', '--name-id-source', 'user.mail',
    '--claim', 'upn=user.upn', '--claim', `${SERIAL_CLAIM}=certificate.serialNumber`,
    '--require-signed-requests',
  );
  // From the metadata: the entity ID, the ACS and the SP's signing certificate.
  const spCertificate = readFileSync(sp.cert, 'utf8').replace(/-----[A-Z ]+-----|\s/g, '');
  assert.equal(certgate.rp.identifier, sp.entityId);
  assert.deepEqual(certgate.rp.replyUrls, [`${sp.origin}/acs`]);
  assert.deepEqual(certgate.rp.requestCertificates, [spCertificate]);
  assert.equal(certgate.rp.requireSignedRequests, true);
  for (let i = 0; i < 100; i++) {
    const rows = certgate.json('crl', 'status');
    if (rows.every((row) => row.cached)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await sp?.stop();
  await certgate?.stop();
});

/**
 * One sign-in at the SP: /login → certgate's start page → certificate → back to the SP.
 * Returns the page, and the AuthnRequest as it reached certgate (URL, method, form).
 */
async function signIn(relay, binding = 'redirect') {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    clientCertificates: [
      { origin: certgate.certauthOrigin, pfxPath: certgate.alice, passphrase: 'alice-pw' },
    ],
  });
  const page = await context.newPage();
  const sso = [];
  const acs = [];
  page.on('request', (request) => {
    if (request.url().startsWith(`${certgate.webOrigin}/federation/saml/sso`)) {
      sso.push({ url: new URL(request.url()), method: request.method(), form: new URLSearchParams(request.postData() ?? '') });
    }
    if (request.url() === `${sp.origin}/acs`) acs.push(new URLSearchParams(request.postData() ?? ''));
  });
  spLogFrom = sp.log.length;
  await page.goto(`${sp.origin}/login?binding=${binding}&relay=${encodeURIComponent(relay)}`);
  await page.waitForURL((url) => url.origin === certgate.webOrigin);
  // certgate's start page for this relying party (a refusal page has no #continue).
  const start = new URL(page.url());
  assert.equal(start.origin, certgate.webOrigin, await page.locator('body').innerText());
  assert.equal(
    await page.locator('#continue').count(), 1,
    `certgate's start page has no #continue link:\n${await page.locator('body').innerText()}`,
  );
  await page.locator('#continue').click();
  // The end: the SP's page (result or error), or a certgate page that refused the sign-in
  // (role=alert, with the reason code); not the auto-submitting form on the way.
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      await page.waitForLoadState('load');
      if (await page.locator('#result, #error, [role=alert]').count()) break;
    } catch { /* navigating */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { context, page, sso, acs };
}

/** The SP's result page, or a failure with what the SP and the page said. */
async function result(page) {
  const url = new URL(page.url());
  const error = await page.locator('#error').count() ? await page.locator('#error').innerText() : null;
  assert.equal(error, null, `pysaml2 refused the response: ${error}\n${sp.output(spLogFrom)}`);
  assert.equal(`${url.origin}${url.pathname}`, `${sp.origin}/acs`,
    `the browser did not reach the SP's ACS:\n${await page.locator('body').innerText()}`);
  return JSON.parse(await page.locator('#result').innerText());
}

/** certgate's refusal page for an AuthnRequest sent as `url` (no certificate needed). */
async function refusalFor(url) {
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const response = await page.goto(url);
  const text = await page.locator('body').innerText();
  await context.close();
  return { status: response.status(), text };
}

/** A fresh signed AuthnRequest from the SP, by the HTTP-Redirect binding, not followed. */
async function redirectRequest() {
  const response = await fetch(`${sp.origin}/login?relay=r`, { redirect: 'manual' });
  assert.equal(response.status, 303);
  return new URL(response.headers.get('location'));
}

test('pysaml2 SP: signed AuthnRequest, certificate sign-in, verified assertion with NameID and attributes', async () => {
  const relay = `/after-login?x=${Date.now()}`;
  const { context, page, sso, acs } = await signIn(relay);
  // The AuthnRequest came by the HTTP-Redirect binding, signed with rsa-sha256 in the query.
  assert.equal(sso.length, 1);
  assert.equal(sso[0].method, 'GET');
  assert.ok(sso[0].url.searchParams.get('SAMLRequest'));
  assert.equal(sso[0].url.searchParams.get('SigAlg'), 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
  assert.ok(sso[0].url.searchParams.get('Signature'));
  assert.equal(sso[0].url.searchParams.get('RelayState'), relay);
  const got = await result(page);

  const [issued] = certgate.json('pki', 'list').filter((c) => c.upn === UPN);
  const p12 = execFileSync('openssl', [
    'pkcs12', '-in', certgate.alice, '-passin', 'pass:alice-pw', '-nokeys', '-clcerts',
  ], { encoding: 'utf8' });
  const serial = execFileSync('openssl', ['x509', '-noout', '-serial'], { input: p12, encoding: 'utf8' })
    .trim().replace(/^serial=/, '');
  // certgate's serialnumber claim: the serial in upper-case hex.
  assert.equal(got.attributes[SERIAL_CLAIM].length, 1);
  const [serialClaim] = got.attributes[SERIAL_CLAIM];
  assert.match(serialClaim, /^[0-9A-F]+$/);
  assert.equal(serialClaim, issued.serial.toUpperCase());
  assert.equal(serialClaim.replace(/^0+/, ''), serial.replace(/^0+/, ''));

  assert.equal(got.issuer, `${certgate.webOrigin}/federation`);
  assert.equal(got.name_id, MAIL);
  assert.equal(got.name_id_format, EMAIL_FORMAT);
  assert.deepEqual(got.attributes.upn, [UPN]);
  assert.deepEqual(
    got.raw_attributes.map((a) => a.name).sort(),
    ['upn', SERIAL_CLAIM].sort(),
  );
  // pysaml2 (want_assertions_signed, want_response_signed) verified the Assertion's
  // signature and the Response's (signed by default for a SAML service provider) with xmlsec1
  // against the certificate from certgate's metadata.
  assert.equal(got.assertion_signed, true);
  assert.equal(got.response_signed, true);
  // InResponseTo is the SP's request, the RelayState came back as sent, the audience is the SP.
  assert.ok(got.in_response_to);
  assert.equal(got.request_relay_state, relay);
  assert.equal(got.relay_state, relay);
  assert.deepEqual(got.audience, [sp.entityId]);
  assert.deepEqual(got.authn_context, ['urn:oasis:names:tc:SAML:2.0:ac:classes:X509']);
  await context.close();

  // The SP does check that signature: the same response with another NameID is refused.
  assert.equal(acs.length, 1);
  const xml = Buffer.from(acs[0].get('SAMLResponse'), 'base64').toString('utf8');
  assert.ok(xml.includes(`>${MAIL}</`));
  const forged = Buffer.from(xml.replace(`>${MAIL}</`, '>mallory@contoso.example</')).toString('base64');
  const replay = await fetch(`${sp.origin}/acs`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ SAMLResponse: forged, RelayState: relay }),
  });
  const refusal = await replay.text();
  assert.equal(replay.status, 400, refusal);
  assert.match(refusal, /id="error"[^]*[Ss]ignature/, refusal);
});

test('HTTP-POST binding: an AuthnRequest signed inside the XML is accepted as well', async () => {
  const relay = 'post-binding';
  const { context, page, sso } = await signIn(relay, 'post');
  assert.equal(sso.length, 1);
  assert.equal(sso[0].method, 'POST');
  const request = Buffer.from(sso[0].form.get('SAMLRequest'), 'base64').toString('utf8');
  assert.match(request, /<(\w+:)?Signature[\s>]/);
  assert.match(request, /xmldsig-more#rsa-sha256/);
  assert.equal(sso[0].form.get('RelayState'), relay);
  const got = await result(page);
  assert.equal(got.name_id, MAIL);
  assert.equal(got.relay_state, relay);
  assert.equal(got.request_relay_state, relay);
  await context.close();
});

test('a request whose signature does not verify, or that is unsigned, is refused', async () => {
  // The SP's RelayState changed after signing: the query signature no longer verifies.
  const tampered = await redirectRequest();
  tampered.searchParams.set('RelayState', 'changed');
  const bad = await refusalFor(tampered.toString());
  assert.equal(bad.status, 403, bad.text);
  assert.match(bad.text, /signature of pysaml2 SP's sign-in request is not valid/, bad.text);
  assert.match(bad.text, /Reason code: \S+/);
  // Without SigAlg and Signature: the SP is registered with signed requests required.
  const unsigned = await redirectRequest();
  unsigned.searchParams.delete('SigAlg');
  unsigned.searchParams.delete('Signature');
  const refused = await refusalFor(unsigned.toString());
  assert.equal(refused.status, 403, refused.text);
  assert.match(refused.text, /saml-request-unsigned/);
});

test('a revoked certificate: the next SSO is refused with cert-revoked', async () => {
  const [alice] = certgate.json('pki', 'list').filter((c) => c.upn === UPN);
  certgate.run('pki', 'revoke', '--serial', alice.serial, '--reason', 'keyCompromise');
  certgate.run('pki', 'crl');
  certgate.run('crl', 'refresh');
  // The server picks the new CRL up within its job tick (2 s).
  let seen;
  let where;
  for (let i = 0; i < 50; i++) {
    const { context, page } = await signIn(`revoked-${i}`);
    where = page.url();
    seen = await page.locator('body').innerText();
    await context.close();
    if (/cert-revoked/.test(seen)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(seen, /cert-revoked/, `no cert-revoked at ${where}:\n${seen}`);
  assert.match(seen, /Ask your administrator for a new one/);
  // Nothing reached the SP's ACS.
  assert.ok(!where.startsWith(`${sp.origin}/acs`), where);
});
