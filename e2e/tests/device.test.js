// The self-service device page (/my/device) in a real browser: chromium signs in with the
// user's certificate, the form is filled by its labels and submitted from the keyboard, and the
// file the browser downloads is checked by real tools — the iOS configuration profile's CMS
// signature by `openssl smime -verify`, its plist by Python's plistlib, the PKCS#12 inside by
// `openssl pkcs12` with the password typed into the form; the Android profile as JSON. Wrong
// input and a missing certificate get pages with their reason codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Certgate, CHROMIUM } from './harness.js';

const UPN = 'alice@contoso.example';
const MAIL = 'alice.liddell@mail.contoso.example';
const DEVICE_PASSWORD = 'phone-password-1';

let certgate;
let browser;

before(async () => {
  certgate = await Certgate.create();
  certgate.alice = certgate.issue(UPN, 'alice-pw', MAIL);
  await certgate.serve();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  // The page signs in like /certauth, which needs the CRLs cached.
  for (let i = 0; i < 100; i++) {
    if (certgate.json('crl', 'status').every((row) => row.cached)) break;
    await new Promise((r) => setTimeout(r, 200));
  }
});

after(async () => {
  await browser?.close();
  await certgate?.stop();
});

async function open(clientCertificates) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    acceptDownloads: true,
    clientCertificates,
  });
  const page = await context.newPage();
  const response = await page.goto(`${certgate.certauthOrigin}/my/device`);
  return { context, page, status: response.status() };
}

const alice = () => [{ origin: certgate.certauthOrigin, pfxPath: certgate.alice, passphrase: 'alice-pw' }];

/** Fills the form by its labels and submits it with Enter; returns the download. */
async function fillAndDownload(page, device, host, password, confirm = password) {
  await page.getByLabel(device).check();
  await page.getByLabel('Exchange ActiveSync server (host name)').fill(host);
  await page.getByLabel(/^Password for the certificate file/).fill(password);
  const confirmField = page.getByLabel('The same password again');
  await confirmField.fill(confirm);
  const [download] = await Promise.all([page.waitForEvent('download'), confirmField.press('Enter')]);
  return download;
}

function run(command, args, input) {
  return execFileSync(command, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

test('iPhone: a signed configuration profile whose signature, plist and PKCS#12 check out', async () => {
  const { context, page, status } = await open(alice());
  assert.equal(status, 200);
  assert.equal(await page.locator('h1').innerText(), 'Set up a device');
  assert.match(await page.locator('main').innerText(), /Signed in as .*\(alice@contoso\.example\)/);
  const download = await fillAndDownload(page, /iPhone or iPad/, 'mail.contoso.example', DEVICE_PASSWORD);
  assert.match(download.suggestedFilename(), /\.mobileconfig$/);
  const signed = join(certgate.dir, 'alice.mobileconfig');
  await download.saveAs(signed);
  await context.close();

  // The CMS signature verifies up to certgate's root (the issuing CA signs: -purpose any).
  const plistPath = join(certgate.dir, 'alice.plist');
  const root = join(certgate.dir, 'data', 'pki', 'root.pem');
  run('openssl', ['smime', '-verify', '-inform', 'DER', '-in', signed, '-CAfile', root, '-purpose', 'any', '-out', plistPath]);
  // A changed byte fails it.
  const tampered = Buffer.from(readFileSync(signed));
  const at = tampered.indexOf('mail.contoso.example');
  assert.ok(at > 0);
  tampered[at] = 'M'.charCodeAt(0);
  const tamperedPath = join(certgate.dir, 'tampered.mobileconfig');
  writeFileSync(tamperedPath, tampered);
  assert.throws(() => run('openssl', ['smime', '-verify', '-inform', 'DER', '-in', tamperedPath, '-CAfile', root, '-purpose', 'any', '-out', '/dev/null']));

  // The plist, read by plistlib: the EAS account uses the PKCS#12 payload's certificate.
  const p12Path = join(certgate.dir, 'device.p12');
  const summary = JSON.parse(run('python3', ['-c', `
import json, plistlib, sys
profile = plistlib.load(open(sys.argv[1], 'rb'))
by_type = {p['PayloadType']: p for p in profile['PayloadContent']}
eas, p12 = by_type['com.apple.eas.account'], by_type['com.apple.security.pkcs12']
open(sys.argv[2], 'wb').write(p12['PayloadContent'])
print(json.dumps({'type': profile['PayloadType'], 'host': eas['Host'], 'ssl': eas['SSL'],
  'user': eas['UserName'], 'email': eas['EmailAddress'],
  'linked': eas['PayloadCertificateUUID'] == p12['PayloadUUID'], 'password': 'Password' in p12}))
`, plistPath, p12Path]));
  assert.deepEqual(summary, {
    type: 'Configuration', host: 'mail.contoso.example', ssl: true, user: UPN, email: MAIL,
    linked: true, password: false,
  });

  // The PKCS#12 opens with the password typed into the form and holds alice's new certificate.
  const certificate = run('openssl', ['pkcs12', '-in', p12Path, '-passin', `pass:${DEVICE_PASSWORD}`, '-nokeys', '-clcerts']);
  const text = run('openssl', ['x509', '-noout', '-ext', 'subjectAltName'], certificate);
  assert.match(text, new RegExp(`email:${MAIL.replace(/\./g, '\\.')}`));
  assert.throws(() => run('openssl', ['pkcs12', '-in', p12Path, '-passin', 'pass:wrong-password', '-nokeys']));
  // It is a new certificate of certgate's CA, listed for alice.
  const issued = certgate.json('pki', 'list').filter((c) => c.upn === UPN);
  assert.equal(issued.length, 2, JSON.stringify(issued));
});

test('Android: the JSON profile carries the host, the user and the PKCS#12', async () => {
  const { context, page } = await open(alice());
  const download = await fillAndDownload(page, /Android: a profile/, 'mail.contoso.example:8443', DEVICE_PASSWORD);
  const path = join(certgate.dir, 'alice.json');
  await download.saveAs(path);
  await context.close();
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  assert.equal(profile.type, 'exchange-activesync');
  assert.equal(profile.host, 'mail.contoso.example:8443');
  assert.equal(profile.user, UPN);
  assert.equal(profile.email, MAIL);
  assert.equal(profile.authentication, 'client-certificate');
  assert.equal(profile.certificate.password, undefined, 'the password is not embedded');
  const p12Path = join(certgate.dir, 'android.p12');
  writeFileSync(p12Path, Buffer.from(profile.certificate.pkcs12, 'base64'));
  run('openssl', ['pkcs12', '-in', p12Path, '-passin', `pass:${DEVICE_PASSWORD}`, '-nokeys']);
});

test('mistyped passwords and a bad host are refused with their reason codes; nothing is issued', async () => {
  const before = certgate.json('pki', 'list').length;
  const { context, page } = await open(alice());
  await page.getByLabel(/^Password for the certificate file/).fill(DEVICE_PASSWORD);
  await page.getByLabel('The same password again').fill(`${DEVICE_PASSWORD}-typo`);
  await page.getByRole('button', { name: 'Download' }).click();
  await page.waitForLoadState();
  assert.equal(await page.locator('h1').innerText(), 'Device set-up failed');
  assert.match(await page.getByRole('alert').innerText(), /The two passwords differ/);
  assert.match(await page.locator('main').innerText(), /device-p12-password-mismatch/);

  await page.getByRole('link', { name: 'Back to the form' }).click();
  await page.getByLabel('Exchange ActiveSync server (host name)').fill('https://mail.contoso.example/owa');
  await page.getByLabel(/^Password for the certificate file/).fill(DEVICE_PASSWORD);
  await page.getByLabel('The same password again').fill(DEVICE_PASSWORD);
  await page.getByRole('button', { name: 'Download' }).click();
  await page.waitForLoadState();
  assert.match(await page.locator('main').innerText(), /device-eas-host-invalid/);
  await context.close();
  assert.equal(certgate.json('pki', 'list').length, before);
});

test('without a certificate the page is the sign-in failure page', async () => {
  const { context, page, status } = await open([]);
  assert.equal(status, 401);
  assert.equal(await page.locator('h1').innerText(), 'Sign-in failed');
  assert.match(await page.locator('main').innerText(), /no-certificate/);
  assert.equal(await page.locator('form').count(), 0);
  await context.close();
});
