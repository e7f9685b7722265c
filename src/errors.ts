// The one table of service errors: stable code → HTTP status → short message.
// The client API and start-up raise ServiceError with a code from here, so the status a
// client sees is decided in exactly one place. (Peers speak the transport's own errors,
// src/transport/errors.ts.)

export const ErrorTable = {
  ERR_BAD_REQUEST: { status: 400, message: 'bad request' },
  ERR_BAD_PATH: { status: 400, message: 'bad path: malformed percent-encoding' },
  ERR_BAD_NODE_ID: { status: 400, message: 'bad node id: want a positive integer' },
  ERR_BAD_PEER_URL: { status: 400, message: 'bad peer URL: want http://host:port or https://host:port' },
  ERR_PEER_URL_SCHEME: { status: 400, message: 'peer URL scheme is not this cluster\'s: https:// with peer TLS, http:// without' },
  ERR_BAD_TRANSFER_TARGET: { status: 400, message: 'bad transfer target: want ?to=<id> of a voter' },
  ERR_RESERVED_PATH: { status: 400, message: 'paths under /-/ are reserved' },
  ERR_KEY_NOT_FOUND: { status: 404, message: 'Failed to GET' },
  ERR_NOT_FOUND: { status: 404, message: 'not found' },
  ERR_MEMBER_NOT_FOUND: { status: 404, message: 'no such member' },
  ERR_METHOD_NOT_ALLOWED: { status: 405, message: 'Method not allowed' },
  ERR_MEMBER_EXISTS: { status: 409, message: 'member already exists' },
  ERR_PEER_URL_EXISTS: { status: 409, message: 'peer URL already used by another member' },
  ERR_MEMBER_ID_REMOVED: { status: 409, message: 'member id was removed: ids are single-use, pick a new one' },
  ERR_TOO_MANY_MEMBERS: { status: 409, message: 'too many members (or removed ids) for the snapshot to carry' },
  ERR_MEMBER_IS_VOTER: { status: 409, message: 'member is already a voter' },
  ERR_LEARNER_NOT_READY: { status: 409, message: 'learner has not caught up with the leader yet; try again later' },
  ERR_TRANSFER_TO_LEARNER: { status: 409, message: 'cannot transfer leadership to a learner' },
  ERR_LAST_VOTER: { status: 409, message: 'cannot remove the last voter: nobody would be left to commit' },
  ERR_TOO_LARGE: { status: 413, message: 'request too large' },
  ERR_KEY_TOO_LONG: { status: 414, message: 'key too long' },
  ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'want application/octet-stream' },
  ERR_INTERNAL: { status: 500, message: 'internal error' },
  ERR_STORE_FULL: { status: 507, message: 'store full: a snapshot could not carry the state with this write' },
  // 503: the request certainly did not and will not take effect; retrying is safe.
  ERR_NO_LEADER: { status: 503, message: 'no leader; not applied' },
  ERR_STOPPING: { status: 503, message: 'server is stopping; not applied' },
  ERR_OVERLOADED: { status: 503, message: 'too many requests waiting; not applied' },
  ERR_NOT_LEADER: { status: 503, message: 'only the leader can decide this (it knows how far each member is); send it to the leader' },
  ERR_TRANSFER_REFUSED: { status: 503, message: 'leader transfer refused; leadership did not move' },
  ERR_NOT_PROPOSED: { status: 503, message: 'request timed out before it was proposed; not applied' },
  ERR_LATE_PROPOSAL: { status: 503, message: 'write reached the log too late to be told from a copy of itself; not applied' },
  // 504: the outcome is unknown: the request was proposed and may still commit.
  ERR_TIMEOUT: { status: 504, message: 'request timed out; outcome unknown, it may still be applied' },
  ERR_STOPPING_IN_FLIGHT: { status: 504, message: 'server is stopping; outcome unknown, it may still be applied' },
  ERR_TRANSFER_TIMEOUT: { status: 504, message: 'leader transfer timed out; leadership may still move' },
  ERR_READ_TIMEOUT: { status: 504, message: 'read timed out' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ErrorTable;

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_S = 1;

export class ServiceError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, detail?: string) {
    const base = ErrorTable[code].message;
    super(detail === undefined ? base : `${base}: ${detail}`);
    this.name = 'ServiceError';
    this.code = code;
    this.status = ErrorTable[code].status;
  }
}

export function isServiceError(e: unknown, code?: ErrorCode): e is ServiceError {
  return e instanceof ServiceError && (code === undefined || e.code === code);
}

/** The status and body for any error: ServiceErrors as tabled, fastify's own by their status. */
export function toHttpError(e: unknown): { status: number; code: ErrorCode; message: string } {
  if (e instanceof ServiceError) return { status: e.status, code: e.code, message: e.message };
  const status = (e as { statusCode?: unknown } | null)?.statusCode;
  if (status === 413) return fromCode('ERR_TOO_LARGE');
  if (status === 415) return fromCode('ERR_UNSUPPORTED_MEDIA_TYPE');
  if (status === 405) return fromCode('ERR_METHOD_NOT_ALLOWED');
  if (status === 404) return fromCode('ERR_NOT_FOUND');
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return { status, code: 'ERR_BAD_REQUEST', message: ErrorTable.ERR_BAD_REQUEST.message };
  }
  return fromCode('ERR_INTERNAL');
}

function fromCode(code: ErrorCode): { status: number; code: ErrorCode; message: string } {
  return { status: ErrorTable[code].status, code, message: ErrorTable[code].message };
}
