// The transport's own errors: why a peer request was refused, with the HTTP status the
// receiver answers. The client-facing error table (src/errors.ts) is the service's; peers
// speak only these.

export const PeerErrorTable = {
  PEER_BAD_REQUEST: { status: 400, message: 'bad peer request' },
  PEER_NOT_FOUND: { status: 404, message: 'no such peer route' },
  PEER_MEMBER_REMOVED: { status: 410, message: 'the member has been permanently removed from the cluster' },
  PEER_CLUSTER_ID_MISMATCH: { status: 412, message: 'cluster id mismatch' },
  PEER_WRONG_RECIPIENT: { status: 412, message: 'message sent to the wrong member' },
  PEER_TOO_LARGE: { status: 413, message: 'peer request too large' },
  PEER_OVERLOADED: { status: 503, message: 'too many peer requests at once; try again' },
  PEER_INTERNAL: { status: 500, message: 'internal error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type PeerErrorCode = keyof typeof PeerErrorTable;

export class PeerError extends Error {
  readonly code: PeerErrorCode;
  readonly status: number;

  constructor(code: PeerErrorCode, detail?: string) {
    const base = PeerErrorTable[code].message;
    super(detail === undefined ? base : `${base}: ${detail}`);
    this.name = 'PeerError';
    this.code = code;
    this.status = PeerErrorTable[code].status;
  }
}
