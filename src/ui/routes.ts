// The dashboard's routes on the client port: GET /-/ui (the page), /-/ui/<asset> (its script,
// style and uPlot, files in the repo: no build step, no CDN), /-/ui/cluster (what the page
// draws, gathered by the ClusterWatch) and /-/events (the timeline as server-sent events).

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { uiEventClientsMax } from '../limits.ts';
import type { ClusterWatch } from './cluster-watch.ts';
import type { EventRing, TimelineEvent } from './event-ring.ts';

export interface UiOptions {
  watch: ClusterWatch;
  events: EventRing;
}

const ASSETS_DIR = join(import.meta.dirname, 'assets');
const uplotDist = (file: string) => createRequire(import.meta.url).resolve(`uplot/dist/${file}`);

/** The page's files, by the name they are served under: a fixed table, so no path reaches the disk. */
const ASSETS: Record<string, { file: () => string; type: string }> = {
  'index.html': { file: () => join(ASSETS_DIR, 'index.html'), type: 'text/html; charset=utf-8' },
  'app.js': { file: () => join(ASSETS_DIR, 'app.js'), type: 'text/javascript; charset=utf-8' },
  'style.css': { file: () => join(ASSETS_DIR, 'style.css'), type: 'text/css; charset=utf-8' },
  'uplot.js': { file: () => uplotDist('uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uplot.css': { file: () => uplotDist('uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/** Everything the page loads comes from this origin; nothing may frame it. */
const PAGE_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** A comment line every so often keeps proxies from closing a quiet stream. */
const SSE_KEEPALIVE_MS = 15_000;
/** A stream whose reader lags this far behind is cut (it reconnects with Last-Event-ID). */
const SSE_BUFFERED_BYTES_MAX = 256 * 1024;

export function registerUi(app: FastifyInstance, opts: UiOptions): void {
  const cache = new Map<string, Buffer>();
  const streams = new Set<() => void>();
  app.addHook('preClose', (done) => {
    opts.watch.stop();
    for (const end of [...streams]) end();
    done();
  });

  const serveAsset = async (name: string, reply: FastifyReply) => {
    const asset = ASSETS[name];
    if (asset === undefined) return reply.code(404).type('text/plain; charset=utf-8').send('not found\n');
    let body = cache.get(name);
    if (body === undefined) cache.set(name, (body = await readFile(asset.file())));
    return reply.code(200).headers(PAGE_HEADERS).type(asset.type).send(body);
  };
  app.get('/-/ui', (_req, reply) => serveAsset('index.html', reply));
  app.get('/-/ui/', (_req, reply) => reply.redirect('/-/ui'));
  app.get('/-/ui/cluster', (_req, reply) => reply.code(200).header('cache-control', 'no-store').send(opts.watch.view()));
  app.get<{ Params: { asset: string } }>('/-/ui/:asset', (req, reply) => serveAsset(req.params.asset, reply));
  app.get('/-/events', (req, reply) => streamEvents(req, reply, opts, streams));
}

/**
 * GET /-/events: `text/event-stream`, one `event: raft` per timeline entry (data: its JSON,
 * id: its seq), first the ones kept since Last-Event-ID (all kept, without it), then live.
 */
function streamEvents(req: FastifyRequest, reply: FastifyReply, opts: UiOptions, streams: Set<() => void>): void {
  if (streams.size >= uiEventClientsMax) {
    reply.code(503).header('retry-after', '5').type('text/plain; charset=utf-8').send(`too many /-/events streams (at most ${uiEventClientsMax}); try again later\n`);
    return;
  }
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  res.write('retry: 2000\n\n');
  const release = opts.watch.hold();
  let ended = false;
  const write = (e: TimelineEvent) => {
    if (ended) return;
    res.write(`id: ${e.seq}\nevent: raft\ndata: ${JSON.stringify(e)}\n\n`);
    if (res.writableLength > SSE_BUFFERED_BYTES_MAX) end();
  };
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), SSE_KEEPALIVE_MS);
  const unsubscribe = opts.events.subscribe(write);
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(keepalive);
    unsubscribe();
    release();
    streams.delete(end);
    res.end();
  };
  streams.add(end);
  req.raw.on('close', end);
  res.on('error', end);
  for (const e of opts.events.since(lastEventId(req.headers['last-event-id']))) write(e);
}

function lastEventId(header: string | string[] | undefined): number {
  const text = Array.isArray(header) ? header[0] : header;
  if (text === undefined || !/^\d{1,15}$/.test(text)) return 0;
  return Number(text);
}
