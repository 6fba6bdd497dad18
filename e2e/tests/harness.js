// Runs the certgate binary for the browser tests: a data directory of its own, certgate's
// demo-style CA, TLS certificates from it, and `certgate serve` with the certificate sign-in
// listener. Debian's chromium is driven by playwright-core (its own browser downloads are not
// used).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

export function certgateBinary() {
  if (process.env.CERTGATE_BIN) return process.env.CERTGATE_BIN;
  const target = process.env.CARGO_TARGET_DIR || resolve('..', 'target');
  const binary = join(target, 'debug', 'certgate');
  if (!existsSync(binary)) {
    throw new Error(`certgate binary not found at ${binary}: build it (cargo build -p certgate) or set CERTGATE_BIN`);
  }
  return binary;
}

export function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** A certgate installation in a temporary directory. */
export class Certgate {
  static async create() {
    const self = new Certgate();
    self.dir = mkdtempSync(join(tmpdir(), 'certgate-e2e-'));
    self.httpPort = await freePort();
    self.certauthPort = await freePort();
    self.webPort = await freePort();
    self.env = {
      ...process.env,
      CERTGATE_DATA_DIR: join(self.dir, 'data'),
      CERTGATE_DATABASE_URL: `sqlite://${join(self.dir, 'data', 'certgate.db')}`,
      CERTGATE_CA_KEY_PASSPHRASE: 'e2e-passphrase',
      CERTGATE_LISTEN: `127.0.0.1:${self.httpPort}`,
      CERTGATE_CERTAUTH_LISTEN: `127.0.0.1:${self.certauthPort}`,
      CERTGATE_TLS_CERTIFICATE: join(self.dir, 'tls', 'localhost.pem'),
      CERTGATE_TLS_KEY: join(self.dir, 'tls', 'localhost.key'),
      CERTGATE_WEB_LISTEN: `127.0.0.1:${self.webPort}`,
      CERTGATE_WEB_PUBLIC_URL: `https://localhost:${self.webPort}`,
    };
    self.run('pki', 'init', '--organization', 'Contoso', '--trust');
    self.run('pki', 'issue-server', '--dns', 'localhost', '--ip', '127.0.0.1', '--out', join(self.dir, 'tls'));
    return self;
  }

  run(...args) {
    return execFileSync(certgateBinary(), args, { env: this.env, encoding: 'utf8' });
  }

  json(...args) {
    return JSON.parse(this.run(...args, '--json'));
  }

  /** Issues a user certificate; returns the PKCS#12 path. */
  issue(upn, password, mail = upn) {
    const out = join(this.dir, 'users');
    this.run('user', 'add', upn, '--mail', mail);
    this.run('pki', 'issue', '--upn', upn, '--email', mail, '--out', out, '--p12-password', password);
    return join(out, `${upn}.p12`);
  }

  async serve() {
    this.server = spawn(certgateBinary(), ['serve'], { env: this.env, stdio: ['ignore', 'pipe', 'inherit'] });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const response = await fetch(`http://127.0.0.1:${this.httpPort}/healthz`);
        if (response.ok) break;
      } catch { /* not up yet */ }
      if (Date.now() > deadline) throw new Error('certgate serve did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  get certauthOrigin() {
    return `https://localhost:${this.certauthPort}`;
  }

  get webOrigin() {
    return `https://localhost:${this.webPort}`;
  }

  async stop() {
    if (this.server) {
      this.server.kill('SIGTERM');
      await new Promise((r) => this.server.once('exit', r));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
