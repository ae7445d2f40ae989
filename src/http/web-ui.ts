import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type Response } from 'express';
import type { Logger } from '../logging/logger.js';

export interface WebUiOptions {
  /** URL path the page is served at ('/' or e.g. '/upload'). */
  readonly path: string;
  /** The tus endpoint path the page uploads to. */
  readonly tusPath: string;
  /** The built page (`npm run build:web`); default `<package root>/dist/web`. */
  readonly assetsDir?: string;
  /**
   * S3_DIRECT: the page offers uploading straight to S3; `storageOrigin` is where part URLs
   * point (the page may connect there, and nowhere else but its own origin).
   */
  readonly direct?: { readonly storageOrigin: () => Promise<string> };
  readonly log: Logger;
}

/** Where index.html names the endpoint; replaced on every page load. */
const ENDPOINT_PLACEHOLDER = '%TESSERA_ENDPOINT%';
/** Where index.html says whether direct-to-S3 uploads are on ('on' or ''). */
const DIRECT_PLACEHOLDER = '%TESSERA_DIRECT%';

// The page only talks to its own origin (and, with S3_DIRECT, to the bucket's); hash-wasm needs
// to compile WebAssembly; Uppy sets inline style attributes and shows thumbnails from blob: URLs.
const contentSecurityPolicy = (storageOrigin?: string) =>
  [
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    `connect-src 'self'${storageOrigin ? ` ${storageOrigin}` : ''}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
const CONTENT_SECURITY_POLICY = contentSecurityPolicy();

/**
 * Serves the browser upload page (built by esbuild into dist/web, see scripts/build-web.ts):
 * index.html with the tus endpoint filled in, and its bundled JS/CSS. Mounted after the tus
 * routes, so it can never shadow them.
 */
export function mountWebUi(app: Express, options: WebUiOptions): void {
  const assetsDir = options.assetsDir ?? path.join(packageRoot(), 'dist', 'web');
  const indexFile = path.join(assetsDir, 'index.html');
  if (!fs.existsSync(indexFile)) {
    options.log.warn({ assetsDir }, 'upload page not built (run `npm run build:web`); it answers 503 until then');
  }

  const router = express.Router({ strict: true });
  router.use((_req, res, next) => {
    res.set({
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      // A rebuilt page must be picked up at once; the files are small and revalidated by ETag.
      'Cache-Control': 'no-cache',
    });
    next();
  });
  router.get(['/', '/index.html'], async (req, res) => {
    // The page loads ./app.js: without the trailing slash it would resolve one level up.
    if (req.originalUrl.split('?')[0] === options.path && options.path !== '/') {
      res.redirect(301, `${options.path}/${req.originalUrl.slice(options.path.length)}`);
      return;
    }
    const storageOrigin = options.direct ? await options.direct.storageOrigin().catch(() => undefined) : undefined;
    if (storageOrigin) res.set('Content-Security-Policy', contentSecurityPolicy(storageOrigin));
    await sendIndex(res, indexFile, options.tusPath, storageOrigin !== undefined);
  });
  router.use(express.static(assetsDir, { index: false, redirect: false }));
  app.use(options.path, router);
}

async function sendIndex(res: Response, indexFile: string, tusPath: string, direct: boolean): Promise<void> {
  let template: string;
  try {
    // Read per request (it is tiny), so a rebuild needs no restart.
    template = await fs.promises.readFile(indexFile, 'utf8');
  } catch {
    res.status(503).type('text/plain').send('The upload page is not built: run `npm run build:web`\n');
    return;
  }
  res.type('html').send(template.replaceAll(ENDPOINT_PLACEHOLDER, escapeHtml(tusPath)).replaceAll(DIRECT_PLACEHOLDER, direct ? 'on' : ''));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The nearest directory holding package.json above this module (src/ under tsx, dist/src/ when built). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 8; depth += 1) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return process.cwd();
}
