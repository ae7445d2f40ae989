import type { IncomingMessage } from 'node:http';
import { nodeRequestOf } from './upstream/node-request.js';

/**
 * What a request under the tus path addresses. Decided here, once, from the request-target's
 * path alone; every layer, the access log and @tus/server (its `getFileIdFromRequest`
 * option) ask this module, so no two parts of the server can disagree about which upload a
 * request touches.
 */
export type RequestTarget = { readonly kind: 'collection' } | { readonly kind: 'upload'; readonly id: string };

/**
 * What an upload id may look like: what the default naming (32 hex digits) and any sane
 * naming function produce. Short enough that every derived name (`<id>.json`, a state file,
 * an S3 key) stays under the 255-byte file-name limit, and no leading dot, so no request can
 * name a hidden file in the data dir. None of these characters ever needs percent-encoding,
 * so an upload has exactly one spelling of its URL.
 */
const reUploadId = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

export function isUploadId(id: string): boolean {
  return reUploadId.test(id);
}

/**
 * Resolves a raw request-target (`/files/abc?x=1`, as it came off the wire) against the tus
 * path. The query is ignored and never names an upload; the path must be exactly
 * `<tusPath>` or `<tusPath>/` (the collection) or `<tusPath>/<id>`. Everything else, dot
 * segments, percent-escapes, empty or extra segments, a fragment (never sent by a real
 * client), absolute-form targets included, is undefined: the caller answers 404 before any
 * store or state is touched.
 */
export function resolveTarget(rawTarget: string, tusPath: string): RequestTarget | undefined {
  if (!rawTarget.startsWith('/') || rawTarget.includes('#')) return undefined;
  const query = rawTarget.indexOf('?');
  const path = query === -1 ? rawTarget : rawTarget.slice(0, query);
  const base = tusPath === '/' ? '' : tusPath;
  if (path === base || path === `${base}/`) return { kind: 'collection' };
  if (!path.startsWith(`${base}/`)) return undefined;
  const id = path.slice(base.length + 1);
  return isUploadId(id) ? { kind: 'upload', id } : undefined;
}

/** Turns requests and URLs into targets; built once with the tus path by the composition root. */
export class RequestTargets {
  constructor(readonly tusPath: string) {}

  /** The target of a Node request (Express keeps the raw target in `originalUrl`). */
  ofNode(req: IncomingMessage & { originalUrl?: string }): RequestTarget | undefined {
    return resolveTarget(req.originalUrl ?? req.url ?? '', this.tusPath);
  }

  /** The target of a web Request @tus/server hands around (the Node request behind it when there is one). */
  of(req: Request): RequestTarget | undefined {
    const node = nodeRequestOf(req);
    if (node) return this.ofNode(node);
    const url = new URL(req.url);
    return resolveTarget(`${url.pathname}${url.search}`, this.tusPath);
  }

  /** The upload a request addresses, or undefined for the collection and for anything unresolvable. */
  uploadIdOf(req: Request): string | undefined {
    const target = this.of(req);
    return target?.kind === 'upload' ? target.id : undefined;
  }

  /**
   * The upload an absolute URL names, when it names one of this server's uploads: `url` was
   * resolved by the WHATWG parser (against the request's own URL for relative references),
   * its origin must be one of `origins`, and it may carry no query or fragment.
   */
  uploadIdOfUrl(url: URL, origins: readonly string[]): string | undefined {
    if (!origins.includes(url.origin) || url.search !== '' || url.hash !== '') return undefined;
    const target = resolveTarget(url.pathname, this.tusPath);
    return target?.kind === 'upload' ? target.id : undefined;
  }

  /** The upload a Location this server sent names (absolute, or relative to the request). */
  uploadIdOfLocation(location: string, req: Request): string | undefined {
    const url = new URL(location, req.url);
    return this.uploadIdOfUrl(url, [url.origin]);
  }

  /** The path (no origin) of an upload's URL. */
  pathOf(id: string): string {
    return `${this.tusPath === '/' ? '' : this.tusPath}/${id}`;
  }
}
