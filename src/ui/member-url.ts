// Where the node serving the page reaches another member's client API: the clientURL the
// member published through Raft (in /-/members) when there is one; otherwise (a member not
// ready yet, or of an older version) raftexample's own layout, the peer URL's host with the
// next port (peers 12379 → clients 12380).

import type { Member } from '../node/status.ts';

/** The base URL (no trailing slash) of the member's client API, or null if none can be told. */
export function memberClientUrl(member: Member, clientScheme: 'http:' | 'https:'): string | null {
  if (member.clientURL !== undefined && member.clientURL !== '') {
    const published = httpUrl(member.clientURL);
    if (published !== null) return published;
  }
  const peer = httpUrl(member.peerURL);
  if (peer === null) return null;
  const url = new URL(peer);
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  if (port >= 65535) return null;
  url.protocol = clientScheme;
  url.port = String(port + 1);
  return url.origin;
}

/** The origin of an http(s) URL, or null for anything else. */
function httpUrl(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username !== '' || url.password !== '') return null;
  return url.origin;
}
