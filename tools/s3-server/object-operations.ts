import { Readable } from 'node:stream';
import { s3Errors } from './errors.js';
import { openSegments, readSegments } from './files.js';
import { receiveUpload } from './body.js';
import { headerOf, metadataHeaders, sendEmpty, userMetadata, type Exchange } from './exchange.js';
import type { ObjectRecord } from './storage.js';

export const MAX_PUT_SIZE = 5 * 1024 ** 3;
const MAX_KEY_BYTES = 1024;

export function checkKey(key: string): void {
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw s3Errors.keyTooLong();
}

/** PutObject: PUT /bucket/key with the bytes as the body. */
export async function putObject(ex: Exchange): Promise<void> {
  checkKey(ex.key);
  const bucket = ex.storage.bucket(ex.bucketName);
  const declared = Number(headerOf(ex.req, 'content-length') ?? 0);
  if (declared > MAX_PUT_SIZE) throw s3Errors.entityTooLarge(declared, MAX_PUT_SIZE);
  const file = ex.storage.newFile();
  const body = await receiveUpload(ex, file);
  const record: ObjectRecord = {
    key: ex.key,
    size: body.size,
    etag: `"${body.md5.toString('hex')}"`,
    lastModified: new Date(),
    contentType: headerOf(ex.req, 'content-type') ?? 'binary/octet-stream',
    cacheControl: headerOf(ex.req, 'cache-control'),
    metadata: userMetadata(ex.req),
    segments: [{ file, size: body.size }],
  };
  await ex.storage.putObject(bucket, record);
  sendEmpty(ex, 200, { ETag: record.etag });
}

export function objectHeaders(record: ObjectRecord): Record<string, string> {
  return {
    'Content-Type': record.contentType,
    ETag: record.etag,
    'Last-Modified': record.lastModified.toUTCString(),
    'Accept-Ranges': 'bytes',
    ...(record.cacheControl ? { 'Cache-Control': record.cacheControl } : {}),
    ...metadataHeaders(record.metadata),
  };
}

/** A single `Range: bytes=...` as [first, last], 'unsatisfiable', or undefined (whole object). */
export function parseRange(header: string | undefined, size: number): readonly [number, number] | 'unsatisfiable' | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  // Anything else (several ranges, other units, garbage) is ignored, as HTTP allows.
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return [Math.max(0, size - suffix), size - 1];
  }
  const first = Number(match[1]);
  const last = match[2] === '' ? size - 1 : Number(match[2]);
  if (match[2] !== '' && last < first) return undefined;
  if (first >= size) return 'unsatisfiable';
  return [first, Math.min(last, size - 1)];
}

/** GetObject's `response-*` query parameters: headers the answer carries instead of the stored ones. */
function responseOverrides(query: ReadonlyMap<string, string>): Record<string, string> {
  const names: Record<string, string> = {
    'response-content-type': 'Content-Type',
    'response-content-disposition': 'Content-Disposition',
    'response-cache-control': 'Cache-Control',
    'response-content-language': 'Content-Language',
    'response-expires': 'Expires',
    'response-content-encoding': 'Content-Encoding',
  };
  const headers: Record<string, string> = {};
  for (const [parameter, headerName] of Object.entries(names)) {
    const value = query.get(parameter);
    if (value !== undefined) headers[headerName] = value;
  }
  return headers;
}

/** GetObject and HeadObject (the same headers; HEAD sends no body). */
export async function getObject(ex: Exchange, withBody: boolean): Promise<void> {
  const bucket = ex.storage.bucket(ex.bucketName);
  const record = bucket.objects.get(ex.key);
  if (!record) throw s3Errors.noSuchKey(ex.key);
  if (notModified(ex, record)) {
    ex.res.writeHead(304, { ETag: record.etag, 'Last-Modified': record.lastModified.toUTCString() });
    ex.res.end();
    return;
  }
  const range = parseRange(headerOf(ex.req, 'range'), record.size);
  if (range === 'unsatisfiable') throw s3Errors.invalidRange(record.size);
  const [first, last] = range ?? [0, record.size - 1];
  const length = record.size === 0 ? 0 : last - first + 1;
  const headers: Record<string, string> = { ...objectHeaders(record), ...responseOverrides(ex.query), 'Content-Length': String(length) };
  if (range) headers['Content-Range'] = `bytes ${first}-${last}/${record.size}`;
  if (!withBody || length === 0) {
    ex.res.writeHead(range ? 206 : 200, headers);
    ex.res.end();
    return;
  }
  const open = openSegments(record.segments);
  ex.res.writeHead(range ? 206 : 200, headers);
  const stream = Readable.from(readSegments(open, first, last + 1), { objectMode: false });
  stream.on('data', (chunk) => {
    ex.stats.bytesOut += chunk.length;
  });
  await new Promise<void>((resolve) => {
    stream.pipe(ex.res);
    const done = () => resolve();
    ex.res.once('close', done);
    stream.once('error', () => {
      ex.res.destroy();
      done();
    });
  });
  stream.destroy();
}

/**
 * GET/HEAD conditions (RFC 9110 as S3 applies them): a failed If-Match or
 * If-Unmodified-Since is 412; a matching If-None-Match or an unchanged If-Modified-Since is
 * 304 (returns true).
 */
function notModified(ex: Exchange, record: ObjectRecord): boolean {
  const unquote = (etag: string) => etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  const matches = (list: string) => list.split(',').some((e) => e.trim() === '*' || unquote(e) === unquote(record.etag));
  const seconds = Math.floor(record.lastModified.getTime() / 1000) * 1000;
  const ifMatch = headerOf(ex.req, 'if-match');
  const ifNoneMatch = headerOf(ex.req, 'if-none-match');
  const ifUnmodified = headerOf(ex.req, 'if-unmodified-since');
  const ifModified = headerOf(ex.req, 'if-modified-since');
  if (ifMatch !== undefined && !matches(ifMatch)) throw s3Errors.preconditionFailed('If-Match');
  if (ifMatch === undefined && ifUnmodified !== undefined && seconds > Date.parse(ifUnmodified)) {
    throw s3Errors.preconditionFailed('If-Unmodified-Since');
  }
  if (ifNoneMatch !== undefined) return matches(ifNoneMatch);
  return ifModified !== undefined && seconds <= Date.parse(ifModified);
}

/** DeleteObject: 204 whether or not the key existed. */
export async function deleteObject(ex: Exchange): Promise<void> {
  const bucket = ex.storage.bucket(ex.bucketName);
  await ex.storage.deleteObject(bucket, ex.key);
  sendEmpty(ex, 204);
}
