// Throwaway certificates for the TLS tests, made at run time with the openssl CLI in a temp
// dir: a CA, a certificate it signs for 127.0.0.1 (server and client use, shared by the test
// nodes), one for a client, and a second CA with a node certificate of its own (a stranger).

import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  dir: string;
  caCert: string;
  nodeCert: string;
  nodeKey: string;
  clientCert: string;
  clientKey: string;
  /** Signed by another CA, for 127.0.0.1 too: everything but the trust chain is right. */
  strangerCert: string;
  strangerKey: string;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    if (err.code === 'ENOENT') throw new Error('the TLS tests need the openssl CLI on PATH to make their certificates: install openssl');
    throw new Error(`openssl ${args.join(' ')} failed: ${err.stderr?.toString() ?? err.message}`);
  }
}

const KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', ...KEY_ARGS, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`], dir);
}

async function makeSigned(dir: string, ca: string, name: string): Promise<void> {
  openssl(['req', ...KEY_ARGS, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`], dir);
  await writeFile(
    join(dir, `${name}.ext`),
    'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n',
  );
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`], dir);
}

/** Make a fresh set in a new temp dir (the caller removes `dir`). */
export async function makeTestCertificates(): Promise<TestCertificates> {
  const dir = await mkdtemp(join(tmpdir(), 'raftexample-tls-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  await makeSigned(dir, 'ca', 'node');
  await makeSigned(dir, 'ca', 'client');
  await makeSigned(dir, 'other-ca', 'stranger');
  const at = (f: string) => join(dir, f);
  return {
    dir,
    caCert: at('ca.crt'),
    nodeCert: at('node.crt'),
    nodeKey: at('node.key'),
    clientCert: at('client.crt'),
    clientKey: at('client.key'),
    strangerCert: at('stranger.crt'),
    strangerKey: at('stranger.key'),
  };
}
