import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';
import type { S3ServerProcess } from './s3-server.js';

type FaultMode = 'error' | 'after-body' | 'flip';
type OperationStats = { requests: number; bytesIn: number; bytesOut: number; bytesCopied: number; expectContinue: number };

/** A real S3 implementation to put the proxy in front of. */
export interface S3Upstream {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** The process answering S3 (frozen with SIGSTOP by tests of an unresponsive S3). */
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 between Tessera and a real S3 implementation (Ceph RGW) that plays
 * the faults of a bad network or a failing S3, with the interface of tools/s3-server: requests
 * and body bytes per S3 operation, and `failNext` (answer 500 at once or after the body, or
 * forward the body with its first byte flipped). Requests go on byte for byte, Host included,
 * so their Signature V4 still holds (a streamed body is UNSIGNED-PAYLOAD: a flipped byte is
 * caught only by Content-MD5 or the ETag, as on a real link).
 */
export async function startS3FaultProxy(upstream: S3Upstream): Promise<S3ServerProcess> {
  const target = new URL(upstream.endpoint);
  const operations: Record<string, OperationStats> = {};
  const failures = new Map<string, { times: number; mode: FaultMode; part: number | undefined }[]>();

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const name = operationOf(req.method ?? 'GET', url, req.headers);
    const stats = (operations[name] ??= { requests: 0, bytesIn: 0, bytesOut: 0, bytesCopied: 0, expectContinue: 0 });
    stats.requests += 1;
    if (String(req.headers.expect ?? '').toLowerCase() === '100-continue') stats.expectContinue += 1;
    // Bytes an UploadPartCopy has S3 copy inside itself (never crossing this proxy), from its range.
    const range = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers['x-amz-copy-source-range'] ?? ''));
    if (name === 'UploadPartCopy' && range) stats.bytesCopied += Number(range[2]) - Number(range[1]) + 1;
    const fault = failures.get(name)?.find((f) => f.times > 0 && (f.part === undefined || Number(url.searchParams.get('partNumber')) === f.part));
    if (fault) fault.times -= 1;
    if (fault && fault.mode !== 'flip') {
      const fail = () => {
        const body = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message></Error>';
        res.writeHead(500, { 'Content-Type': 'application/xml', 'Content-Length': Buffer.byteLength(body) }).end(body);
      };
      if (fault.mode === 'after-body') req.on('end', fail).resume();
      else {
        req.resume();
        fail();
      }
      return;
    }
    const forward = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers });
    forward.once('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      // Object bytes out, as tools/s3-server counts them (not the XML answers of other operations).
      if (name === 'GetObject') {
        answer.on('data', (chunk: Buffer) => {
          stats.bytesOut += chunk.length;
        });
      }
      answer.pipe(res);
    });
    forward.once('error', () => res.destroy());
    req.once('aborted', () => forward.destroy());
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback: TransformCallback) {
        stats.bytesIn += chunk.length;
        callback(null, chunk);
      },
    });
    req.pipe(counted);
    (fault?.mode === 'flip' ? counted.pipe(new FirstByteFlip()) : counted).pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    pid: upstream.pid,
    region: upstream.region,
    credentials: upstream.credentials,
    stats: async () => structuredClone(operations),
    async failNext(operation, times = 1, fault = {}) {
      failures.set(operation, [...(failures.get(operation) ?? []), { times, mode: fault.mode ?? 'error', part: fault.part }]);
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await upstream.stop();
    },
  };
}

/** The S3 operation a request is, named as the SDK and tools/s3-server name them. */
function operationOf(method: string, url: URL, headers: http.IncomingHttpHeaders): string {
  const [, , ...keyParts] = url.pathname.split('/');
  const hasKey = keyParts.join('/') !== '';
  const query = url.searchParams;
  if (!hasKey) {
    if (method === 'PUT') return 'CreateBucket';
    if (method === 'HEAD') return 'HeadBucket';
    if (method === 'DELETE') return 'DeleteBucket';
    if (method === 'POST' && query.has('delete')) return 'DeleteObjects';
    if (method === 'GET') return query.has('uploads') ? 'ListMultipartUploads' : query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
    return `${method}Bucket`;
  }
  if (method === 'PUT') {
    if (query.has('uploadId') || query.has('partNumber')) return 'x-amz-copy-source' in headers ? 'UploadPartCopy' : 'UploadPart';
    return 'x-amz-copy-source' in headers ? 'CopyObject' : 'PutObject';
  }
  if (method === 'GET') return query.has('uploadId') ? 'ListParts' : 'GetObject';
  if (method === 'HEAD') return 'HeadObject';
  if (method === 'DELETE') return query.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
  if (method === 'POST') return query.has('uploads') ? 'CreateMultipartUpload' : query.has('uploadId') ? 'CompleteMultipartUpload' : 'PostObject';
  return method;
}

/** Flips the first byte of a body: the damage a bad link does on the way. */
class FirstByteFlip extends Transform {
  private flipped = false;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.flipped || chunk.length === 0) return callback(null, chunk);
    this.flipped = true;
    const copy = Buffer.from(chunk);
    copy[0] = (copy[0] as number) ^ 0xff;
    callback(null, copy);
  }
}
