import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import * as path from 'node:path';

/** where scripts/bundle.js writes the admin UI: dist/ui (this file runs as dist/src/governance/ui/ui-assets.js) */
export const UI_DIR = path.resolve(__dirname, '../../../ui');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

export interface UiAnswer {
  status: number;
  headers: Record<string, string>;
  body: Buffer | string;
}

export interface UiAssetsOptions {
  /** the bundle's directory (default dist/ui) */
  dir?: string;
  /** the URL path the UI is mounted at, ending in `/` (a node: `/ui/`, the balancer: `/`); the page's `<base href>` */
  mount?: string;
}

const text = (status: number, message: string): UiAnswer => ({
  status,
  headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' },
  body: `${message}\n`,
});

/**
 * The admin UI's files as HTTP answers, for whichever server mounts them: the governance app
 * at /ui (UiController), the balancer at /. No auth: the page holds no data, it asks for the
 * admin token and sends it to the API.
 *
 * The page (index.html) is answered `no-cache` with the mount as its `<base href>`, so its
 * relative asset links resolve under any mount; the assets have content hashes in their names
 * (scripts/bundle.js) and are cached for a year as immutable. A path outside the bundle's
 * directory is refused (404), and a missing bundle says so (500, naming the build step) rather
 * than failing the request.
 */
export class UiAssets {
  readonly dir: string;
  readonly mount: string;

  constructor(opts: UiAssetsOptions = {}) {
    this.dir = path.resolve(opts.dir ?? UI_DIR);
    const mount = opts.mount ?? '/ui/';
    this.mount = mount.endsWith('/') ? mount : `${mount}/`;
  }

  /** `rel`: the URL path below the mount ('' or 'index.html' = the page), still percent-encoded, without the query */
  async answer(rel: string, headers: IncomingHttpHeaders = {}): Promise<UiAnswer> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(rel);
    } catch {
      return text(400, 'bad path');
    }
    const name = decoded.replace(/^\/+/, '') || 'index.html';
    const file = path.resolve(this.dir, name);
    if (!file.startsWith(this.dir + path.sep) || name.includes('\0')) return text(404, 'not found');
    const page = name === 'index.html';
    let body: Buffer;
    try {
      body = await fs.readFile(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (page) return text(500, `admin UI not built: ${file} is missing (run \`node scripts/bundle.js\` after tsc, or \`npm run build\`)`);
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return text(404, `no UI asset ${name}`);
      return text(500, `cannot read UI asset ${name}: ${code ?? (err as Error).message}`);
    }
    if (page) body = Buffer.from(body.toString('utf8').replace(/<base href="[^"]*"\s*\/?>/, `<base href="${this.mount}" />`));
    const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 16)}"`;
    const out: Record<string, string> = {
      'content-type': TYPES[path.extname(name).toLowerCase()] ?? 'application/octet-stream',
      'cache-control': page ? 'no-cache' : 'public, max-age=31536000, immutable',
      etag,
      'x-content-type-options': 'nosniff',
    };
    if (page) {
      // the page loads only its own assets and talks only to its own origin's API
      out['content-security-policy'] = "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'";
      out['referrer-policy'] = 'no-referrer';
    }
    if (headers['if-none-match'] === etag) return { status: 304, headers: out, body: '' };
    return { status: 200, headers: out, body };
  }

  /** answers `res` (a Node response the caller owns) for `rel`; HEAD gets the headers only */
  async serve(rel: string, req: { method?: string; headers: IncomingHttpHeaders }, res: ServerResponse): Promise<void> {
    const a = await this.answer(rel, req.headers);
    const body = typeof a.body === 'string' ? Buffer.from(a.body) : a.body;
    res.writeHead(a.status, { ...a.headers, 'content-length': String(a.status === 304 ? 0 : body.length) });
    res.end(req.method === 'HEAD' || a.status === 304 ? undefined : body);
  }

  /** the request's own path below the mount (`/ui`, `/ui/`, `/ui/app-x.js` for `/ui/`), then serve() */
  serveRequest(req: { url?: string; method?: string; headers: IncomingHttpHeaders }, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const base = this.mount.slice(0, -1);
    const rel = path.startsWith(base) ? path.slice(base.length) : path;
    return this.serve(rel.replace(/^\/+/, ''), req, res);
  }
}
