// Reading the TLS flags' files at start-up, before anything listens: a file that cannot be
// read or used is a ConfigError (exit 2, one line), never a stack trace, and never the key.

import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError, type TlsPaths } from './config.ts';
import type { TlsFiles } from './transport/tls.ts';

/**
 * Read one listener's certificate, key and CA. A file that cannot be read is a ConfigError
 * naming the flag, the path and the reason (never the contents: the key is a secret).
 */
export function readTlsFiles(paths: TlsPaths, prefix: 'peer-' | ''): TlsFiles {
  const read = (name: string, path: string): Buffer => {
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      throw new ConfigError(`--${prefix}${name} ${path}: cannot read it (${err.code ?? err.message})`);
    }
    if (!data.includes('-----BEGIN ')) throw new ConfigError(`--${prefix}${name} ${path}: not a PEM file`);
    return data;
  };
  const files: TlsFiles = {
    cert: read('cert-file', paths.certFile),
    key: read('key-file', paths.keyFile),
    trustedCa: paths.trustedCaFile === null ? null : read('trusted-ca-file', paths.trustedCaFile),
    clientCertAuth: paths.clientCertAuth,
  };
  try {
    // OpenSSL's reason (a key that is not the certificate's, a bad PEM block) names no secret.
    createSecureContext({ cert: files.cert, key: files.key, ...(files.trustedCa !== null ? { ca: files.trustedCa } : {}) });
  } catch (e) {
    throw new ConfigError(`--${prefix}cert-file, --${prefix}key-file, --${prefix}trusted-ca-file: not usable for TLS (${(e as Error).message.split('\n')[0]})`);
  }
  return files;
}
