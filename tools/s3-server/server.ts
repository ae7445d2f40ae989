import { randomBytes } from 'node:crypto';
import http from 'node:http';
import {
  createBucket,
  deleteBucket,
  deleteObjects,
  headBucket,
  listBuckets,
  listMultipartUploads,
  listObjectsV2,
} from './bucket-operations.js';
import { S3Error, s3Errors } from './errors.js';
import { ServerStats, type Exchange } from './exchange.js';
import {
  abortMultipartUpload,
  completeMultipartUpload,
  createMultipartUpload,
  listParts,
  uploadPart,
  uploadPartCopy,
} from './multipart-operations.js';
import { deleteObject, getObject, putObject } from './object-operations.js';
import { queryPairs, verifyPresigned, verifySignature, type Credentials } from './sigv4.js';
import { Storage } from './storage.js';
import { errorDocument } from './xml.js';

export interface S3ServerOptions {
  /** Where object bytes are kept. */
  readonly directory: string;
  readonly credentials: Credentials;
  readonly region: string;
  /** Buckets that exist from the start. */
  readonly buckets?: readonly string[];
}

type Operation = (ex: Exchange) => void | Promise<void>;

/** Sub-resources this server does not implement: S3 answers them, so must we, honestly. */
const UNIMPLEMENTED = ['acl', 'tagging', 'versioning', 'versions', 'policy', 'lifecycle', 'cors', 'website', 'encryption', 'retention', 'legal-hold', 'select', 'restore', 'attributes', 'torrent', 'location', 'logging', 'notification', 'replication', 'accelerate', 'object-lock', 'ownershipControls', 'publicAccessBlock', 'requestPayment', 'analytics', 'inventory', 'metrics', 'intelligent-tiering'];

/** Picks the operation for a path-style request, as S3's REST API defines them. */
function route(method: string, key: string, query: ReadonlyMap<string, string>, headers: http.IncomingHttpHeaders): [string, Operation] {
  const sub = UNIMPLEMENTED.find((name) => query.has(name));
  if (sub) return [`Unimplemented:${sub}`, () => Promise.reject(s3Errors.notImplemented(`?${sub} is not implemented by this server`))];
  if (!key) {
    switch (method) {
      case 'PUT':
        return ['CreateBucket', createBucket];
      case 'HEAD':
        return ['HeadBucket', headBucket];
      case 'DELETE':
        return ['DeleteBucket', deleteBucket];
      case 'POST':
        if (query.has('delete')) return ['DeleteObjects', deleteObjects];
        break;
      case 'GET':
        if (query.has('uploads')) return ['ListMultipartUploads', listMultipartUploads];
        if (query.get('list-type') === '2') return ['ListObjectsV2', listObjectsV2];
        return ['ListObjects', () => Promise.reject(s3Errors.notImplemented('ListObjects (version 1) is not implemented by this server; use list-type=2'))];
    }
    return ['MethodNotAllowed', () => Promise.reject(s3Errors.methodNotAllowed(method, 'BUCKET'))];
  }
  switch (method) {
    case 'PUT':
      if (query.has('uploadId') || query.has('partNumber')) {
        return 'x-amz-copy-source' in headers ? ['UploadPartCopy', uploadPartCopy] : ['UploadPart', uploadPart];
      }
      if ('x-amz-copy-source' in headers) return ['CopyObject', () => Promise.reject(s3Errors.notImplemented('CopyObject is not implemented by this server'))];
      return ['PutObject', putObject];
    case 'GET':
      return query.has('uploadId') ? ['ListParts', listParts] : ['GetObject', (ex) => getObject(ex, true)];
    case 'HEAD':
      return ['HeadObject', (ex) => getObject(ex, false)];
    case 'DELETE':
      return query.has('uploadId') ? ['AbortMultipartUpload', abortMultipartUpload] : ['DeleteObject', deleteObject];
    case 'POST':
      if (query.has('uploads')) return ['CreateMultipartUpload', createMultipartUpload];
      if (query.has('uploadId')) return ['CompleteMultipartUpload', completeMultipartUpload];
      break;
  }
  return ['MethodNotAllowed', () => Promise.reject(s3Errors.methodNotAllowed(method, 'OBJECT'))];
}

/**
 * A small S3-compatible server for tests and benchmarks: path-style requests, Signature
 * Version 4 header auth, the object and multipart operations Tessera and @tus/s3-store
 * use, with S3's validation rules (5 MiB minimum part, 10,000 parts, ETags, ranges).
 * `GET /_test/stats` reports requests and body bytes per operation, and
 * `POST /_test/fail?op=<Operation>&times=<n>` makes its next n requests fail (no S3 bucket can
 * be named `_test`): `mode=error` (the default) answers 500 at once, `mode=after-body` reads the
 * whole body first, `mode=flip` flips the body's first byte as it arrives (the damage a bad
 * link or NIC does on the way; the request goes on, and its Content-MD5 or ETag tells).
 * `part=<n>` limits it to UploadPart requests for that part number. Faults queue: a request meets
 * the first one told that still applies to it.
 */
export function createS3Server(options: S3ServerOptions): { server: http.Server; stats: ServerStats; storage: Storage } {
  const storage = new Storage(options.directory);
  for (const bucket of options.buckets ?? []) storage.createBucket(bucket);
  const stats = new ServerStats();
  /** Operations told to fail (see /_test/fail), in the order told: how many more times, how, and for which part. */
  const failures = new Map<string, { times: number; mode: FaultMode; part: number | undefined }[]>();

  const server = http.createServer(async (req, res) => {
    const requestId = randomBytes(8).toString('hex').toUpperCase();
    res.setHeader('x-amz-request-id', requestId);
    res.setHeader('x-amz-id-2', randomBytes(24).toString('base64'));
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    if (rawPath === '/_test/stats') {
      const body = JSON.stringify(stats.operations);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (rawPath === '/_test/fail' && req.method === 'POST') {
      const params = new URLSearchParams(rawQuery);
      const mode = params.get('mode') ?? 'error';
      if (!isFaultMode(mode)) {
        res.writeHead(400).end(`unknown mode ${mode}`);
        return;
      }
      const part = params.get('part');
      const op = params.get('op') ?? '';
      failures.set(op, [...(failures.get(op) ?? []), { times: Number(params.get('times') ?? '1'), mode, part: part === null ? undefined : Number(part) }]);
      res.writeHead(204).end();
      return;
    }
    const method = req.method ?? 'GET';
    let resource = rawPath;
    try {
      const segments = rawPath.split('/');
      const bucketName = decodeURIComponent(segments[1] ?? '');
      const key = decodeURIComponent(segments.slice(2).join('/'));
      resource = key ? `/${bucketName}/${key}` : `/${bucketName}`;
      const query = new Map(queryPairs(rawQuery));
      const signed = { method, rawPath, rawQuery, headers: req.headers };
      // A presigned URL carries its signature in the query: Tessera's download redirects (GET) and
      // the parts direct uploads PUT (S3_DIRECT).
      const payload = query.has('X-Amz-Signature')
        ? verifyPresigned(signed, options.credentials, options.region)
        : verifySignature(signed, options.credentials, options.region);
      if (!bucketName) {
        if (method !== 'GET') throw s3Errors.methodNotAllowed(method, 'SERVICE');
        stats.of('ListBuckets').requests += 1;
        listBuckets({ req, res, bucketName, key, query, payload, storage, region: options.region, stats: stats.of('ListBuckets') });
        return;
      }
      const [name, operation] = route(method, key, query, req.headers);
      const opStats = stats.of(name);
      opStats.requests += 1;
      const fault = failures.get(name)?.find((f) => f.times > 0 && (f.part === undefined || Number(query.get('partNumber')) === f.part));
      const faulty = fault !== undefined;
      if (fault) fault.times -= 1;
      if (fault && fault.mode !== 'flip') {
        if (fault.mode === 'after-body') for await (const _chunk of req);
        else req.resume();
        throw new S3Error('InternalError', 500, 'We encountered an internal error. Please try again.');
      }
      if (req.headers.expect?.toLowerCase() === '100-continue') opStats.expectContinue += 1;
      await operation({ req, res, bucketName, key, query, payload, storage, region: options.region, stats: opStats, flipFirstByte: faulty });
    } catch (error) {
      const s3 = error instanceof S3Error ? error : new S3Error('InternalError', 500, 'We encountered an internal error. Please try again.');
      if (!(error instanceof S3Error)) console.error('s3-server: internal error', error);
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const headers: Record<string, string> = { ...s3.headers };
      if (method === 'HEAD') {
        res.writeHead(s3.status, { ...headers, 'Content-Length': '0' });
        res.end();
        return;
      }
      const body = Buffer.from(errorDocument({ Code: s3.code, Message: s3.message, ...s3.details, Resource: resource, RequestId: requestId }));
      res.writeHead(s3.status, { ...headers, 'Content-Type': 'application/xml', 'Content-Length': String(body.length) });
      res.end(body);
    }
  });
  // Multi-GiB bodies take time; S3 does not cut them.
  server.requestTimeout = 0;
  return { server, stats, storage };
}

type FaultMode = 'error' | 'after-body' | 'flip';
const isFaultMode = (mode: string): mode is FaultMode => mode === 'error' || mode === 'after-body' || mode === 'flip';
