import { createHash, randomInt } from 'node:crypto';
import type http from 'node:http';
import * as tus from 'tus-js-client';
import { withChecksum } from '../../src/client/index.js';
import type { SoakCounters } from './counters.js';

const KiB = 1024;
const MiB = 1024 * KiB;

export interface LoopOptions {
  readonly endpoint: string;
  /** Random bytes every upload takes a slice of. */
  readonly pool: Buffer;
  readonly maxBytes: number;
  /** No new upload starts after this time (ms since the epoch). */
  readonly deadline: number;
  /** Aborts whatever is still running (the grace period is over). */
  readonly stop: AbortSignal;
  readonly agent: http.Agent;
  readonly counters: SoakCounters;
}

/** One simulated client: uploads one file after another until the deadline. */
export async function uploadLoop(options: LoopOptions): Promise<void> {
  while (Date.now() < options.deadline && !options.stop.aborted) await oneUpload(options);
}

const pick = <T>(items: readonly T[]): T => items[randomInt(items.length)] as T;

/** Log-uniform between 64 KiB and `max`: many small files, some big ones. */
function fileSize(max: number): number {
  const min = 64 * KiB;
  return Math.round(Math.exp(Math.log(min) + Math.random() * (Math.log(max) - Math.log(min))));
}

/**
 * One file through tus-js-client with a declared sha256: plain or `parallelUploads` (partials
 * + final), with or without per-chunk checksums, aborted up to twice mid-way and resumed —
 * by the same client object, or by a fresh one from the upload URL as after a restart. It
 * counts as verified only when the server's Tessera-Sha256 equals the client's digest;
 * afterwards it is deleted (with its partials) so the disk stays bounded.
 */
function oneUpload(o: LoopOptions): Promise<void> {
  const { counters } = o;
  const size = fileSize(o.maxBytes);
  const from = randomInt(0, o.pool.length - size + 1);
  const data = o.pool.subarray(from, from + size);
  const digest = createHash('sha256').update(data).digest('hex');
  const parallel = Math.random() < 0.25 ? randomInt(2, 5) : 1;
  const base = new tus.DefaultHttpStack({ agent: o.agent });
  const httpStack = Math.random() < 0.33 ? withChecksum(base, { algorithm: 'sha1' }) : base;
  let abortsLeft = Math.random() < 0.5 ? randomInt(1, 3) : 0;
  let abortAt = Math.random() * size;
  let partials: string[] = [];
  let lastRequest = { what: 'nothing yet', at: Date.now() };
  counters.started += 1;

  return new Promise<void>((resolve) => {
    let settled = false;
    let verifying = false;
    // Between an abort and its resume: progress events still in flight must not pause again,
    // or two clients would end up uploading the same file at once.
    let paused = false;
    let current: tus.Upload;
    const settle = () => {
      if (settled) return;
      settled = true;
      o.stop.removeEventListener('abort', cutShort);
      resolve();
    };
    const cutShort = () => {
      // A finished upload being verified is let through: that takes one HEAD.
      if (settled || verifying) return;
      counters.cutAtEnd += 1;
      const ageS = ((Date.now() - lastRequest.at) / 1000).toFixed(1);
      counters.stalls.push(`${size} B, ${parallel} part(s), paused ${paused}: last ${lastRequest.what} ${ageS} s before the stop`);
      void current.abort();
      settle();
    };
    const resume = () => {
      paused = false;
      // The aborted request may have finished the upload anyway (onSuccess came first).
      if (settled || verifying || o.stop.aborted) return;
      if (parallel === 1 && current.url && Math.random() < 0.5) {
        counters.freshResumes += 1;
        current = new tus.Upload(data, { ...settings, uploadUrl: current.url });
      }
      current.start();
    };
    const settings: tus.UploadOptions = {
      endpoint: o.endpoint,
      chunkSize: pick([512 * KiB, MiB, 4 * MiB, Number.POSITIVE_INFINITY]),
      parallelUploads: parallel,
      metadata: { filename: 'soak.bin', sha256: digest },
      retryDelays: [200, 500, 1000, 2000, 4000, 8000],
      storeFingerprintForResuming: false,
      httpStack,
      onBeforeRequest: (req) => {
        counters.requests += 1;
        lastRequest = { what: `${req.getMethod()} ${req.getURL()}`, at: Date.now() };
        const concat = req.getHeader('Upload-Concat');
        if (concat?.startsWith('final;')) partials = concat.slice('final;'.length).trim().split(' ');
      },
      onAfterResponse: (req, res) => {
        if (res.getStatus() >= 400) {
          counters.errorResponse(`${req.getMethod()} → ${res.getStatus()} ${(res.getBody() ?? '').trim().slice(0, 120)}${settled || verifying ? ' (late)' : ''}`);
        }
        // tus-js-client may still complete a request of an aborted run after the upload
        // finished and was deleted (e.g. a parallel upload's final POST): not this upload's
        // outcome any more, counted apart.
        if (settled || verifying) counters.late += 1;
        else counters.status(res.getStatus());
      },
      onProgress: (sent) => {
        if (abortsLeft === 0 || sent < abortAt || settled || paused) return;
        paused = true;
        abortsLeft -= 1;
        abortAt = sent + Math.random() * (size - sent);
        counters.aborts += 1;
        void current.abort().then(() => setTimeout(resume, randomInt(0, 500)));
      },
      onError: (error) => {
        if (settled || verifying) return;
        if (!o.stop.aborted) counters.fail('failed', `${size} B, ${parallel} part(s): ${String(error).slice(0, 200)}`);
        settle();
      },
      onSuccess: () => {
        if (settled || verifying) return;
        verifying = true;
        void verifyAndDelete(current.url ?? '', digest, size, parallel, partials, o).finally(settle);
      },
    };
    current = new tus.Upload(data, settings);
    o.stop.addEventListener('abort', cutShort, { once: true });
    current.start();
  });
}

async function verifyAndDelete(url: string, digest: string, size: number, parallel: number, partials: readonly string[], o: LoopOptions): Promise<void> {
  const { counters } = o;
  const tusHeaders = { 'Tus-Resumable': '1.0.0' };
  try {
    counters.requests += 1;
    const res = await fetch(url, { method: 'HEAD', headers: tusHeaders });
    counters.status(res.status);
    const served = res.headers.get('tessera-sha256');
    if (res.status !== 200 || served !== digest) {
      counters.fail('wrong', `${url}: HEAD ${res.status}, Tessera-Sha256 ${served ?? 'none'}, expected ${digest}`);
      return;
    }
    counters.verified += 1;
    counters.bytesVerified += size;
    if (parallel > 1) counters.finalsVerified += 1;
    for (const target of [url, ...partials]) {
      counters.requests += 1;
      const gone = await fetch(new URL(target, o.endpoint), { method: 'DELETE', headers: tusHeaders });
      counters.status(gone.status);
    }
  } catch (error) {
    counters.fail('wrong', `${url}: verification request failed: ${String(error)}`);
  }
}
