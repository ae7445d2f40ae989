import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Prometheus metrics of one instance. Every series counts only this instance's own work,
 * so summing a scrape of every instance gives the cluster's totals.
 */
export class TesseraMetrics {
  readonly registry = new Registry();
  readonly uploadsCreated = new Counter({
    name: 'tessera_uploads_created_total',
    help: 'Uploads created, by kind (single, partial, final)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly filesReady = new Counter({
    name: 'tessera_uploads_finished_total',
    help: 'Files finished and verified (ordinary and final uploads; partials are not files)',
    registers: [this.registry],
  });
  readonly partialsFinished = new Counter({
    name: 'tessera_partials_finished_total',
    help: 'Partial uploads that received their last byte',
    registers: [this.registry],
  });
  readonly uploadsFailed = new Counter({
    name: 'tessera_uploads_failed_total',
    help: 'Uploads that failed whole-file verification or assembly',
    registers: [this.registry],
  });
  readonly bytesReceived = new Counter({
    name: 'tessera_bytes_received_total',
    help: 'Request body bytes kept by the store',
    registers: [this.registry],
  });
  readonly bytesDiscarded = new Counter({
    name: 'tessera_bytes_discarded_total',
    help: 'Checksummed request body bytes received and then discarded, by reason: cut-short (ended before it could be verified), checksum-mismatch (460), invalid-checksum (trailer missing or bad)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  readonly checksumMismatches = new Counter({
    name: 'tessera_checksum_mismatches_total',
    help: 'PATCH bodies refused with 460 because Upload-Checksum did not match',
    registers: [this.registry],
  });
  readonly assemblies = new Counter({
    name: 'tessera_assemblies_total',
    help: 'Final uploads assembled by this instance, by outcome',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly lockWait = new Histogram({
    name: 'tessera_lock_wait_seconds',
    help: 'Time spent acquiring upload locks',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 3, 10, 30],
    registers: [this.registry],
  });
  readonly lockTimeouts = new Counter({
    name: 'tessera_lock_timeouts_total',
    help: 'Lock acquisitions that gave up (answered 423)',
    registers: [this.registry],
  });

  readonly hookInvocations = new Counter({
    name: 'tessera_hook_invocations_total',
    help: 'HTTP hook requests sent, by hook (every try counts)',
    labelNames: ['hook'] as const,
    registers: [this.registry],
  });
  readonly hookErrors = new Counter({
    name: 'tessera_hook_errors_total',
    help: 'HTTP hook requests that failed (unreachable, timed out, not 2xx, no JSON), by hook',
    labelNames: ['hook'] as const,
    registers: [this.registry],
  });
  readonly hookDeliverySeconds = new Histogram({
    name: 'tessera_hook_delivery_seconds',
    help: 'From recording a post-finish/post-terminate in the outbox to the receiver answering 2xx',
    labelNames: ['hook'] as const,
    buckets: [0.05, 0.25, 1, 5, 30, 120, 600, 3600, 86400],
    registers: [this.registry],
  });
  readonly hookOutboxDepth = new Gauge({
    name: 'tessera_hook_outbox_depth',
    help: 'Hook notifications recorded and not delivered yet (as of the last delivery pass)',
    registers: [this.registry],
  });
  readonly hookOutboxOldestSeconds = new Gauge({
    name: 'tessera_hook_outbox_oldest_seconds',
    help: 'Age of the oldest undelivered hook notification (as of the last delivery pass)',
    registers: [this.registry],
  });

  /** Where the whole-file work gauge reads from (set once the limiter exists). */
  private heavyWorkSource: { readonly activeCount: number; readonly pendingCount: number } | undefined;
  readonly heavyWork = new Gauge({
    name: 'tessera_whole_file_work',
    help: 'Assemblies and read-back verifications in this instance: running (at most MAX_CONCURRENT_ASSEMBLIES) and queued',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: () => {
      this.heavyWork.set({ state: 'running' }, this.heavyWorkSource?.activeCount ?? 0);
      this.heavyWork.set({ state: 'queued' }, this.heavyWorkSource?.pendingCount ?? 0);
    },
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'tessera_' });
  }

  /** Reports the limiter of whole-file work in `tessera_whole_file_work`. */
  observeHeavyWork(source: { readonly activeCount: number; readonly pendingCount: number }): void {
    this.heavyWorkSource = source;
  }
}
