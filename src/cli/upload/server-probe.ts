import { setTimeout as sleep } from 'node:timers/promises';
import { firstLine, networkCause, retries, CliFailure } from './failure.js';
import { plainRequest, type PlainResponse } from './plain-http.js';

export interface ServerCapabilities {
  readonly extensions: ReadonlySet<string>;
  readonly checksumAlgorithms: readonly string[];
  /** Tus-Max-Size, when the server announces one. */
  readonly maxSize: number | undefined;
}

export interface ProbeOptions {
  readonly headers: Readonly<Record<string, string>>;
  readonly retryDelays: readonly number[];
  /** An OPTIONS with nothing moving for this long fails and is retried; 0: never. */
  readonly stallTimeoutMs: number;
  /** The same for a HEAD, which may wait while the server verifies the file. */
  readonly answerTimeoutMs: number;
  readonly onRetry: (attempt: number, delayMs: number, reason: string) => void;
}

/**
 * One request with the CLI's retry rule (network errors, 5xx and 423 are retried after the
 * backoff delays); anything else is the caller's to judge.
 */
async function request(url: string, method: string, options: ProbeOptions): Promise<PlainResponse> {
  for (let attempt = 0; ; attempt += 1) {
    let reason: string;
    try {
      const res = await plainRequest(url, method, { 'Tus-Resumable': '1.0.0', ...options.headers }, method === 'HEAD' ? options.answerTimeoutMs : options.stallTimeoutMs);
      if (res.status < 500 && res.status !== 423) return res;
      reason = `${method} answered ${res.status}`;
      if (attempt >= options.retryDelays.length) return res;
    } catch (error) {
      const cause = networkCause(error);
      if (!cause) throw new CliFailure('unreachable', `cannot reach ${url}: ${(error as Error).message}`);
      if (attempt >= options.retryDelays.length) {
        throw new CliFailure('unreachable', `cannot reach ${url}: ${cause.message} (gave up after ${retries(options.retryDelays.length)})`);
      }
      reason = cause.message;
    }
    const delay = options.retryDelays[attempt] ?? 0;
    options.onRetry(attempt + 1, delay, reason);
    await sleep(delay);
  }
}

/** OPTIONS on the endpoint: is it a tus server, and what does it offer? */
export async function discoverServer(endpoint: string, options: ProbeOptions): Promise<ServerCapabilities> {
  const res = await request(endpoint, 'OPTIONS', options);
  const body = firstLine(res.body);
  if (res.status === 401 || res.status === 403) {
    throw new CliFailure('forbidden', `the server refused the upload (${res.status})${body ? `: ${body}` : ''}`, res.status);
  }
  if (res.status < 200 || res.status > 299 || !res.header('tus-version')) {
    throw new CliFailure('http', `${endpoint} is not a tus endpoint (OPTIONS answered ${res.status}${res.header('tus-version') ? '' : ' without Tus-Version'})`, res.status);
  }
  const list = (name: string) =>
    (res.header(name) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const maxSize = Number(res.header('tus-max-size') ?? '');
  return {
    extensions: new Set(list('tus-extension')),
    checksumAlgorithms: list('tus-checksum-algorithm'),
    maxSize: Number.isSafeInteger(maxSize) && maxSize > 0 ? maxSize : undefined,
  };
}

/**
 * HEAD on the finished upload: the server must say it verified the file (Tessera's
 * `Tessera-Upload-Status: done`) and report the same SHA-256 as the local file.
 */
export async function confirmUpload(url: string, expected: { size: number; sha256: string }, options: ProbeOptions): Promise<void> {
  const res = await request(url, 'HEAD', options);
  const status = res.header('tessera-upload-status');
  const serverSha = res.header('tessera-sha256');
  if (res.status === 460 || status === 'failed') {
    const why = res.header('tessera-error') ?? 'verification failed';
    throw new CliFailure('sha256-mismatch', `the server rejected the uploaded file (460): ${why}; run again to upload afresh`, 460);
  }
  if (res.status !== 200) {
    throw new CliFailure('not-verified', `the server did not confirm the upload: HEAD ${url} answered ${res.status}`, res.status);
  }
  if (status !== 'done' || !serverSha) {
    throw new CliFailure(
      'not-verified',
      `the server did not confirm a verified upload (Tessera-Upload-Status: ${status ?? 'absent'}, Tessera-Sha256: ${serverSha ?? 'absent'}); is it a Tessera server?`,
    );
  }
  if (serverSha !== expected.sha256) {
    throw new CliFailure('sha256-mismatch', `the server holds a file with SHA-256 ${serverSha}, but this file's is ${expected.sha256}`);
  }
  const offset = res.header('upload-offset');
  if (offset !== String(expected.size)) {
    throw new CliFailure('not-verified', `the server holds ${offset ?? 'an unknown number of'} bytes, the file has ${expected.size}`);
  }
}
