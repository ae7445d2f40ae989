import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type express from 'express';
import { reasonPhraseOf } from '../http/reason-phrases.js';
import { DRAFT_ENDS_AT } from '../tus/patch-handler.js';
import type { Logger } from '../logging/logger.js';
import type { RequestTargets } from '../tus/request-target.js';
import { digestOf, fileNameOf, problem, PROBLEM_TYPES, uploadLimit } from './draft-fields.js';
import { completenessField, interopVersionOf, requestCompletes, type InteropVersion } from './interop-version.js';

export interface DraftAdapterParts {
  readonly targets: RequestTargets;
  /** MAX_SIZE; 0 = none. */
  readonly maxSize: number;
  /** How long an unfinished upload lives, ms; 0 = for ever. */
  readonly expiryMs: number;
  /** The CORS headers for a request's origin, as every answer on the tus path carries them. */
  readonly corsFor: (origin: string | null) => Readonly<Record<string, string>>;
  readonly log: Logger;
}

type Operation = 'create' | 'offset' | 'append' | 'cancel';

/** A draft request on its way through the tus pipeline. */
interface DraftExchange {
  readonly version: InteropVersion;
  readonly operation: Operation;
  readonly res: ServerResponse;
  /** Upload-Offset the request named (append). */
  readonly requestOffset?: number;
  /** Whether the request said its content completes the upload. */
  readonly completes?: boolean;
  /** The upload's length once this request is through, when the request fixes it. */
  readonly length?: number;
  announced: boolean;
}

const TUS_BODY = 'application/offset+octet-stream';
const PARTIAL_UPLOAD = 'application/partial-upload';

/**
 * "Resumable Uploads for HTTP" (the IETF draft after tus, interop versions 3 to 8) on the tus
 * endpoint: a request carrying `Upload-Draft-Interop-Version` is translated at the edge into the
 * tus request that does the same (creation with `Upload-Length` or `Upload-Defer-Length`, an append
 * that declares the length when it completes the upload, offset retrieval, termination), so every
 * guarantee of the tus path holds for it unchanged: the stores, locks, authentication and owners,
 * limits, checksums (`Content-Digest` as `Upload-Checksum`), the whole-file SHA-256 (`Repr-Digest:
 * sha-256` as the `sha256` metadata), hooks and metrics. Its answer is translated back into the
 * version's fields; `104 (Upload Resumption Supported)` with the upload's Location goes out as soon
 * as the upload exists, before its body is read (`created`). An upload made this way is an ordinary
 * upload to tus, downloads and expiry alike.
 */
export class DraftAdapter {
  private readonly exchanges = new WeakMap<IncomingMessage, DraftExchange>();

  constructor(private readonly parts: DraftAdapterParts) {}

  /** Express middleware in front of the tus edge: draft requests are translated, others pass untouched. */
  readonly middleware: express.RequestHandler = (req, res, next) => {
    // A field only this adapter may set: never taken from a client.
    if (req.headers[DRAFT_ENDS_AT] !== undefined) rewriteRequestHeaders(req, { [DRAFT_ENDS_AT]: null });
    const header = req.get('upload-draft-interop-version');
    if (header === undefined || req.method === 'GET') return next();
    // Every answer from here on, this adapter's or the tus path's, is readable from an allowed origin.
    for (const [name, value] of Object.entries(this.parts.corsFor(req.get('origin') ?? null))) res.setHeader(name, value);
    const version = interopVersionOf(header);
    if (!version) return answer(res, 400, 'text/plain', 'Upload-Draft-Interop-Version must be 3 to 8, the versions this server speaks\n');
    // As on the tus path (tus-js-client's overridePatchMethod): the method the client meant.
    const override = req.get('x-http-method-override')?.toUpperCase();
    if (req.method === 'POST' && override && ['PATCH', 'DELETE', 'HEAD'].includes(override)) req.method = override;
    const target = this.parts.targets.ofNode(req);
    // Not the collection nor an upload: the tus edge answers (404).
    if (target === undefined) return next();
    if (req.method === 'OPTIONS') return this.options(version, res);
    const operation: Operation | undefined =
      target.kind === 'collection' ? (req.method === 'POST' ? 'create' : undefined) : ({ HEAD: 'offset', PATCH: 'append', DELETE: 'cancel' } as const)[req.method as 'HEAD'];
    if (!operation) return answer(res, 405, 'text/plain', 'Method not allowed for a resumable upload\n', { Allow: target.kind === 'collection' ? 'POST, OPTIONS' : 'HEAD, PATCH, DELETE, OPTIONS' });
    if (this.translate(req, res, version, operation)) return;
    next();
  };

  /**
   * @tus/server created an upload (POST_CREATE, emitted before the creation's body is read): a
   * draft creation announces it at once with 104 and its Location (-01 §Upload Creation on).
   */
  created(node: IncomingMessage | undefined, url: string): void {
    const exchange = node ? this.exchanges.get(node) : undefined;
    // RFC 9110 §15.2: no interim answer to an HTTP/1.0 client.
    if (!exchange || exchange.operation !== 'create' || exchange.announced || exchange.res.headersSent || node?.httpVersion === '1.0') return;
    exchange.announced = true;
    const lines = ['HTTP/1.1 104 Upload Resumption Supported', `Location: ${url}`, `Upload-Draft-Interop-Version: ${exchange.version.version}`];
    const limit = this.limitField(exchange.version, this.parts.expiryMs > 0 ? this.parts.expiryMs / 1000 : undefined);
    if (limit) lines.push(`Upload-Limit: ${limit}`);
    exchange.res.socket?.write(`${lines.join('\r\n')}\r\n\r\n`);
  }

  /**
   * Rewrites the request into its tus form (the tus path then decides everything: owner, limits,
   * offsets, lengths, the upload's state) and arranges for the answer to be rewritten back; true
   * when the request itself was malformed and answered here.
   */
  private translate(req: express.Request, res: express.Response, version: InteropVersion, operation: Operation): boolean {
    const headers = { get: (name: string) => req.get(name) };
    const tus: Record<string, string | null> = { 'tus-resumable': '1.0.0', 'upload-draft-interop-version': null, 'upload-length': null };
    let exchange: DraftExchange = { version, operation, res, announced: false };
    if ((operation === 'offset' || operation === 'cancel') && version.version <= 6) {
      // -01..-05 §Offset Retrieval, §Upload Cancellation: these fields have no place there.
      const stray = ['upload-offset', version.completeness.toLowerCase(), ...(version.version === 6 ? ['upload-length'] : [])].find((name) => req.get(name) !== undefined);
      if (stray) return answer(res, 400, 'text/plain', `A ${req.method} of a resumable upload carries no ${stray}\n`);
    }
    if (operation === 'create' || operation === 'append') {
      const completes = requestCompletes(version, headers);
      if (completes === null) return answer(res, 400, 'text/plain', `${version.completeness} must be ?1 or ?0\n`);
      const bodyLength = req.get('content-length') === undefined ? undefined : Number(req.get('content-length'));
      const declaredLength = req.get('upload-length');
      if (declaredLength !== undefined && !/^\d{1,15}$/.test(declaredLength.trim())) return answer(res, 400, 'text/plain', 'Upload-Length must be a non-negative integer\n');
      const contentDigest = digestOf(req.get('content-digest'));
      if (contentDigest === null) return answer(res, 400, 'text/plain', 'Content-Digest must be a dictionary of byte sequences (RFC 9530)\n');
      if (contentDigest) tus['upload-checksum'] = `${contentDigest.algorithm} ${contentDigest.base64}`;
      const chunked = bodyLength === undefined && req.get('transfer-encoding') !== undefined;
      const hasBody = (bodyLength !== undefined && bodyLength > 0) || chunked;
      exchange = { ...exchange, completes };
      if (operation === 'create') {
        const fixed = this.creationLength(completes, bodyLength, declaredLength === undefined ? undefined : Number(declaredLength));
        if (typeof fixed === 'string') return this.inconsistent(res, version, fixed);
        if (completes && fixed === undefined) {
          return answer(res, 411, 'text/plain', 'A request that completes an upload needs its Content-Length (or Upload-Length) when it is sent chunked\n');
        }
        if (fixed === undefined) tus['upload-defer-length'] = '1';
        else tus['upload-length'] = String(fixed);
        const metadata = creationMetadata(req);
        if (metadata === null) return answer(res, 400, 'text/plain', 'Repr-Digest must be a dictionary of byte sequences (RFC 9530)\n');
        if (metadata) tus['upload-metadata'] = metadata;
        tus['content-type'] = hasBody ? TUS_BODY : null;
        exchange = { ...exchange, ...(fixed === undefined ? {} : { length: fixed }) };
      } else {
        if (version.partialUploadType && req.get('content-type')?.split(';')[0]?.trim().toLowerCase() !== PARTIAL_UPLOAD) {
          return answer(res, 415, 'text/plain', `An append's content must be ${PARTIAL_UPLOAD}\n`);
        }
        const offsetField = req.get('upload-offset');
        if (offsetField === undefined || !/^\d{1,15}$/.test(offsetField.trim())) return answer(res, 400, 'text/plain', 'Upload-Offset must be a non-negative integer\n');
        const offset = Number(offsetField);
        if (completes) {
          if (bodyLength === undefined) {
            return answer(res, 411, 'text/plain', 'A request that completes an upload needs its Content-Length when it is sent chunked\n');
          }
          // The length the upload ends at: declared by this append, or the one it has already
          // (the tus path takes the same again, and refuses another: 400, inconsistent length).
          tus[DRAFT_ENDS_AT] = String(offset + bodyLength);
          exchange = { ...exchange, length: offset + bodyLength };
        }
        exchange = { ...exchange, requestOffset: offset };
        tus['content-type'] = TUS_BODY;
      }
    }
    rewriteRequestHeaders(req, tus);
    this.exchanges.set(req, exchange);
    this.translateAnswer(exchange);
    return false;
  }

  /** The length a creation fixes: Upload-Length, or the content of a complete one; a string says why they disagree. */
  private creationLength(completes: boolean, bodyLength: number | undefined, declared: number | undefined): number | undefined | string {
    if (completes && bodyLength !== undefined && declared !== undefined && bodyLength !== declared) {
      return `Upload-Length says ${declared} bytes, the complete content has ${bodyLength}`;
    }
    return declared ?? (completes ? bodyLength : undefined);
  }

  /** Turns the tus answer of an exchange into the version's answer, when it is written. */
  private translateAnswer(exchange: DraftExchange): void {
    const { res, version, operation } = exchange;
    const writeHead = res.writeHead.bind(res) as (status: number, ...rest: unknown[]) => ServerResponse;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    (res as { writeHead: unknown }).writeHead = (status: number, ...rest: unknown[]) => {
      const reason = typeof rest[0] === 'string' ? rest[0] : undefined;
      const headers = headersOf(rest);
      const offset = headers.get('upload-offset');
      const length = headers.get('upload-length') ?? (exchange.length === undefined ? undefined : String(exchange.length));
      const lifecycle = headers.get('tessera-upload-status');
      const complete = lifecycle === 'done' || lifecycle === 'verifying' || (status < 300 && offset !== undefined && length !== undefined && offset === length);
      headers.delete('tus-resumable');
      let answerStatus = status;
      let body: string | undefined;
      if (status < 300) {
        headers.delete('upload-defer-length');
        if (operation !== 'cancel') {
          const [name, value] = completenessField(version, complete);
          headers.set(name.toLowerCase(), value);
          if (length !== undefined) headers.set('upload-length', length);
          const limit = this.limitField(version, secondsUntil(headers.get('upload-expires')));
          if (limit) headers.set('upload-limit', limit);
        }
        // RFC 9530: the SHA-256 Tessera verified over the whole upload, once it is done (-05 §Representation Digests).
        const verified = headers.get('tessera-sha256');
        if (lifecycle === 'done' && verified && /^[0-9a-f]{64}$/.test(verified)) headers.set('repr-digest', `sha-256=:${Buffer.from(verified, 'hex').toString('base64')}:`);
        if (operation === 'offset') {
          answerStatus = 204;
          headers.set('cache-control', 'no-store');
          headers.delete('content-length');
        }
        if (operation === 'append') answerStatus = version.appendStatus;
      } else if (operation === 'append' || operation === 'create') {
        // An answer to a request that did not complete the upload says so (-06 §Upload Append), errors too.
        const [name, value] = completenessField(version, false);
        if (operation === 'append' || version.version >= 7) headers.set(name.toLowerCase(), value);
        if (status === 409 && offset !== undefined && version.problemDetails) {
          body = problem(PROBLEM_TYPES.mismatchingOffset, 'offset from request does not match offset of resource', {
            'expected-offset': Number(offset),
            ...(exchange.requestOffset === undefined ? {} : { 'provided-offset': exchange.requestOffset }),
          });
        } else if (operation === 'append' && (status === 413 || (status === 400 && exchange.length !== undefined))) {
          // The content does not fit the upload's length: past its end (413), or ending it at another
          // length than it has (the Upload-Length this append named, refused: 400).
          answerStatus = 400;
          if (version.version >= 7) body = problem(PROBLEM_TYPES.inconsistentLength, 'inconsistent upload length values');
          else if (version.problemDetails) body = problem(PROBLEM_TYPES.completedUpload, 'upload is already completed or its length is exceeded');
        }
      }
      if (body !== undefined) {
        headers.set('content-type', 'application/problem+json');
        headers.set('content-length', String(Buffer.byteLength(body)));
        headers.delete('transfer-encoding');
        // The tus body this replaces is dropped as it is written.
        (res as { write: unknown }).write = () => true;
        (res as { end: unknown }).end = (...args: unknown[]) => {
          const done = args.find((a) => typeof a === 'function') as (() => void) | undefined;
          return end(body, done);
        };
      }
      const phrase = answerStatus === status && reason ? reason : reasonPhraseOf(answerStatus);
      return writeHead(answerStatus, phrase, [...headers.entries()].flat());
    };
  }

  private limitField(version: InteropVersion, maxAgeS: number | undefined): string | undefined {
    if (!version.limits) return undefined;
    return uploadLimit({ ...(this.parts.maxSize > 0 ? { maxSize: this.parts.maxSize } : {}), ...(maxAgeS === undefined ? {} : { maxAgeS }) }, version.limits) || undefined;
  }

  /** OPTIONS (-05 on): the limits of uploads created here; `min-size=0` when there are none (-05 §Upload-Limit). */
  private options(version: InteropVersion, res: express.Response): void {
    const limit = uploadLimit(
      { minSize: 0, ...(this.parts.maxSize > 0 ? { maxSize: this.parts.maxSize } : {}), ...(this.parts.expiryMs > 0 ? { maxAgeS: this.parts.expiryMs / 1000 } : {}) },
      version.limits || 'max-age',
    );
    res.writeHead(204, { 'Upload-Limit': limit, 'Accept-Patch': PARTIAL_UPLOAD, Allow: 'POST, HEAD, PATCH, DELETE, OPTIONS' }).end();
  }

  /** 400: lengths that disagree (7 on: the inconsistent-upload-length problem). */
  private inconsistent(res: express.Response, version: InteropVersion, why: string, headers: Readonly<Record<string, string>> = {}): true {
    if (version.version < 7) return answer(res, 400, 'text/plain', `${why}\n`, headers);
    return answer(res, 400, 'application/problem+json', problem(PROBLEM_TYPES.inconsistentLength, 'inconsistent upload length values', { detail: why }), headers);
  }
}

/** Tus metadata from the draft's creation fields: the file name, its type, and a declared SHA-256; null when Repr-Digest is malformed. */
function creationMetadata(req: express.Request): string | undefined | null {
  const entries: [string, string][] = [];
  const name = fileNameOf(req.get('content-disposition'));
  if (name) entries.push(['filename', name]);
  const type = req.get('content-type')?.split(';')[0]?.trim();
  if (type && type !== TUS_BODY && type !== PARTIAL_UPLOAD) entries.push(['filetype', type]);
  const repr = digestOf(req.get('repr-digest'), ['sha-256']);
  if (repr === null) return null;
  if (repr) entries.push(['sha256', Buffer.from(repr.base64, 'base64').toString('hex')]);
  // A tus client may send its Upload-Metadata too (tus-js-client does): kept, the draft's fields added.
  const given = req.get('upload-metadata');
  const encoded = entries.map(([key, value]) => `${key} ${Buffer.from(value).toString('base64')}`);
  const all = [...(given ? [given] : []), ...encoded.filter((entry) => !given?.split(',').some((g) => g.trim().split(' ')[0] === entry.split(' ')[0]))];
  return all.length > 0 ? all.join(',') : undefined;
}

/** Sets or removes (null) request headers, in both views Node keeps (the parsed object and the raw list). */
function rewriteRequestHeaders(req: IncomingMessage, changes: Readonly<Record<string, string | null>>): void {
  const raw: string[] = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    if (!((req.rawHeaders[i] as string).toLowerCase() in changes)) raw.push(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string);
  }
  const parsed: Record<string, string | string[] | undefined> = { ...req.headers };
  for (const [name, value] of Object.entries(changes)) {
    delete parsed[name];
    if (value === null) continue;
    parsed[name] = value;
    raw.push(name, value);
  }
  req.headers = parsed as IncomingMessage['headers'];
  req.rawHeaders = raw;
}

/** writeHead's headers (an object or a flat raw list) as a map of lower-case names. */
function headersOf(rest: readonly unknown[]): Map<string, string> {
  const given = (typeof rest[0] === 'string' ? rest[1] : rest[0]) as OutgoingHttpHeaders | readonly string[] | undefined;
  const headers = new Map<string, string>();
  if (Array.isArray(given)) {
    for (let i = 0; i < given.length; i += 2) headers.set(String(given[i]).toLowerCase(), String(given[i + 1]));
  } else if (given) {
    for (const [name, value] of Object.entries(given)) if (value !== undefined) headers.set(name.toLowerCase(), Array.isArray(value) ? value.join(', ') : String(value));
  }
  return headers;
}

function secondsUntil(httpDate: string | undefined): number | undefined {
  if (!httpDate) return undefined;
  const at = Date.parse(httpDate);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - Date.now()) / 1000);
}

function answer(res: express.Response, status: number, type: string, body: string, headers: Readonly<Record<string, string>> = {}): true {
  res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': String(Buffer.byteLength(body)) }).end(body);
  return true;
}
