// Endpoint URLs: strict parsing to an origin (scheme, host, port, nothing else), and the
// order in which a request walks them.

/** Client URLs are short; a longer one is a mistake or an attack (the server's peer URLs have the same bound). */
export const endpointBytesMax = 1024;
/** More endpoints than any cluster has members (the member table holds 2048) would be a runaway list. */
export const endpointsMax = 2048;

/** `http(s)://host:port` of one endpoint; throws TypeError naming the bad value. */
export function parseEndpoint(raw: string): string {
  const text = raw.trim();
  if (text.length > endpointBytesMax) throw new TypeError(`endpoint too long (over ${endpointBytesMax} bytes)`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`bad endpoint ${JSON.stringify(text)}: want http://host:port or https://host:port`);
  }
  const extra = url.username !== '' || url.password !== '' || (url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '';
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '' || extra) {
    throw new TypeError(`bad endpoint ${JSON.stringify(text)}: want http://host:port or https://host:port, no path`);
  }
  return url.origin;
}

/** Parsed, without duplicates, in the order given; throws TypeError on a bad or empty list. */
export function parseEndpoints(raws: readonly string[]): string[] {
  const endpoints = [...new Set(raws.map(parseEndpoint))];
  if (endpoints.length === 0) throw new TypeError('no endpoints');
  if (endpoints.length > endpointsMax) throw new TypeError(`too many endpoints (over ${endpointsMax})`);
  return endpoints;
}

/** etcd's quorum backoff waits after this many attempts: a majority of the endpoints. */
export function quorumOf(endpointCount: number): number {
  return Math.floor(endpointCount / 2) + 1;
}
