import { createHash, type Hash } from 'node:crypto';
import fs from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc32 } from 'node:zlib';
import { s3Errors, S3Error } from './errors.js';
import type { Exchange } from './exchange.js';
import type { PayloadCheck } from './sigv4.js';

/** What the received bytes were, once they all arrived and matched every declared digest. */
export interface ReceivedBody {
  readonly size: number;
  readonly md5: Buffer;
}

/**
 * Verifies a body as it streams past: length against Content-Length, the signed
 * x-amz-content-sha256, Content-MD5 and an `x-amz-checksum-<algorithm>` header.
 */
class BodyVerifier {
  private readonly md5 = createHash('md5');
  private readonly sha256: Hash | undefined;
  private readonly checksum: { name: string; expected: string; update(chunk: Buffer): void; digest(): string } | undefined;
  private readonly contentMd5: Buffer | undefined;
  size = 0;

  constructor(
    private readonly req: IncomingMessage,
    private readonly payload: PayloadCheck,
    private readonly expectedLength: number | undefined,
  ) {
    if (payload.kind === 'sha256') this.sha256 = createHash('sha256');
    const raw = req.headers['content-md5'];
    const md5Header = Array.isArray(raw) ? raw.join(',') : raw;
    if (md5Header !== undefined) {
      const decoded = Buffer.from(md5Header, 'base64');
      if (decoded.length !== 16 || decoded.toString('base64') !== md5Header.trim()) throw s3Errors.invalidDigest();
      this.contentMd5 = decoded;
    }
    this.checksum = checksumOf(req);
  }

  update(chunk: Buffer): void {
    this.size += chunk.length;
    this.md5.update(chunk);
    this.sha256?.update(chunk);
    this.checksum?.update(chunk);
  }

  /** Throws the S3 error for the first check the complete body fails. */
  finish(): ReceivedBody {
    if (!this.req.complete || (this.expectedLength !== undefined && this.size !== this.expectedLength)) {
      throw s3Errors.incompleteBody();
    }
    const md5 = this.md5.digest();
    if (this.sha256 && this.payload.kind === 'sha256' && this.sha256.digest('hex') !== this.payload.hex) {
      throw s3Errors.contentSha256Mismatch();
    }
    if (this.contentMd5 && !this.contentMd5.equals(md5)) throw s3Errors.badDigest();
    if (this.checksum && this.checksum.digest() !== this.checksum.expected) throw s3Errors.badChecksum(this.checksum.name);
    return { size: this.size, md5 };
  }

  get hasIntegrityHeader(): boolean {
    return this.contentMd5 !== undefined || this.checksum !== undefined;
  }
}

function checksumOf(req: IncomingMessage): BodyVerifier['checksum'] {
  const declared = Object.keys(req.headers).filter((h) => h.startsWith('x-amz-checksum-') && h !== 'x-amz-checksum-type');
  if (declared.length === 0) return undefined;
  if (declared.length > 1) throw s3Errors.invalidRequest('Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
  const name = declared[0] as string;
  const expected = String(req.headers[name]).trim();
  const algorithm = name.slice('x-amz-checksum-'.length);
  if (algorithm === 'sha256' || algorithm === 'sha1') {
    const hash = createHash(algorithm);
    return { name: algorithm.toUpperCase(), expected, update: (c) => hash.update(c), digest: () => hash.digest('base64') };
  }
  if (algorithm === 'crc32') {
    let value = 0;
    return {
      name: 'CRC32',
      expected,
      update: (c) => {
        value = crc32(c, value);
      },
      digest: () => {
        const out = Buffer.alloc(4);
        out.writeUInt32BE(value >>> 0);
        return out.toString('base64');
      },
    };
  }
  throw s3Errors.notImplemented(`${name} is not implemented by this server`);
}

/** Content-Length as S3 requires it on uploads (no chunked transfer encoding). */
export function requiredLength(req: IncomingMessage): number {
  const raw = req.headers['content-length'];
  if (raw === undefined) throw s3Errors.missingContentLength();
  const length = Number(raw);
  if (!Number.isSafeInteger(length) || length < 0) throw s3Errors.missingContentLength();
  return length;
}

/** Streams the body into `file`; on any failure the file is removed and the S3 error thrown. */
export async function receiveToFile(
  req: IncomingMessage,
  payload: PayloadCheck,
  file: string,
  onBytes: (n: number) => void,
  flipFirstByte = false,
): Promise<ReceivedBody> {
  const verifier = new BodyVerifier(req, payload, requiredLength(req));
  let flip = flipFirstByte;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      if (flip && chunk.length > 0) {
        chunk = Buffer.from(chunk);
        chunk[0] = (chunk[0] as number) ^ 0xff;
        flip = false;
      }
      verifier.update(chunk);
      onBytes(chunk.length);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(req, tap, fs.createWriteStream(file));
    return verifier.finish();
  } catch (error) {
    await fs.promises.rm(file, { force: true });
    throw error instanceof S3Error ? error : s3Errors.incompleteBody();
  }
}

/** An object's or part's bytes into `file`, counted in the operation's stats (and damaged when a test fault says so). */
export function receiveUpload(ex: Exchange, file: string): Promise<ReceivedBody> {
  return receiveToFile(
    ex.req,
    ex.payload,
    file,
    (n) => {
      ex.stats.bytesIn += n;
    },
    ex.flipFirstByte,
  );
}

/** Reads a small XML request body into memory; `requireIntegrity` for DeleteObjects. */
export async function receiveDocument(
  req: IncomingMessage,
  payload: PayloadCheck,
  onBytes: (n: number) => void,
  options: { requireIntegrity?: boolean } = {},
): Promise<string> {
  const verifier = new BodyVerifier(req, payload, req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']));
  if (options.requireIntegrity && !verifier.hasIntegrityHeader) throw s3Errors.missingSecurityHeader('Content-MD5');
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    total += buffer.length;
    if (total > 2 * 1024 * 1024) throw s3Errors.malformedXml();
    verifier.update(buffer);
    onBytes(buffer.length);
    chunks.push(buffer);
  }
  verifier.finish();
  return Buffer.concat(chunks).toString('utf8');
}
