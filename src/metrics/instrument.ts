import type { Server as TusServer } from '@tus/server';
import { EVENTS, type Lock, type Upload } from '@tus/utils';
import { TusError } from '../errors.js';
import type { ManagedLocker } from '../locking/managed-locker.js';
import type { TusExtension } from '../tus/extension.js';
import type { TesseraEvents } from '../tus/completion/tessera-events.js';
import type { TesseraMetrics } from './metrics.js';

/** Counts lifecycle events into the metrics. */
export function observeEvents(metrics: TesseraMetrics, tus: TusServer, events: TesseraEvents): void {
  tus.on(EVENTS.POST_CREATE, (req: Request, _upload: Upload) => {
    metrics.uploadsCreated.inc({ kind: req.headers.get('upload-concat') === 'partial' ? 'partial' : 'single' });
  });
  events.on('final-created', () => metrics.uploadsCreated.inc({ kind: 'final' }));
  events.on('file-ready', () => metrics.filesReady.inc());
  events.on('partial-finished', () => metrics.partialsFinished.inc());
  events.on('upload-failed', () => metrics.uploadsFailed.inc());
  events.on('final-assembled', ({ ok }) => metrics.assemblies.inc({ outcome: ok ? 'verified' : 'failed' }));
}

/**
 * A metrics-only extension: counts kept bytes from the offset each write returns (no
 * per-chunk work on the hot path) and 460s from checksum failures.
 */
export function metricsExtension(metrics: TesseraMetrics): TusExtension {
  return {
    names: [],
    writeGuards: [
      async (write, stream, upload) => {
        try {
          const offset = await write(stream);
          // Never below the start: a counter cannot go down (and a metric must not fail a request).
          metrics.bytesReceived.inc(Math.max(0, offset - upload.offset));
          return offset;
        } catch (error) {
          if (error instanceof TusError && error.code === 'ERR_CHECKSUM_MISMATCH') metrics.checksumMismatches.inc();
          throw error;
        }
      },
    ],
  };
}

/** Times every lock acquisition and counts the ones that gave up. */
export function instrumentLocker<L extends ManagedLocker>(locker: L, metrics: TesseraMetrics): L {
  const newLock = locker.newLock.bind(locker);
  locker.newLock = (id: string): Lock => {
    const lock = newLock(id);
    const acquire = lock.lock.bind(lock);
    lock.lock = async (signal, requestRelease) => {
      const stop = metrics.lockWait.startTimer();
      try {
        await acquire(signal, requestRelease);
      } catch (error) {
        if (error instanceof TusError && error.status_code === 423) metrics.lockTimeouts.inc();
        throw error;
      } finally {
        stop();
      }
    };
    return lock;
  };
  return locker;
}
