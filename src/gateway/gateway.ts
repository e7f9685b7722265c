// The gateway: a stateless layer-4 proxy, as `etcd gateway start` is. Each client connection
// is piped, byte for byte and both ways, to one endpoint picked round-robin among those that
// answer; it never parses or buffers a request, so HTTP, keep-alive and TLS pass through.

import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { pipeline } from 'node:stream';
import { gatewayConnectTimeoutMs, gatewayStopGraceMs } from '../limits.ts';
import type { Logger } from '../logger.ts';
import { EndpointPicker } from './endpoints.ts';
import type { GatewayEndpoint, ListenAddress } from './flags.ts';

export interface GatewayOptions {
  endpoints: readonly GatewayEndpoint[];
  retryDelayMs: number;
  maxConnections: number;
  log: Logger;
  /** The clock the retry delay is measured on (tests move it by hand). */
  now?: () => number;
  connectTimeoutMs?: number;
}

/** One client connection and, once connected, its upstream. */
interface Connection {
  client: Socket;
  upstream: Socket | null;
}

/** A warning about refused clients at most this often: a flood of them must not flood the log. */
const dropWarningIntervalMs = 10_000;

export class Gateway {
  private readonly picker: EndpointPicker;
  private readonly log: Logger;
  private readonly connectTimeoutMs: number;
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private droppedSinceWarning = 0;
  private lastDropWarningMs = -Infinity;

  constructor(opts: GatewayOptions) {
    this.picker = new EndpointPicker(opts.endpoints, opts.retryDelayMs, opts.now);
    this.log = opts.log;
    this.connectTimeoutMs = opts.connectTimeoutMs ?? gatewayConnectTimeoutMs;
    // Paused: the client's first bytes wait in the socket until an upstream is connected.
    // Half-open: a client that ends its request still gets the whole answer (and the reverse).
    this.server = createServer({ pauseOnConnect: true, allowHalfOpen: true }, (client) => this.accept(client));
    // Past the limit node closes a new connection at once and tells us with 'drop'.
    this.server.maxConnections = opts.maxConnections;
    this.server.on('drop', () => this.dropped());
  }

  /** Listen on `address` (port 0: any free port); resolves with the address bound. */
  async listen(address: ListenAddress): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host: address.host, port: address.port }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    return this.server.address() as AddressInfo;
  }

  /** Client connections open now (dialling or piping). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Bytes the gateway holds, read from one side and not yet written to the other, over every
   * connection: bounded by the sockets' high-water marks however large a request or answer is.
   */
  bufferedBytes(): number {
    let bytes = 0;
    for (const { client, upstream } of this.connections) {
      bytes += client.readableLength + client.writableLength;
      if (upstream !== null) bytes += upstream.readableLength + upstream.writableLength;
    }
    return bytes;
  }

  /**
   * Stop: accept no more connections, give the open ones up to `graceMs` to finish (an L4
   * proxy cannot tell an idle keep-alive connection from a busy one), then cut the rest.
   */
  async close(graceMs = gatewayStopGraceMs): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const deadline = Date.now() + graceMs;
    while (this.connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const { client, upstream } of this.connections) {
      client.destroy();
      upstream?.destroy();
    }
    await closed;
  }

  private accept(client: Socket): void {
    const connection: Connection = { client, upstream: null };
    this.connections.add(connection);
    // Until the pipes are in place nobody else listens for errors (a client that resets while we
    // dial); after that the pipeline reports them, and this keeps a late one from being unhandled.
    client.on('error', (err) => {
      if (connection.upstream === null) this.log.debug({ err: err.message, remote: client.remoteAddress }, 'client left while connecting');
    });
    // Open until both sockets are closed: the upstream may still be flushing what the client sent last.
    const settle = () => {
      if (client.closed && (connection.upstream === null || connection.upstream.closed)) this.connections.delete(connection);
    };
    client.once('close', settle);
    void this.dialAny(client).then((upstream) => {
      if (upstream === null) {
        this.log.debug({ remote: client.remoteAddress }, 'no endpoint answered: closing the client connection');
        client.destroy(); // with the request unread, the client sees a reset, as from etcd's gateway
      } else if (client.destroyed) {
        upstream.destroy(); // the client left while we dialled
      } else {
        connection.upstream = upstream;
        upstream.once('close', settle);
        splice(client, upstream, this.log);
      }
    });
  }

  /** An upstream connection to the first endpoint of this round that accepts one, or null if none does. */
  private async dialAny(client: Socket): Promise<Socket | null> {
    for (const endpoint of this.picker.round()) {
      if (client.destroyed) return null;
      try {
        const upstream = await dial(endpoint, this.connectTimeoutMs);
        if (this.picker.accepted(endpoint)) this.log.info({ endpoint: endpoint.url }, 'endpoint back');
        return upstream;
      } catch (err) {
        if (this.picker.refused(endpoint)) this.log.warn({ endpoint: endpoint.url, err: (err as Error).message }, 'endpoint down');
      }
    }
    return null;
  }

  private dropped(): void {
    this.droppedSinceWarning++;
    const now = Date.now();
    if (now - this.lastDropWarningMs < dropWarningIntervalMs) return;
    this.log.warn({ maxConnections: this.server.maxConnections, dropped: this.droppedSinceWarning }, 'too many connections: closing new ones');
    this.lastDropWarningMs = now;
    this.droppedSinceWarning = 0;
  }
}

/** A TCP connection to `endpoint`; rejects if it is refused or not accepted within `timeoutMs`. */
function dial(endpoint: GatewayEndpoint, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const upstream = connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true });
    const timer = setTimeout(() => upstream.destroy(new Error(`not connected within ${timeoutMs} ms`)), timeoutMs);
    const failed = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    upstream.once('error', failed);
    upstream.once('connect', () => {
      clearTimeout(timer);
      upstream.off('error', failed);
      resolve(upstream);
    });
  });
}

/**
 * Pipe both ways. Each direction ends the other side's writing when its reading ends (the
 * half-close passes through); an error in either destroys both sockets. Backpressure holds
 * each side to its high-water mark: a slow reader slows the writer down, nothing piles up.
 */
function splice(client: Socket, upstream: Socket, log: Logger): void {
  client.setNoDelay(true);
  upstream.setNoDelay(true);
  upstream.on('error', () => {}); // reported by the pipeline below; a second error must not crash us
  const done = (err: NodeJS.ErrnoException | null | undefined) => {
    if (!err) return;
    client.destroy();
    upstream.destroy();
    if (err.code !== 'ERR_STREAM_PREMATURE_CLOSE') log.debug({ err: err.message, code: err.code }, 'connection cut');
  };
  pipeline(client, upstream, done);
  pipeline(upstream, client, done);
}
