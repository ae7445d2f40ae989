import '@uppy/core/css/style.min.css';
import '@uppy/dashboard/css/style.min.css';
import './page.css';
import './tus-resume-fix.js';
import Uppy, { type Body, type Meta } from '@uppy/core';
import Dashboard from '@uppy/dashboard';
import Tus from '@uppy/tus';
import AwsS3 from '@uppy/aws-s3';
import { DefaultHttpStack } from 'tus-js-client';
import { withAdaptiveChunks, withChecksum, withStallWatchdog } from '../client/index.js';
import { ConnectionStatus, reasonOf } from './connection-status.js';
import { describeUploadError } from './describe-error.js';
import { forgetStoredUploads } from './forget-upload.js';
import { readSettings, type PageSettings } from './page-settings.js';
import { ResultsView, formatBytes } from './results-view.js';
import { isChunkChecksumMismatch } from './retry-policy.js';
import { SHA256_META_KEY, sha256PreProcessor, type HashedFile } from './sha256-preprocessor.js';
import { verifyUpload } from './verify-upload.js';
import { withOffsetObserver } from './offset-observer.js';
import { wasmHashFactory } from './wasm-hashes.js';

const settings = readSettings(document, window.location);
const results = new ResultsView(required('#results'));
const connection = new ConnectionStatus(required('#connection'));
/** What the server said it holds, by upload URL (partials included). */
const storedOffsets = new Map<string, number>();
required('#settings').textContent = describe(settings);
if (settings.directAvailable) showModeSwitch(required('#mode'), settings.direct);

const uppy = new Uppy<Meta, Body>({ id: 'tessera', autoProceed: false });
uppy.use(Dashboard, {
  inline: true,
  target: '#uppy',
  width: '100%',
  height: 360,
  proudlyDisplayPoweredByUppy: false,
  note: 'Resumable: pause, close the tab or lose the network, then resume where it stopped.',
});
if (settings.direct) {
  // Straight into the bucket: Tessera creates the upload, signs each part and completes it
  // (S3_DIRECT, its /s3 routes as a Companion endpoint); the sha256 metadata the pre-processor
  // adds is verified by the server against the object in S3.
  uppy.use(AwsS3, { companionEndpoint: window.location.origin, shouldUseMultipart: true, limit: 4 });
} else {
  uppy.use(Tus, {
    endpoint: settings.endpoint,
    // @uppy/tus 6 hands every tus-js-client option it does not own straight to tus.Upload:
    // parallelUploads (partials + a final, the concatenation extension), chunkSize, httpStack.
    parallelUploads: settings.parallelUploads,
    chunkSize: settings.chunkSize,
    // Checksummed or not, chunks shrink on a link that keeps cutting them, and a silent
    // connection is given up after 30 s (see withChecksum).
    httpStack: withOffsetObserver(
      settings.checksum
        ? withChecksum(new DefaultHttpStack({}), { algorithm: settings.checksum, createHash: wasmHashFactory, stallTimeoutMs: settings.stallTimeoutMs })
        : withAdaptiveChunks(withStallWatchdog(new DefaultHttpStack({}), { stallTimeoutMs: settings.stallTimeoutMs })),
      (uploadUrl, offset) => {
        storedOffsets.set(uploadUrl, offset);
        connection.clear();
      },
    ),
    onShouldRetry: (err, attempt, _options, next) => {
      const retry = isChunkChecksumMismatch(err) || next(err);
      if (retry) {
        const storedBytes = [...storedOffsets.values()].reduce((sum, offset) => sum + offset, 0);
        connection.retrying({ attempt: attempt + 1, attempts: settings.retryDelays.length, delayMs: settings.retryDelays[attempt] ?? 0, reason: reasonOf(err), storedBytes });
      }
      return retry;
    },
    retryDelays: [...settings.retryDelays],
    removeFingerprintOnSuccess: true,
    limit: 4,
  });
}

const hashes = new Map<string, HashedFile>();
uppy.addPreProcessor(sha256PreProcessor(uppy, settings, (hashed) => hashes.set(hashed.fileId, hashed)));

uppy.on('upload-success', (file, response) => {
  if (!file) return;
  const localSha256 = typeof file.meta[SHA256_META_KEY] === 'string' ? file.meta[SHA256_META_KEY] : undefined;
  const base = { fileName: file.name ?? file.id, bytes: file.size ?? 0, uploadUrl: response.uploadURL, localSha256, hashed: hashes.get(file.id) };
  results.show(file.id, base);
  if (!response.uploadURL || !localSha256) return;
  verifyUpload(response.uploadURL, localSha256).then(
    (verification) => results.show(file.id, { ...base, verification }),
    (error: unknown) => results.show(file.id, { ...base, error: { summary: `Could not ask the server: ${message(error)}` } }),
  );
});

uppy.on('upload-error', (file, error) => {
  if (!file) return;
  const localSha256 = typeof file.meta[SHA256_META_KEY] === 'string' ? file.meta[SHA256_META_KEY] : undefined;
  connection.clear();
  // The upload the failing request addressed (a PATCH or HEAD: its URL is the upload's).
  const request = (error as { originalRequest?: { getMethod(): string; getURL(): string } | null }).originalRequest;
  const uploadUrl = request && request.getMethod() !== 'POST' ? request.getURL() : undefined;
  const failure = describeUploadError(error, { storedBytes: uploadUrl ? storedOffsets.get(uploadUrl) : undefined, size: file.size ?? undefined });
  results.show(file.id, { fileName: file.name ?? file.id, bytes: file.size ?? 0, localSha256, hashed: hashes.get(file.id), error: failure });
  // So that Retry (or adding the file again) starts a fresh upload instead of re-assembling
  // the same bad partials.
  if (failure.wholeFileMismatch && localSha256) void forgetStoredUploads(localSha256);
});

function describe(s: PageSettings): string {
  if (s.direct) return 'straight to S3 in parts of 5 MiB or more · whole-file SHA-256 verified by the server against the object in S3';
  const parallel = s.parallelUploads > 1 ? `${s.parallelUploads} parallel partial uploads (files ≥ ${formatBytes(s.parallelThreshold)})` : 'one upload per file';
  const checksum = s.checksum ? `${s.checksum} checksum on every chunk` : 'no per-chunk checksum';
  return `${parallel} · ${formatBytes(s.chunkSize)} chunks · ${checksum} · whole-file SHA-256 verified by the server`;
}

/** Lets the user choose how files travel: through Tessera (tus) or straight to S3. */
function showModeSwitch(target: HTMLElement, direct: boolean): void {
  const link = document.createElement('a');
  const url = new URL(window.location.href);
  if (direct) url.searchParams.delete('mode');
  else url.searchParams.set('mode', 'direct');
  link.href = url.href;
  link.textContent = direct ? 'send through Tessera (tus) instead' : 'send straight to S3 instead';
  target.append(direct ? 'Files go straight to S3. ' : 'Files go through Tessera (tus). ', link);
  target.hidden = false;
}

function required(selector: string): HTMLElement {
  const found = document.querySelector<HTMLElement>(selector);
  if (!found) throw new Error(`upload page: ${selector} is missing from index.html`);
  return found;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
