import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError } from '../shared/api';
import { encodeWire, decodeWire } from '../shared/wire';
import type { Engine } from '../main/engine/engine';
import { StoreError } from '../main/engine/store/errors';
import { mediaResponse } from '../main/engine/media';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};
// Same policy as the desktop window: no inline script, no remote origins.
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

export interface WebHost {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves the built renderer (out/web) and the engine API on 127.0.0.1 only. The browser gets the same `window.api`
 * as the desktop app through out/web's bridge: POST /api/call, server-sent events on /api/events, media on /media.
 */
export async function startWebHost(
  engine: Engine,
  opts: { port?: number; webRoot?: string } = {},
): Promise<WebHost> {
  const webRoot = opts.webRoot ?? path.join(ROOT, 'out/web');
  if (!fs.existsSync(path.join(webRoot, 'web.html'))) {
    throw new Error(`No built web renderer at ${webRoot}. Run "npm run build:web" first.`);
  }
  const clients = new Set<http.ServerResponse>();
  const unsubscribe = engine.onEvent((e) => {
    const data = `data: ${encodeWire(e)}\n\n`;
    for (const c of clients) c.write(data);
  });

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String((err as Error).message ?? err));
    });
  });

  let origin = '';
  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // Refuse requests addressed to another host name (DNS rebinding) and cross-origin API posts.
    const host = req.headers.host ?? '';
    if (!/^(127\.0\.0\.1|localhost)(:\d+)?$/.test(host)) {
      res.writeHead(403).end('forbidden host');
      return;
    }
    const url = new URL(req.url ?? '/', origin);
    if (url.pathname === '/api/call' && req.method === 'POST') {
      if (
        req.headers.origin &&
        req.headers.origin !== origin &&
        req.headers.origin !== origin.replace('127.0.0.1', 'localhost')
      ) {
        res.writeHead(403).end('cross-origin call refused');
        return;
      }
      const body = await readBody(req, 64 * 1024 * 1024);
      let status = 200;
      let payload: unknown;
      try {
        const { method, args } = decodeWire(body) as { method: unknown; args: unknown };
        payload = { ok: true, result: await engine.call(method, args) };
      } catch (err) {
        const e = err as Error & { code?: string };
        status = err instanceof ApiError || err instanceof StoreError ? 400 : 500;
        payload = { ok: false, error: { code: e.code ?? 'error', message: e.message } };
      }
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(encodeWire(payload));
      return;
    }
    if (url.pathname === '/api/events') {
      res.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-store',
        connection: 'keep-alive',
      });
      res.write(': connected\n\n');
      clients.add(res);
      req.on('close', () => clients.delete(res));
      return;
    }
    const media = /^\/media\/(thumb|image)\/(\d+)$/.exec(url.pathname);
    const tile = /^\/media\/tile\/(\d+)\/(\d+)\/(\d+)\/(\d+)$/.exec(url.pathname);
    if (media || tile) {
      const r = tile
        ? await mediaResponse(engine, 'tile', Number(tile[1]), {
            level: Number(tile[2]),
            x: Number(tile[3]),
            y: Number(tile[4]),
          })
        : await mediaResponse(engine, media![1] as 'thumb' | 'image', Number(media![2]));
      res.writeHead(r.status, {
        'content-type': r.type,
        'cache-control': r.status === 200 ? 'max-age=60' : 'no-store',
      });
      res.end(r.body);
      return;
    }
    serveStatic(url.pathname, res);
  }

  function serveStatic(pathname: string, res: http.ServerResponse): void {
    const rel = decodeURIComponent(pathname === '/' ? '/web.html' : pathname);
    const file = path.resolve(webRoot, '.' + rel);
    if (!file.startsWith(webRoot + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, {
      'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
    });
    fs.createReadStream(file).pipe(res);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/`,
    port,
    close: async () => {
      unsubscribe();
      for (const c of clients) c.end();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new ApiError('too-large', 'Request body too large.'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
