// The domain password after the certificate, in a real browser against a real Samba AD DC:
// a WS-Federation relying party set to `--password-requests domain-password` asks for a
// password (`wauth=urn:oasis:names:tc:SAML:1.0:am:password`, what Entra sends under
// PromptLoginBehavior TranslateToFreshPasswordAuth); the browser signs in with alice's
// certificate, gets the password page, a wrong password is refused with its reason code, and
// the right one (checked by a bind as alice against the DC over LDAPS) ends in a token that
// states the password method next to the certificate.
//
// The DC listens on 389 and 636 like the Rust tests' DC (crates/certgate-ldap/tests/samba_dc),
// so it runs under the same machine-wide lock file (`flock`, as Rust's File::lock takes it):
// the two never run at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:https';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, existsSync, openSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { Certgate, CHROMIUM, freePort } from './harness.js';

const REALM = 'CERTGATE.TEST';
const BASE_DN = 'DC=certgate,DC=test';
const ADMIN_PASSWORD = 'Adm1n-Pass!word';
const ALICE_PASSWORD = 'Al1ce-Domain!pw';
const LOCK_FILE = join(process.env.TMPDIR || tmpdir(), 'certgate-samba-dc.lock');

let certgate;
let browser;
let relyingParty;
let samba;

function sbin(tool) {
  for (const dir of ['/usr/sbin', '/usr/bin', '/sbin']) {
    if (existsSync(join(dir, tool))) return join(dir, tool);
  }
  throw new Error(`${tool} is not installed: apt-get install samba samba-ad-dc ldap-utils winbind (scripts/setup.sh)`);
}

function portAnswers(port) {
  return new Promise((done) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); done(true); });
    socket.once('error', () => done(false));
  });
}

function ldapEnv(caFile) {
  return { ...process.env, LDAPTLS_CACERT: caFile, LDAPTLS_REQCERT: 'demand' };
}

/** Provisions a DC in `dir` with certgate's TLS certificate for 127.0.0.1, starts it under
 * the lock, waits until LDAPS answers, and adds alice with her domain password. */
async function startDomainController(dir) {
  const tls = join(dir, 'tls');
  certgate.run('pki', 'issue-server', '--dns', 'dc1.certgate.test', '--ip', '127.0.0.1', '--out', tls);
  const chain = readFileSync(join(tls, 'dc1.certgate.test.pem'), 'utf8');
  // The chain file holds the DC's certificate, then its issuing CA: the CA is the trust anchor.
  const issuing = chain.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g)[1];
  const caFile = join(tls, 'ca.pem');
  writeFileSync(caFile, issuing);
  const target = join(dir, 'dc');
  execFileSync(sbin('samba-tool'), [
    'domain', 'provision', `--realm=${REALM}`, '--domain=CERTGATE', '--server-role=dc',
    '--dns-backend=NONE', '--host-name=dc1', '--host-ip=127.0.0.1', `--targetdir=${target}`,
    `--adminpass=${ADMIN_PASSWORD}`, '--option=interfaces=lo', '--option=bind interfaces only=yes',
    '--option=netbios name=DC1', `--option=log file=${dir}/log.%m`, '--option=tls enabled=yes',
    `--option=tls keyfile=${join(tls, 'dc1.certgate.test.key')}`,
    `--option=tls certfile=${join(tls, 'dc1.certgate.test.pem')}`,
    `--option=tls cafile=${caFile}`,
  ], { stdio: 'ignore' });
  // flock holds the lock as long as samba runs; samba stops when its standard input (a pipe
  // of this process) closes.
  // Under the lock, the previous holder's DC may still be closing its ports: wait for them.
  const log = openSync(join(dir, 'samba.out'), 'w');
  samba = spawn('flock', [LOCK_FILE, 'sh', '-c',
    'for i in $(seq 75); do ss -ltn | grep -qE "127.0.0.1:(389|636) " || break; sleep 0.2; done; exec "$0" "$@"',
    sbin('samba'), '-s', join(target, 'etc', 'smb.conf'), '-i', '-M', 'single'],
  { stdio: ['pipe', log, log] });
  const deadline = Date.now() + 300_000;
  for (;;) {
    if (samba.exitCode !== null) {
      throw new Error(`samba exited (${samba.exitCode}):\n${readFileSync(join(dir, 'samba.out'), 'utf8')}`);
    }
    if (await portAnswers(636)) {
      try {
        execFileSync('ldapsearch', ['-LLL', '-H', 'ldaps://127.0.0.1', '-D', `Administrator@${REALM.toLowerCase()}`,
          '-w', ADMIN_PASSWORD, '-b', BASE_DN, '-s', 'base', '(objectClass=*)', 'dn'],
        { env: ldapEnv(caFile), stdio: 'ignore' });
        break;
      } catch { /* not ready yet, or another DC holds the ports until its lock is freed */ }
    }
    if (Date.now() > deadline) throw new Error('the Samba DC did not answer LDAPS');
    await new Promise((r) => setTimeout(r, 250));
  }
  const unicodePwd = Buffer.from(`"${ALICE_PASSWORD}"`, 'utf16le').toString('base64');
  const ldif = join(dir, 'alice.ldif');
  writeFileSync(ldif, [
    `dn: OU=Staff,${BASE_DN}`, 'changetype: add', 'objectClass: organizationalUnit', '',
    `dn: CN=alice,OU=Staff,${BASE_DN}`, 'changetype: add', 'objectClass: user', 'sAMAccountName: alice',
    'userPrincipalName: alice@contoso.example', `unicodePwd:: ${unicodePwd}`, 'userAccountControl: 512', '',
    `dn: OU=Synced,${BASE_DN}`, 'changetype: add', 'objectClass: organizationalUnit', '', '',
  ].join('\n'));
  execFileSync('ldapmodify', ['-H', 'ldaps://127.0.0.1', '-D', `Administrator@${REALM.toLowerCase()}`,
    '-w', ADMIN_PASSWORD, '-f', ldif], { env: ldapEnv(caFile), stdio: 'ignore' });
  return caFile;
}

async function startRelyingParty(tlsDir) {
  const port = await freePort();
  const received = [];
  const server = createServer({
    cert: readFileSync(join(tlsDir, 'localhost.pem')),
    key: readFileSync(join(tlsDir, 'localhost.key')),
  }, (request, response) => {
    let body = '';
    request.on('data', (chunk) => { body += chunk; });
    request.on('end', () => {
      if (request.method === 'POST') received.push(Object.fromEntries(new URLSearchParams(body)));
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<!doctype html><title>RP</title><h1>Relying party</h1>');
    });
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { received, server, origin: `https://localhost:${port}` };
}

before(async () => {
  certgate = await Certgate.create();
  certgate.alice = certgate.issue('alice@contoso.example', 'alice-pw');
  const dcDir = join(certgate.dir, 'samba');
  mkdirSync(dcDir);
  const caFile = await startDomainController(dcDir);
  const passwordFile = join(certgate.dir, 'ldap-password');
  writeFileSync(passwordFile, `${ADMIN_PASSWORD}\n`, { mode: 0o600 });
  // The directory source: alice stays a local user (the sync reads an empty OU); the same
  // source checks domain passwords.
  writeFileSync(join(certgate.dir, 'data', 'certgate.toml'), [
    '[directory.ldap]',
    'url = "ldaps://127.0.0.1"',
    `ca_file = "${caFile}"`,
    `bind_dn = "Administrator@${REALM.toLowerCase()}"`,
    `bind_password_file = "${passwordFile}"`,
    `base_dn = "OU=Synced,${BASE_DN}"`,
    '',
  ].join('\n'));
  relyingParty = await startRelyingParty(join(certgate.dir, 'tls'));
  certgate.run('rp', 'add', 'wsfed', '--name', 'Mail', '--realm', 'urn:test:mail',
    '--reply', `${relyingParty.origin}/wsfed`,
    '--claim', 'http://schemas.microsoft.com/claims/authnmethodsreferences=auth.methodsReferences', '--json');
  certgate.run('rp', 'set', 'Mail', '--password-requests', 'domain-password');
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
  relyingParty?.server.close();
  // The DC first: its files are in certgate's temporary directory.
  if (samba && samba.exitCode === null) {
    const exited = new Promise((r) => samba.once('exit', r));
    samba.stdin.end();
    await exited;
  }
  await certgate?.stop();
});

test('a WS-Federation password request is met by the certificate plus the domain password', async () => {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    clientCertificates: [{ origin: certgate.certauthOrigin, pfxPath: certgate.alice, passphrase: 'alice-pw' }],
  });
  const page = await context.newPage();
  const start = new URL(`${certgate.webOrigin}/federation/wsfed`);
  start.searchParams.set('wa', 'wsignin1.0');
  start.searchParams.set('wtrealm', 'urn:test:mail');
  start.searchParams.set('wauth', 'urn:oasis:names:tc:SAML:1.0:am:password');
  start.searchParams.set('wfresh', '0');
  await page.goto(start.toString());
  await page.getByRole('link', { name: 'Continue with your certificate' }).click();

  // After the certificate: the password page.
  const password = page.getByLabel('Domain password');
  await password.waitFor();
  assert.match(await page.locator('main').innerText(), /alice@contoso\.example/);
  await password.fill('Not-the-Passw0rd');
  await page.getByRole('button', { name: 'Sign in' }).click();
  assert.match(await page.getByRole('alert').innerText(), /\(domain-password-wrong\)/);
  assert.equal(relyingParty.received.length, 0, 'no token after a wrong password');

  await page.getByLabel('Domain password').fill(ALICE_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${relyingParty.origin}/wsfed`);
  const posted = relyingParty.received.at(-1);
  assert.equal(posted.wa, 'wsignin1.0');
  assert.match(posted.wresult, /AuthenticationMethod="urn:oasis:names:tc:SAML:1\.0:am:password"/);
  for (const method of [
    'http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/tlsclient',
    'http://schemas.microsoft.com/ws/2008/06/identity/authenticationmethod/password',
  ]) {
    assert.ok(posted.wresult.includes(`<saml:AttributeValue>${method}</saml:AttributeValue>`), method);
  }
  assert.ok(!posted.wresult.includes(ALICE_PASSWORD));
  const audit = certgate.run('audit', '--limit', '50');
  assert.match(audit, /signin\.domain-password/);
  assert.ok(!audit.includes(ALICE_PASSWORD) && !audit.includes('Not-the-Passw0rd'));
  await context.close();
});
