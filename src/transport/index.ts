// Peer messaging over HTTP: the sender side (PeerTransport, one undici pool per peer)
// and the receiver side (buildPeerApp, fastify routes under /raft).

export { PeerTransport, type TransportOptions } from './transport.ts';
export { PeerClient, DEFAULT_PEER_LIMITS, type PeerEvents, type PeerLimits, type PostFn } from './peer.ts';
export { buildPeerApp, type ClusterInfo, type PeerServerOptions } from './server.ts';
export * from './headers.ts';
export { fetchClusterInfo } from './join.ts';
