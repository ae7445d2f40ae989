import type { Locker } from '@tus/utils';
import pLimit from 'p-limit';
import type { HttpHooksConfig } from '../../config/config.js';
import type { Logger } from '../../logging/logger.js';
import { HookUnavailableError, sendHook, type HookObserver } from './hook-client.js';
import type { HookOutbox } from './hook-outbox.js';
import type { HookRequestBody } from './hook-payload.js';

/** What delivery reports: each try, each delivery's latency, and the outbox at each pass. */
export interface DeliveryMetrics {
  readonly observe: HookObserver;
  delivered(hook: string, seconds: number): void;
  outbox(depth: number, oldestSeconds: number): void;
}

/** Longest wait between two tries of one record. */
const MAX_BACKOFF_MS = 10 * 60_000;
/** How often the outbox is looked through for records due, besides right after a record is added. */
const POLL_MS = 1_000;
/** Records tried at once: a receiver that hangs on some does not hold up the others for long. */
const CONCURRENT_DELIVERIES = 8;

/**
 * Delivers post-finish and post-terminate at least once: each is recorded in the outbox before
 * the request that caused it is answered, then tried (one request at a time per record, under a
 * lock named after it, so with several instances one delivers it) until the receiver answers
 * 2xx, with backoff doubling from HOOKS_HTTP_BACKOFF up to 10 minutes, across restarts, for up
 * to `retryForMs`; then it is dropped and logged as failed. Receivers tell repeats apart by
 * `Tessera.EventId`.
 */
export class HookDelivery {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly outbox: HookOutbox,
    private readonly config: HttpHooksConfig & { readonly retryForMs: number },
    private readonly locker: Locker,
    private readonly log: Logger,
    private readonly metrics: DeliveryMetrics = { observe: () => {}, delivered: () => {}, outbox: () => {} },
  ) {}

  /** Records a notification (durably), then has it sent. */
  async enqueue(body: HookRequestBody): Promise<void> {
    const now = Date.now();
    await this.outbox.put({ eventId: body.Tessera.EventId, body, createdAt: now, attempts: 0, nextAttemptAt: now });
    void this.pass();
  }

  start(): void {
    this.timer ??= setInterval(() => void this.pass(), POLL_MS).unref();
    void this.pass();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One look through the outbox (another right after, if asked for meanwhile). */
  pass(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.deliverDue()
      .catch((error: unknown) => this.log.error({ err: error }, 'hook delivery pass failed'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          void this.pass();
        }
      });
    return this.running;
  }

  private async deliverDue(): Promise<void> {
    const now = Date.now();
    const records = await this.outbox.all();
    this.metrics.outbox(records.length, records[0] ? (now - records[0].createdAt) / 1000 : 0);
    const limit = pLimit(CONCURRENT_DELIVERIES);
    await Promise.all(
      records
        .filter((record) => record.nextAttemptAt <= now)
        .map((record) =>
          limit(async () => {
            const lock = this.locker.newLock(`hook-outbox:${record.eventId}`);
            try {
              await lock.lock(AbortSignal.timeout(1_000), () => undefined);
            } catch {
              return; // another instance is delivering it
            }
            try {
              await this.attempt(record.eventId);
            } finally {
              await lock.unlock();
            }
          }),
        ),
    );
  }

  private async attempt(eventId: string): Promise<void> {
    // Re-read under the lock: another instance may have delivered it meanwhile.
    const current = await this.outbox.get(eventId);
    if (!current) return;
    try {
      // One try here; the outbox does the retrying, across restarts.
      await sendHook({ ...this.config, retries: 0 }, current.body, this.metrics.observe);
      await this.outbox.remove(current.eventId);
      this.metrics.delivered(current.body.Type, (Date.now() - current.createdAt) / 1000);
      this.log.info({ eventId: current.eventId, attempts: current.attempts + 1, latencyMs: Date.now() - current.createdAt }, 'hook delivered');
    } catch (error) {
      if (!(error instanceof HookUnavailableError)) throw error;
      const attempts = current.attempts + 1;
      if (Date.now() - current.createdAt >= this.config.retryForMs) {
        await this.outbox.remove(current.eventId);
        this.log.error({ eventId: current.eventId, attempts, err: error }, 'hook given up: not delivered within HOOKS_RETRY_FOR');
        return;
      }
      const delay = Math.min(MAX_BACKOFF_MS, this.config.backoffMs * 2 ** (attempts - 1));
      // Not if it went meanwhile (delivered by an instance whose lock outlived ours): never resurrect one.
      if (!(await this.outbox.get(current.eventId))) return;
      await this.outbox.put({ ...current, attempts, nextAttemptAt: Date.now() + delay, lastError: error.message });
      this.log.warn({ eventId: current.eventId, attempts, retryInMs: delay, err: error.message }, 'hook not delivered yet');
    }
  }
}
