// Runs the pysaml2 service provider of e2e/saml_sp/ for the SAML browser test: a key and a
// self-signed certificate of its own (openssl), then `sp.py` with the Python of the venv that
// scripts/setup.sh makes (CERTGATE_SAML_SP_PYTHON overrides it).
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './harness.js';

const SP_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'saml_sp', 'sp.py');

export function spPython() {
  const python = process.env.CERTGATE_SAML_SP_PYTHON
    || join(homedir(), '.cache', 'certgate-venv', 'bin', 'python');
  if (!existsSync(python)) {
    throw new Error(`no Python with pysaml2 at ${python}: run scripts/setup.sh (or set CERTGATE_SAML_SP_PYTHON)`);
  }
  return python;
}

export class PysamlSp {
  /**
   * Starts the SP in `dir` for the IdP whose metadata is at `idpMetadataUrl` (HTTPS, its
   * certificate issued by the CA in `caFile`).
   */
  static async start({ dir, idpMetadataUrl, caFile }) {
    const self = new PysamlSp();
    mkdirSync(dir, { recursive: true });
    self.key = join(dir, 'sp.key');
    self.cert = join(dir, 'sp.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
      '-subj', '/CN=pysaml2 SP', '-keyout', self.key, '-out', self.cert,
    ], { stdio: 'ignore' });
    self.port = await freePort();
    self.origin = `http://127.0.0.1:${self.port}`;
    self.log = [];
    self.process = spawn(spPython(), [
      SP_SCRIPT, '--port', String(self.port), '--idp-metadata-url', idpMetadataUrl,
      '--ca-file', caFile, '--key', self.key, '--cert', self.cert,
      // As most SP libraries are set up: the Response must be signed too (certgate's default
      // for a SAML service provider).
      '--want-response-signed',
    ], { stdio: ['ignore', 'inherit', 'pipe'] });
    // Kept for failure messages, and shown as it comes when CERTGATE_E2E_VERBOSE is set.
    self.process.stderr.on('data', (chunk) => {
      self.log.push(chunk.toString());
      if (process.env.CERTGATE_E2E_VERBOSE) process.stderr.write(chunk);
    });
    const exited = new Promise((r) => self.process.once('exit', (code) => r(code)));
    self.exited = exited;
    const deadline = Date.now() + 20_000;
    for (;;) {
      try {
        const response = await fetch(`${self.origin}/healthz`);
        if (response.ok) break;
      } catch { /* not up yet */ }
      if (self.process.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the pysaml2 SP did not start:\n${self.log.join('')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    return self;
  }

  get entityId() {
    return `${this.origin}/metadata`;
  }

  async metadata() {
    const response = await fetch(`${this.origin}/metadata`);
    const text = await response.text();
    if (!response.ok) throw new Error(`the SP's metadata: ${response.status} ${text}`);
    return text;
  }

  /** The SP's log since `from` (an index into `log`). */
  output(from = 0) {
    return this.log.slice(from).join('');
  }

  async stop() {
    if (this.process && this.process.exitCode === null) {
      this.process.kill('SIGTERM');
      await this.exited;
    }
  }
}
