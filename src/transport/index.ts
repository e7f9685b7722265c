// Peer messaging: the sender side (PeerTransport, a client per peer), the receiver side
// (createPeerService: the routes under /raft as plain request → answer), the network seam
// between them (network.ts) and its HTTP implementation (undici out, fastify in).

export { PeerTransport, type TransportOptions } from './transport.ts';
export { PeerClient, DEFAULT_PEER_LIMITS, type PeerEvents, type PeerLimits, type PostFn } from './peer.ts';
export { createPeerService, type ClusterInfo, type PeerServerOptions } from './server.ts';
export { buildPeerApp, createHttpNetwork, httpNetwork, httpPeerApp } from './http-network.ts';
export { tlsClientOptions, tlsServerOptions, type TlsFiles } from './tls.ts';
export type * from './network.ts';
export { PeerError, PeerErrorTable, type PeerErrorCode } from './errors.ts';
export { coalesceMessages } from './coalesce.ts';
export * from './headers.ts';
export { fetchClusterInfo } from './join.ts';
