// The client library's public surface: the Client and the errors a caller tells apart.

export { Client, keyPath, type ClientOptions, type CallOptions, type PutOptions, type GetOptions, type Member, type NodeStatus, type MemberStatus, type EndpointHealth } from './client.ts';
export { ClientError, UnavailableError, UnknownOutcomeError, type Attempt } from './errors.ts';
export { parseEndpoint, parseEndpoints } from './endpoints.ts';
export type { ClientTls, ClientTransport, ClientRequest, AttemptOutcome } from './transport.ts';
export type { RetryEnv, RetryPolicy } from './retry.ts';
