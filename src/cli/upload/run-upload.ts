import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DetailedError, PreviousUpload } from 'tus-js-client';
import { ANSWER_TIMEOUT_IN_STALL_TIMEOUTS, type ChecksumAlgorithm, type ChunkSizeChange } from '../../client/index.js';
import { formatBytes } from '../format.js';
import { fileFailure, firstLine, CliFailure } from './failure.js';
import { sha256OfFile } from './file-digest.js';
import { splitIntoParts } from './file-range.js';
import { directPartRanges, directTransfer } from './direct-transfer.js';
import type { Notice, Reporter } from './reporters/reporter.js';
import { backoffDelays } from './retry-policy.js';
import { confirmUpload, discoverServer, type ProbeOptions, type ServerCapabilities } from './server-probe.js';
import type { UploadSettings } from './settings.js';
import { TransferTracker } from './transfer-tracker.js';
import { transfer } from './tus-transfer.js';
import { FileUrlStore } from './url-store.js';

/** What `--checksum auto` takes, in this order, among what the server offers. */
const AUTO_CHECKSUMS: readonly ChecksumAlgorithm[] = ['crc32', 'sha256', 'sha512', 'sha1', 'md5'];

/** Parts smaller than this are not worth a request of their own. */
const MIN_PART_SIZE = 1024 * 1024;

/**
 * Uploads one file and returns the exit code: 0 only once the server confirmed it holds
 * the file with the same SHA-256. Every failure is reported once, as one line.
 */
export async function runUpload(settings: UploadSettings, reporter: Reporter, signal: AbortSignal): Promise<number> {
  const run = new UploadRun(settings, reporter, signal);
  try {
    await run.execute();
    return 0;
  } catch (error) {
    const failure =
      error instanceof CliFailure ? error : new CliFailure('internal', error instanceof Error ? error.message : String(error));
    reporter.fail(failure, run.tracker?.snapshot());
    return failure.exitCode;
  }
}

class UploadRun {
  tracker: TransferTracker | undefined;
  private readonly started = performance.now();
  /** Resolves when the user asks to stop (Ctrl-C), with how far the upload got. */
  private readonly interrupted: Promise<CliFailure>;
  private readonly retryDelays: number[];
  private readonly probe: ProbeOptions;

  constructor(
    private readonly settings: UploadSettings,
    private readonly reporter: Reporter,
    signal: AbortSignal,
  ) {
    this.retryDelays = backoffDelays(settings.retries);
    this.interrupted = new Promise((resolve) => {
      const interrupt = () => {
        const at = this.tracker?.snapshot();
        resolve(interruption(at?.uploaded ?? 0, at?.size));
      };
      if (signal.aborted) interrupt();
      else signal.addEventListener('abort', interrupt, { once: true });
    });
    this.probe = {
      headers: settings.headers,
      retryDelays: this.retryDelays,
      stallTimeoutMs: settings.stallTimeoutMs,
      // A HEAD may wait while the server verifies the file: the answer timeout, as for any request once out.
      answerTimeoutMs: ANSWER_TIMEOUT_IN_STALL_TIMEOUTS * settings.stallTimeoutMs,
      onRetry: (attempt, delayMs, reason) => this.retried(attempt, delayMs, reason, null),
    };
  }

  async execute(): Promise<void> {
    const { settings, reporter } = this;
    const file = path.resolve(settings.file);
    const before = await this.stat(file);
    const size = before.size;
    const server = await this.guard(discoverServer(settings.endpoint, this.probe));
    checkServer(settings, server, size);
    // Direct parts carry their MD5 instead (signed into their URLs).
    const checksum = settings.direct ? null : this.chooseChecksum(server);

    // What identifies this file's content and destination without reading it.
    const fingerprint = ['tessera-cli-v1', file, size, before.mtimeMs, settings.endpoint].join('\u0000');
    const store = new FileUrlStore(settings.stateDir);
    const resumeFrom = settings.direct ? undefined : await this.previousUpload(store, fingerprint);
    const parts = resumeFrom ? (resumeFrom.parallelUploadUrls?.length ?? 1) : settings.direct ? 1 : this.partCount(size, server);
    const boundaries = settings.direct ? directPartRanges(size, settings.chunkSize) : parts > 1 ? splitIntoParts(size, parts) : [{ start: 0, end: size }];
    const tracker = new TransferTracker(size, boundaries);
    this.tracker = tracker;
    if (resumeFrom?.parallelUploadUrls) tracker.knowUrls(resumeFrom.parallelUploadUrls);

    // Hashed alongside the transfer: only the POST that creates the file's upload (the
    // first request of a single upload, the last of a parallel one) waits for it.
    const digest = quiet(
      timed(sha256OfFile(file)).catch((error: unknown) => {
        throw fileFailure(settings.file, error);
      }),
    );
    const stop = new Promise<CliFailure>((resolve) => {
      digest.catch((failure: CliFailure) => resolve(failure));
      void this.interrupted.then(resolve);
    });

    reporter.start({
      file: settings.file,
      size,
      endpoint: settings.endpoint,
      parts: boundaries.length,
      chunkSize: settings.direct ? (boundaries[0]?.end ?? 0) - (boundaries[0]?.start ?? 0) : settings.chunkSize,
      checksum,
      resumedFrom: resumeFrom ? { urls: resumeFrom.parallelUploadUrls ?? [resumeFrom.uploadUrl ?? ''] } : null,
    });
    if (resumeFrom) this.resumeNotice(resumeFrom, parts);

    const timer = setInterval(() => reporter.progress(tracker.snapshot()), reporter.intervalMs);
    let url: string;
    try {
      url = settings.direct
        ? await this.guard(
            directTransfer({
              endpoint: settings.endpoint,
              file,
              parts: boundaries,
              metadata: { filename: path.basename(file), ...settings.metadata },
              sha256: quiet(digest.then((d) => d.value)),
              headers: settings.headers,
              concurrency: settings.parallel,
              tracker,
              retryDelays: this.retryDelays,
              requestTimeoutMs: ANSWER_TIMEOUT_IN_STALL_TIMEOUTS * (settings.stallTimeoutMs || 30_000),
              onRetry: (attempt, delayMs, reason, status) => this.retried(attempt, delayMs, reason, status),
              stateFile: path.join(settings.stateDir, 'direct', `${createHash('sha256').update(fingerprint).digest('hex')}.json`),
              resume: settings.resume,
              onResume: (stored) => this.notice({ event: 'resume', message: `resuming the direct upload: S3 holds ${formatBytes(stored)} of this file`, fields: { stored } }),
            }),
          )
        : await transfer({
        settings,
        file,
        size,
        fingerprint,
        boundaries,
        checksum,
        metadata: { filename: path.basename(file), ...settings.metadata },
        sha256: quiet(digest.then((d) => d.value)),
        store,
        resumeFrom,
        tracker,
        retryDelays: this.retryDelays,
        onRetry: ({ attempt, delayMs, error }) => this.retried(attempt, delayMs, retryReason(error), error.originalResponse?.getStatus() ?? null),
        onChunkSizeChange: (change) => this.chunkSizeChanged(change),
        stop,
      });
    } catch (error) {
      throw await forgetIfDiscarded(error, store, fingerprint);
    } finally {
      clearInterval(timer);
    }

    const { value: sha256, ms } = await this.guard(digest);
    this.notice({ event: 'sha256', message: `sha256 ${sha256} (hashed in ${(ms / 1000).toFixed(1)}s)`, fields: { sha256 } });
    const after = await this.stat(file);
    if (after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw new CliFailure('not-verified', `${settings.file} changed while it was being uploaded; run again to upload the new content`);
    }
    try {
      await this.guard(confirmUpload(url, { size, sha256 }, this.probe));
    } catch (error) {
      throw await forgetIfDiscarded(error, store, fingerprint);
    }
    await store.removeByFingerprint(fingerprint);
    const snapshot = tracker.snapshot();
    reporter.progress(snapshot);
    reporter.done({
      url,
      size,
      sha256,
      sentThisRun: snapshot.sentThisRun,
      resumed: resumeFrom !== undefined,
      durationMs: Math.round(performance.now() - this.started),
    });
  }

  /** `work`, unless the user stops first. */
  private guard<T>(work: Promise<T>): Promise<T> {
    return Promise.race([
      work,
      this.interrupted.then((failure) => {
        throw failure;
      }),
    ]);
  }

  private async stat(file: string) {
    const stat = await fs.stat(file).catch((error: unknown) => {
      throw fileFailure(this.settings.file, error);
    });
    if (!stat.isFile()) throw fileFailure(this.settings.file, Object.assign(new Error('not a file'), { code: 'EISDIR' }));
    return stat;
  }

  /** The newest stored upload of this file; older ones are stale and forgotten. */
  private async previousUpload(store: FileUrlStore, fingerprint: string): Promise<PreviousUpload | undefined> {
    if (!this.settings.resume) return undefined;
    const [newest, ...stale] = await store.findUploadsByFingerprint(fingerprint);
    for (const entry of stale) await store.removeUpload(entry.urlStorageKey);
    return newest;
  }

  private partCount(size: number, server: ServerCapabilities): number {
    const requested = this.settings.parallel;
    if (requested <= 1) return 1;
    if (!server.extensions.has('concatenation')) {
      this.notice({ event: 'parts', message: 'the server does not offer concatenation; uploading in one part' });
      return 1;
    }
    const count = Math.min(requested, Math.max(1, Math.floor(size / MIN_PART_SIZE)));
    if (count < requested) {
      this.notice({ event: 'parts', message: `the file is small: uploading in ${count} part${count === 1 ? '' : 's'} instead of ${requested}` });
    }
    return count;
  }

  private resumeNotice(from: PreviousUpload, parts: number): void {
    const when = new Date(from.creationTime);
    const started = Number.isNaN(when.getTime()) ? from.creationTime : when.toISOString().replace(/\.\d+Z$/, 'Z');
    this.notice({
      event: 'resume',
      message: `resuming the upload started ${started} (${parts > 1 ? `${parts} parts` : from.uploadUrl})`,
      fields: { uploadUrl: from.uploadUrl, parallelUploadUrls: from.parallelUploadUrls },
    });
  }

  private retried(attempt: number, delayMs: number, reason: string, status: number | null): void {
    this.notice({
      event: 'retry',
      message: `retry ${attempt}/${this.retryDelays.length} in ${(delayMs / 1000).toFixed(1)}s after: ${reason}`,
      fields: { attempt, delayMs, status, reason },
    });
  }

  /**
   * The per-chunk checksum to send. `auto` (the default) takes crc32, cheap and enough to catch
   * damage on the way (the whole file's SHA-256 is the cryptographic check), or the strongest
   * other one the server offers; a server offering none gets none, said once.
   */
  private chooseChecksum(server: ServerCapabilities): ChecksumAlgorithm | null {
    const { checksum } = this.settings;
    if (checksum !== 'auto') return checksum;
    const chosen = AUTO_CHECKSUMS.find((algorithm) => server.checksumAlgorithms.includes(algorithm));
    if (!chosen) this.notice({ event: 'checksum', message: 'the server offers no chunk checksums: a damaged chunk will be found only by the whole-file SHA-256' });
    return chosen ?? null;
  }

  private chunkSizeChanged(change: ChunkSizeChange): void {
    const chunkSize = change.chunkSize ?? this.settings.chunkSize;
    const size = Number.isFinite(chunkSize) ? formatBytes(chunkSize) : 'whole-part';
    const why = {
      'cut-short': 'a chunk was cut short on the way',
      'checksum-mismatch': 'a chunk arrived damaged',
      stalled: 'the connection stalled mid-chunk',
      recovered: 'chunks get through again',
    }[change.reason];
    this.notice({ event: 'chunk-size', message: `${why}: now sending ${size} chunks`, fields: { chunkSize: Number.isFinite(chunkSize) ? chunkSize : null, reason: change.reason, url: change.url } });
  }

  private notice(notice: Notice): void {
    this.reporter.notice(notice);
  }
}

function checkServer(settings: UploadSettings, server: ServerCapabilities, size: number): void {
  if (server.maxSize !== undefined && size > server.maxSize) {
    throw new CliFailure(
      'too-large',
      `the file is ${formatBytes(size)} (${size} bytes) but the server accepts at most ${formatBytes(server.maxSize)} (${server.maxSize} bytes, Tus-Max-Size) (413)`,
      413,
    );
  }
  if (settings.checksum && settings.checksum !== 'auto' && !server.checksumAlgorithms.includes(settings.checksum)) {
    const offered = server.checksumAlgorithms.join(', ') || 'none';
    throw new CliFailure('usage', `the server does not accept ${settings.checksum} checksums (it offers: ${offered})`);
  }
}

/** A file the server discarded (SHA-256 mismatch) is not worth resuming: forget its URLs. */
async function forgetIfDiscarded(error: unknown, store: FileUrlStore, fingerprint: string): Promise<unknown> {
  if (error instanceof CliFailure && error.kind === 'sha256-mismatch') await store.removeByFingerprint(fingerprint);
  return error;
}

async function timed<T>(work: Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await work;
  return { value, ms: performance.now() - start };
}

function interruption(uploaded: number, size: number | undefined): CliFailure {
  const where = size === undefined ? 'interrupted' : `interrupted at ${formatBytes(uploaded)} of ${formatBytes(size)}`;
  return new CliFailure('interrupted', `${where}; run the same command again to resume`);
}

/** Marks a promise as handled: it is awaited later, or raced, and must not crash the process meanwhile. */
function quiet<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

function retryReason(error: DetailedError): string {
  const res = error.originalResponse;
  if (res) {
    const body = res.getBody().trim().split('\n')[0] ?? '';
    return `${error.originalRequest?.getMethod() ?? 'request'} answered ${res.getStatus()}${body ? ` ${firstLine(body)}` : ''}`;
  }
  return error.causingError?.message ?? error.message.split(',')[0] ?? error.message;
}
