import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pLimit from 'p-limit';
import { CliFailure, firstLine } from './failure.js';
import type { PartRange, TransferTracker } from './transfer-tracker.js';

const MiB = 1024 * 1024;
/** S3's rules: every part but the last at least 5 MiB, at most 10,000 parts. */
const MIN_PART_SIZE = 5 * MiB;
const MAX_PARTS = 10_000;
const DEFAULT_PART_SIZE = 8 * MiB;

/**
 * The parts a file goes to S3 in (`--direct`): `chunkSize` when it is a valid part size, else
 * 8 MiB, raised so that there are at most 10,000; an empty file is one empty part.
 */
export function directPartRanges(size: number, chunkSize: number): PartRange[] {
  const wanted = Number.isFinite(chunkSize) && chunkSize >= MIN_PART_SIZE ? chunkSize : DEFAULT_PART_SIZE;
  const partSize = Math.max(wanted, Math.ceil(size / MAX_PARTS));
  const ranges: PartRange[] = [];
  for (let start = 0; start < size; start += partSize) ranges.push({ start, end: Math.min(size, start + partSize) });
  return ranges.length > 0 ? ranges : [{ start: 0, end: 0 }];
}

export interface DirectTransferOptions {
  /** The tus endpoint given; the direct API is `/s3` on its origin. */
  readonly endpoint: string;
  readonly file: string;
  readonly parts: readonly PartRange[];
  readonly metadata: Readonly<Record<string, string>>;
  /** The file's SHA-256, declared at creation (the server checks the object against it). */
  readonly sha256: Promise<string>;
  /** Headers for Tessera's requests (Authorization); never sent to S3. */
  readonly headers: Readonly<Record<string, string>>;
  /** Parts sent at once. */
  readonly concurrency: number;
  readonly tracker: TransferTracker;
  readonly retryDelays: readonly number[];
  /** A request (to Tessera or to S3) given up when no answer comes within this long. */
  readonly requestTimeoutMs: number;
  readonly onRetry: (attempt: number, delayMs: number, reason: string, status: number | null) => void;
  /** Where the upload's key is kept to resume it (`<state dir>/direct/<fingerprint hash>.json`). */
  readonly stateFile: string;
  readonly resume: boolean;
  /** Said when an earlier upload is resumed. */
  readonly onResume: (stored: number) => void;
}

interface DirectUpload {
  readonly key: string;
  readonly uploadId: string;
  /** The part size the upload was started with: resumed only with the same. */
  readonly partSize: number;
}

/**
 * `tessera upload --direct`: the file goes straight into S3 as presigned parts (S3_DIRECT), each
 * part signed with its MD5 so S3 refuses it if damaged on the way; a refused, failed or lost
 * part is sent again (signed afresh) with the usual retries. Tessera creates the upload (with the
 * file's SHA-256, which it checks against the object), signs, and completes. The upload's key is
 * kept until it completes: a later run resumes it, sending only the parts S3 does not hold with
 * this file's bytes (their ETag is their MD5). Returns the upload's URL on the tus endpoint.
 */
export async function directTransfer(options: DirectTransferOptions): Promise<string> {
  const api = `${new URL(options.endpoint).origin}/s3`;
  const call = (pathAndQuery: string, init: RequestInit = {}) => withRetries(options, `${init.method ?? 'GET'} ${pathAndQuery.split('?')[0]}`, () =>
    fetch(`${api}${pathAndQuery}`, { ...init, headers: { ...options.headers, ...(init.headers as Record<string, string>) }, signal: AbortSignal.timeout(options.requestTimeoutMs) }),
  );
  const json = async <T>(res: Response, what: string): Promise<T> => {
    if (!res.ok) throw answerFailure(res.status, await res.text(), what);
    return (await res.json()) as T;
  };
  const query = (upload: DirectUpload, extra: Record<string, string> = {}) => new URLSearchParams({ key: upload.key, ...extra }).toString();

  const partSize = (options.parts[0]?.end ?? 0) - (options.parts[0]?.start ?? 0);
  let upload = options.resume ? await readState(options.stateFile) : undefined;
  if (upload && upload.partSize !== partSize) {
    // Parts of another size cannot be continued: the earlier upload goes, a new one starts.
    await call(`/multipart/${encodeURIComponent(upload.uploadId)}?${query(upload)}`, { method: 'DELETE' });
    upload = undefined;
  }
  const held = new Map<number, string>();
  if (upload) {
    const listed = await call(`/multipart/${encodeURIComponent(upload.uploadId)}?${query(upload)}`);
    if (listed.status === 404) {
      // Not taking parts any more: completed by the run that was stopped before it heard so?
      const finished = await doneUpload(options, upload.key);
      if (finished) {
        await fs.rm(options.stateFile, { force: true });
        return finished;
      }
      upload = undefined;
    } else {
      for (const part of await json<{ PartNumber: number; ETag: string; Size: number }[]>(listed, 'listing the parts S3 holds')) held.set(part.PartNumber, `${part.Size}:${bare(part.ETag)}`);
    }
  }
  if (!upload) {
    const metadata: Record<string, string> = { ...options.metadata, sha256: await options.sha256 };
    const created = await call('/multipart', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ filename: metadata.filename ?? path.basename(options.file), metadata }) });
    upload = { ...(await json<{ key: string; uploadId: string }>(created, 'creating the upload')), partSize };
    await writeState(options.stateFile, upload);
  }
  const current = upload;

  const handle = await fs.open(options.file, 'r');
  try {
    const etags: string[] = [];
    let resumed = 0;
    const limit = pLimit(Math.max(1, options.concurrency));
    await Promise.all(
      options.parts.map((range, index) =>
        limit(async () => {
          const number = index + 1;
          const bytes = Buffer.alloc(range.end - range.start);
          await handle.read(bytes, 0, bytes.length, range.start);
          const md5 = createHash('md5').update(bytes);
          const md5Hex = md5.copy().digest('hex');
          if (held.get(number) === `${bytes.length}:${md5Hex}`) {
            // S3 holds this part with exactly these bytes: not sent again.
            etags[index] = `"${md5Hex}"`;
            resumed += bytes.length;
            options.tracker.at(index, bytes.length);
            return;
          }
          const md5Base64 = md5.digest('base64');
          etags[index] = await withRetries(options, `part ${number}`, async () => {
            // Signed afresh for every try: a URL may have expired while the part waited.
            const { url } = await json<{ url: string }>(
              await call(`/multipart/${encodeURIComponent(current.uploadId)}/${number}?${query(current, { md5: md5Base64, size: String(bytes.length) })}`),
              `signing part ${number}`,
            );
            const put = await fetch(url, { method: 'PUT', body: bytes, headers: { 'Content-MD5': md5Base64 }, signal: AbortSignal.timeout(options.requestTimeoutMs) });
            const text = await put.text();
            if (!put.ok) throw answerFailure(put.status, s3Message(text), `S3 refused part ${number}`);
            return put.headers.get('etag') ?? `"${md5Hex}"`;
          });
          options.tracker.addSent(bytes.length);
          options.tracker.at(index, bytes.length);
        }),
      ),
    );
    if (resumed > 0) options.onResume(resumed);
    const parts = etags.map((ETag, index) => ({ PartNumber: index + 1, ETag }));
    const completed = await call(`/multipart/${encodeURIComponent(current.uploadId)}/complete?${query(current)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ parts }),
    });
    const { location } = await json<{ location: string }>(completed, 'completing the upload');
    await fs.rm(options.stateFile, { force: true });
    return location;
  } finally {
    await handle.close();
  }
}

/** A failure worth another try: the network, a timeout, 5xx, 429, a damaged part (S3's BadDigest), an expired URL. */
class Retryable extends Error {
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

async function withRetries<T>(options: Pick<DirectTransferOptions, 'retryDelays' | 'onRetry'>, what: string, attempt: () => Promise<T>): Promise<T> {
  for (let tries = 0; ; tries += 1) {
    try {
      const result = await attempt();
      if (result instanceof Response && (result.status >= 500 || result.status === 429)) throw new Retryable(`${what} answered ${result.status}`, result.status);
      return result;
    } catch (error) {
      const retryable = error instanceof Retryable ? error : isNetworkError(error) ? new Retryable(`${what}: ${networkReason(error)}`, null) : undefined;
      if (!retryable) throw error;
      const delay = options.retryDelays[tries];
      if (delay === undefined) throw new CliFailure(retryable.status === null ? 'unreachable' : 'http', `${firstLine(retryable.message)} (gave up after ${tries + 1} tries)`, retryable.status ?? undefined);
      options.onRetry(tries + 1, delay, retryable.message, retryable.status);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/** An answer that is no success: retried when it may pass next time, else the one line it is. */
function answerFailure(status: number, text: string, what: string): Error {
  const line = `${what}: ${status} ${firstLine(text.trim()) || ''}`.trim();
  if (status >= 500 || status === 429 || /BadDigest|expired/i.test(text)) return new Retryable(line, status);
  if (status === 401 || status === 403) return new CliFailure('forbidden', line, status);
  if (status === 413) return new CliFailure('too-large', line, status);
  if (status === 460) return new CliFailure('sha256-mismatch', line, status);
  return new CliFailure('http', line, status);
}

/** S3's XML error as `Code: Message`. */
function s3Message(xml: string): string {
  const code = /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(xml)?.[1];
  return code ? `${code}${message ? `: ${message}` : ''}` : xml;
}

function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError || (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError'));
}

function networkReason(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if ((error as Error).name === 'TimeoutError') return 'no answer in time';
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

const bare = (etag: string) => etag.replace(/^"|"$/g, '');

/** The upload's URL when Tessera holds it done and verified with this file's SHA-256. */
async function doneUpload(options: DirectTransferOptions, key: string): Promise<string | undefined> {
  const url = `${options.endpoint.replace(/\/$/, '')}/${key}`;
  const res = await fetch(url, { method: 'HEAD', headers: { ...options.headers, 'Tus-Resumable': '1.0.0' }, signal: AbortSignal.timeout(options.requestTimeoutMs) }).catch(() => undefined);
  if (res?.status !== 200 || res.headers.get('tessera-upload-status') !== 'done') return undefined;
  return res.headers.get('tessera-sha256') === (await options.sha256) ? url : undefined;
}

async function readState(file: string): Promise<DirectUpload | undefined> {
  try {
    const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<DirectUpload>;
    return typeof parsed.key === 'string' && typeof parsed.uploadId === 'string' && typeof parsed.partSize === 'number'
      ? { key: parsed.key, uploadId: parsed.uploadId, partSize: parsed.partSize }
      : undefined;
  } catch {
    return undefined;
  }
}

async function writeState(file: string, upload: DirectUpload): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temp, JSON.stringify(upload));
  await fs.rename(temp, file);
}
