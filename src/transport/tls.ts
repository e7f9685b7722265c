// TLS material for one listener and the clients that go with it (etcd's --peer-* and
// client flags), already read from disk: a property of the HTTP network, never of the seam.

export interface TlsFiles {
  /** PEM certificate chain this side presents (as a server, and as a client to peers). */
  cert: Buffer;
  /** PEM private key of `cert`. Never logged. */
  key: Buffer;
  /** PEM CA bundle that certificates of the other side must chain to; null: the system roots. */
  trustedCa: Buffer | null;
  /** Refuse, at the handshake, a client without a certificate signed by `trustedCa`. */
  clientCertAuth: boolean;
}

/** The part of node:tls options that both sides set (typed here: transport imports no node:tls). */
interface TlsContextOptions {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
  rejectUnauthorized: boolean;
}

/** What node:https / fastify's `https` option take to serve with `tls`. */
export function tlsServerOptions(tls: TlsFiles): TlsContextOptions & { requestCert: boolean } {
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.trustedCa !== null ? { ca: tls.trustedCa } : {}),
    requestCert: tls.clientCertAuth,
    rejectUnauthorized: tls.clientCertAuth,
  };
}

/** What a client of a peer takes: verify the server against the CA, present our own certificate. */
export function tlsClientOptions(tls: TlsFiles): TlsContextOptions {
  return {
    cert: tls.cert,
    key: tls.key,
    ...(tls.trustedCa !== null ? { ca: tls.trustedCa } : {}),
    rejectUnauthorized: true,
  };
}
