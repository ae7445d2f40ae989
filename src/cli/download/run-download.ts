import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { parse as parseDisposition } from 'content-disposition';
import { formatBytes } from '../format.js';
import { CliFailure, firstLine, networkCause, retries as retriesText } from '../upload/failure.js';
import { plainRequest } from '../upload/plain-http.js';
import { backoffDelays } from '../upload/retry-policy.js';
import type { DownloadReporter } from './download-reporters.js';
import { beginPartial, bytesLeftBefore, dropPartial, finishPartial, lockPartial, partPathOf, writeFailure, type PartialDownload } from './download-state.js';
import { httpGet, type GetResponse } from './http-get.js';

export interface DownloadSettings {
  readonly url: string;
  /** Where to write; a directory takes the server's filename; undefined: the server's filename here. */
  readonly file: string | undefined;
  /** Extra request headers (credentials): sent to the server, never to a store it redirects to. */
  readonly headers: Readonly<Record<string, string>>;
  readonly retries: number;
  readonly json: boolean;
  /** Replace a file that already exists at the target. */
  readonly force: boolean;
}

/** What the server says about the file before any byte is fetched. */
interface Probe {
  readonly size: number;
  readonly etag: string | undefined;
  readonly filename: string | undefined;
  /** The SHA-256 the server verified, hex; undefined when it reports none. */
  readonly sha256: string | undefined;
}

const reSha256Etag = /^"sha256-([0-9a-f]{64})"$/;

/**
 * Downloads a done upload to a file, resuming what an earlier run left (`Range` + `If-Range`,
 * the bytes kept in `<file>.tessera-part`), retrying with backoff, and checks the whole file
 * against the SHA-256 the server reports before the file takes its name. Returns the exit code.
 */
export async function runDownload(settings: DownloadSettings, reporter: DownloadReporter, signal: AbortSignal): Promise<number> {
  const started = Date.now();
  try {
    const probe = await probeFile(settings, signal);
    const file = await targetFile(settings, probe);
    if (!settings.force && (await fsp.stat(file).catch(() => undefined))) {
      throw new CliFailure('usage', `${file} already exists; pass --force to replace it, or name another file`);
    }
    const expected: PartialDownload = { url: settings.url, etag: probe.etag ?? '', size: probe.size };
    const releaseLock = await lockPartial(file);
    try {
      return await transfer(settings, reporter, signal, { probe, file, expected, started });
    } finally {
      await releaseLock();
    }
  } catch (error) {
    const failure = error instanceof CliFailure ? error : new CliFailure('internal', (error as Error).message.split('\n')[0] ?? 'download failed');
    reporter.fail(failure);
    return failure.exitCode;
  }
}

/** The download itself, its part file locked by this run. */
async function transfer(
  settings: DownloadSettings,
  reporter: DownloadReporter,
  signal: AbortSignal,
  { probe, file, expected, started }: { probe: Probe; file: string; expected: PartialDownload; started: number },
): Promise<number> {
  let received = 0;
  {
    // Without a validator a later run could not know the bytes are still the same file's.
    const kept = probe.etag ? await bytesLeftBefore(file, expected) : 0;
    await beginPartial(file, expected, kept).catch((error: unknown) => {
      throw writeFailure(file, error);
    });
    reporter.start({ url: settings.url, file, size: probe.size, resumedAt: kept });
    if (kept > 0) reporter.notice({ event: 'resume', message: `resuming at ${formatBytes(kept)} of ${formatBytes(probe.size)}`, fields: { offset: kept } });

    // What the part file holds: read from it after every attempt, never counted on the way
    // (chunks in flight when a connection breaks never reach it).
    let have = kept;
    let inFlight = 0;
    const progress = () =>
      reporter.progress({ received: Math.min(have + inFlight, probe.size), size: probe.size, receivedThisRun: received, elapsedMs: Date.now() - started });
    const ticker = setInterval(progress, reporter.intervalMs);
    try {
      const delays = backoffDelays(settings.retries);
      let failures = 0;
      while (have < probe.size) {
        const before = have;
        try {
          inFlight = 0;
          await fetchRest(settings, file, probe, have, signal, {
            onBytes: (bytes) => {
              inFlight += bytes;
              received += bytes;
            },
            onRestart: () => {
              reporter.notice({ event: 'restart', message: `the server sent the whole file (it changed, or ranges are not served): starting over` });
              have = 0;
            },
          });
          have = await partLength(file);
          if (have < probe.size) throw new Error('the connection closed before the end of the file');
        } catch (error) {
          have = await partLength(file);
          inFlight = 0;
          if (signal.aborted) throw new CliFailure('interrupted', `interrupted at ${formatBytes(have)} of ${formatBytes(probe.size)}; run the same command again to resume`);
          // The disk, not the network: no retry helps.
          if (isLocalWriteError(error)) throw writeFailure(file, error);
          if (error instanceof CliFailure && error.kind !== 'http') throw error;
          if (error instanceof CliFailure && (error.status ?? 0) < 500) throw error;
          // Progress since the last failure earns a fresh set of retries.
          failures = have > before ? 1 : failures + 1;
          if (failures > settings.retries) throw giveUp(settings, error);
          const wait = delays[failures - 1] ?? 0;
          reporter.notice({ event: 'retry', message: `${describe(error)}; retrying in ${wait / 1000}s from ${formatBytes(have)}`, fields: { attempt: failures, offset: have } });
          await delay(wait, undefined, { signal }).catch(() => undefined);
        }
      }
    } finally {
      clearInterval(ticker);
      progress();
    }

    // Exactly the announced length, or the file is not the server's (a body that ran on, a short one).
    if (have !== probe.size) throw new CliFailure('http', `the server sent ${formatBytes(have)} for a file of ${formatBytes(probe.size)}`);
    const actual = await sha256Of(partPathOf(file));
    if (probe.sha256 && actual !== probe.sha256) {
      await dropPartial(file);
      throw new CliFailure('sha256-mismatch', `the downloaded bytes do not match the server's SHA-256 (${probe.sha256}, got ${actual}); nothing was kept, run again to download afresh`);
    }
    if (!(await finishPartial(file, settings.force))) {
      throw new CliFailure('usage', `${file} appeared while downloading; pass --force to replace it (the download is kept in ${partPathOf(file)})`);
    }
    if (!probe.sha256) reporter.notice({ event: 'sha256', message: `the server reports no SHA-256 for this file: not verified (local SHA-256 ${actual})`, fields: { sha256: actual } });
    reporter.done({ url: settings.url, file, size: probe.size, sha256: actual, verified: probe.sha256 !== undefined, receivedThisRun: received, resumed: kept > 0, durationMs: Date.now() - started });
    return 0;
  }
}

/** How many bytes the part file holds now. */
async function partLength(file: string): Promise<number> {
  return (await fsp.stat(partPathOf(file)).catch(() => undefined))?.size ?? 0;
}

/** Failures of the local file system: a full disk, no permission, a read-only mount... */
const LOCAL_WRITE_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EISDIR', 'EIO', 'EFBIG', 'ENAMETOOLONG', 'ENOTDIR']);
function isLocalWriteError(error: unknown): boolean {
  return LOCAL_WRITE_CODES.has((error as NodeJS.ErrnoException | undefined)?.code ?? '');
}

/** The file's size, validator, name and verified digest: a one-byte ranged GET, and a tus HEAD for the digest. */
async function probeFile(settings: DownloadSettings, signal: AbortSignal): Promise<Probe> {
  const res = await withRetries(settings, signal, () => httpGet(settings.url, { Range: 'bytes=0-0' }, settings.headers, signal));
  res.body.resume();
  let size: number | undefined;
  if (res.status === 206 || res.status === 416) size = Number(/\/(\d+)$/.exec(res.header('content-range') ?? '')?.[1]);
  else if (res.status === 200) size = Number(res.header('content-length'));
  else throw statusFailure(res, settings.url);
  if (size === undefined || !Number.isSafeInteger(size)) throw new CliFailure('http', `the server did not say how large ${settings.url} is`);
  // The server's own ETag (before a redirect to S3) carries its verified digest; else ask HEAD.
  const first = await withRetries(settings, signal, () => plainRequest(settings.url, 'HEAD', { 'Tus-Resumable': '1.0.0', ...settings.headers }));
  const fromHead = first.status === 200 ? first.header('tessera-sha256') : undefined;
  const etag = res.header('etag');
  const sha256 = reSha256Etag.exec(etag ?? '')?.[1] ?? (fromHead && /^[0-9a-f]{64}$/.test(fromHead) ? fromHead : undefined);
  return { size, etag, filename: filenameOf(res.header('content-disposition')), sha256 };
}

/**
 * Fetches from `have` to the end into the part file: `onBytes` counts what is written,
 * `onRestart` says the server sent the whole file instead. Returns the part file's new length.
 */
async function fetchRest(
  settings: DownloadSettings,
  file: string,
  probe: Probe,
  have: number,
  signal: AbortSignal,
  on: { onBytes(bytes: number): void; onRestart(): void },
): Promise<void> {
  const headers: Record<string, string> = { Range: `bytes=${have}-` };
  if (probe.etag && have > 0) headers['If-Range'] = probe.etag;
  const res = await httpGet(settings.url, headers, settings.headers, signal);
  const size = probe.size;
  let start: number;
  if (res.status === 206) {
    // Exactly the rest of this file: from where the part ends to its last byte, of its size.
    const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(res.header('content-range') ?? '');
    if (!range || Number(range[1]) !== have || Number(range[2]) !== size - 1 || Number(range[3]) !== size) {
      res.body.resume();
      throw new CliFailure('http', `the server sent ${res.header('content-range') ?? 'no Content-Range'} for bytes ${have}-${size - 1} of ${size}`);
    }
    start = have;
  } else if (res.status === 200) {
    // The whole file again: it changed since the part was fetched, or ranges are not served.
    const length = res.header('content-length');
    if (length !== undefined && Number(length) !== size) {
      res.body.resume();
      throw new CliFailure('http', `the server sent a file of ${length} bytes, not the ${size} it announced`);
    }
    start = 0;
  } else {
    res.body.resume();
    throw statusFailure(res, settings.url);
  }
  let taken = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      taken += chunk.length;
      // Never more than the file has: a body that runs on is cut, not written.
      if (start + taken > size) return callback(new CliFailure('http', `the server sent more than the ${size} bytes the file has`));
      on.onBytes(chunk.length);
      callback(null, chunk);
    },
  });
  if (start === 0 && have > 0) {
    await fsp.truncate(partPathOf(file), 0);
    on.onRestart();
  }
  await pipeline(res.body, counter, fs.createWriteStream(partPathOf(file), { flags: 'r+', start }), { signal });
}

/** Where the file goes: as given, inside a given directory, or under the server's filename here. */
async function targetFile(settings: DownloadSettings, probe: Probe): Promise<string> {
  const fallback = safeName(probe.filename) ?? safeName(lastSegmentOf(settings.url)) ?? 'download';
  if (settings.file === undefined) return path.resolve(fallback);
  const stats = await fsp.stat(settings.file).catch(() => undefined);
  return stats?.isDirectory() ? path.resolve(settings.file, fallback) : path.resolve(settings.file);
}

/**
 * A server-given name as a plain file name here: no directories, no control characters, not
 * hidden (leading dots and spaces go, in any order), and short enough for its part files'
 * names (255 bytes) with its extension kept.
 */
function safeName(name: string | undefined): string | undefined {
  const base = path.basename((name ?? '').replace(/[\x00-\x1f\x7f]/g, '').replace(/\\/g, '/')).replace(/^[\s.]+/, '').trim();
  return base === '' ? undefined : fitName(base, MAX_NAME_BYTES);
}

/** Room for `.tessera-part.json` after the name, within 255 bytes. */
const MAX_NAME_BYTES = 255 - Buffer.byteLength('.tessera-part.json');

/** `name` cut to `maxBytes` of UTF-8, the stem shortened (never mid-character), the extension kept. */
function fitName(name: string, maxBytes: number): string {
  if (Buffer.byteLength(name) <= maxBytes) return name;
  // Up to two short extensions (.tar.gz) stay whole.
  const extension = /(?:\.[^.\s]{1,8}){1,2}$/.exec(name)?.[0] ?? '';
  let stem = [...name.slice(0, name.length - extension.length)];
  while (stem.length > 1 && Buffer.byteLength(stem.join('') + extension) > maxBytes) stem = stem.slice(0, -1);
  return stem.join('') + extension;
}

/** The last path segment of a URL, decoded (as is when its escapes are malformed). */
function lastSegmentOf(url: string): string {
  const segment = new URL(url).pathname.split('/').pop() ?? '';
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function filenameOf(disposition: string | undefined): string | undefined {
  if (!disposition) return undefined;
  try {
    return parseDisposition(disposition).parameters.filename;
  } catch {
    return undefined;
  }
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file, { highWaterMark: 1024 * 1024 }), hash);
  return hash.digest('hex');
}

/** Network failures (not HTTP answers) are retried with backoff before giving up. */
async function withRetries<T>(settings: DownloadSettings, signal: AbortSignal, attempt: () => Promise<T>): Promise<T> {
  const delays = backoffDelays(settings.retries);
  for (let tries = 0; ; tries += 1) {
    try {
      return await attempt();
    } catch (error) {
      if (signal.aborted) throw new CliFailure('interrupted', 'interrupted before the download started');
      if (!networkCause(error) || tries >= settings.retries) throw giveUp(settings, error);
      await delay(delays[tries] ?? 0, undefined, { signal }).catch(() => undefined);
    }
  }
}

function statusFailure(res: GetResponse, url: string): CliFailure {
  const status = res.status;
  if (status === 401 || status === 403) return new CliFailure('forbidden', `the server refused the download (${status})`, status);
  if (status === 404 || status === 410) {
    return new CliFailure('http', `no finished upload at ${url} (${status}): it does not exist, is not done yet, or is not yours`, status);
  }
  return new CliFailure('http', `the server answered ${status} to GET ${res.url}`, status);
}

function giveUp(settings: DownloadSettings, error: unknown): CliFailure {
  if (error instanceof CliFailure) return error;
  const cause = networkCause(error);
  if (cause) return new CliFailure('unreachable', `cannot reach ${settings.url}: ${cause.message} (gave up after ${retriesText(settings.retries)})`);
  return new CliFailure('unreachable', `${describe(error)} (gave up after ${retriesText(settings.retries)})`);
}

function describe(error: unknown): string {
  if (error instanceof CliFailure) return error.message;
  return firstLine((error as Error).message) || 'the download failed';
}

