import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** What instances tell each other about one lock. */
export type LockEvent = 'released' | 'release-requested';

export type LockEventListener = (event: LockEvent) => void;

// Enough to recognise the copies of one message that arrive through each master.
const REMEMBERED_MESSAGES = 1024;

/**
 * Per-lock pub/sub channels (`<prefix>lock-events:<id>`) across every lock master.
 *
 * Each instance listens on dedicated connections (a connection in subscriber mode can run
 * nothing else), one per master, so a message reaches it as long as any master does. It
 * subscribes once, to the pattern of all lock channels, rather than per lock: subscribing
 * and unsubscribing around every request measurably doubled lock latency, while messages
 * flow only when requests contend for a lock, so hearing the others' is cheap. Events for
 * ids this instance neither holds nor waits for are dropped on arrival.
 * Messages are hints: a lost one costs a waiter one backoff period, never correctness, so
 * sends are not awaited.
 */
export class RedisLockChannel {
  /** Tells this instance's messages apart from the others' (ours are ignored on receipt). */
  readonly instanceId = randomUUID();
  private readonly subscribers: Redis[];
  private readonly listeners = new Map<string, LockEventListener>();
  private readonly seen = new Set<string>();
  private readonly listening = new Set<Redis>();
  private readonly onListening = new Set<() => void>();
  private closed = false;

  constructor(
    private readonly publishers: readonly Redis[],
    private readonly prefix: string,
  ) {
    this.subscribers = publishers.map((client) => this.openSubscriber(client));
  }

  private channel(id: string): string {
    return `${this.prefix}lock-events:${id}`;
  }

  /** Delivers the other instances' events about `id` until the returned function is called. */
  listen(id: string, listener: LockEventListener): () => void {
    const channel = this.channel(id);
    this.listeners.set(channel, listener);
    return () => {
      if (this.listeners.get(channel) === listener) this.listeners.delete(channel);
    };
  }

  /** Resolves true once every master's subscription is active, or false after `timeoutMs`. */
  whenListening(timeoutMs: number): Promise<boolean> {
    if (this.listening.size === this.subscribers.length) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const check = () => {
        if (this.listening.size < this.subscribers.length) return;
        done(true);
      };
      const done = (all: boolean) => {
        clearTimeout(timer);
        this.onListening.delete(check);
        resolve(all);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.onListening.add(check);
    });
  }

  /** Sends `event` about `id` through every reachable master. */
  publish(id: string, event: LockEvent): void {
    if (this.closed) return;
    const message = `${event}|${this.instanceId}|${randomUUID()}`;
    for (const client of this.publishers) client.publish(this.channel(id), message).catch(ignore);
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    for (const subscriber of this.subscribers) subscriber.disconnect();
  }

  private openSubscriber(client: Redis): Redis {
    // Subscribing is ours to do on every (re)connect: without an offline queue, a
    // PSUBSCRIBE sent while disconnected fails instead of waiting.
    const subscriber = client.duplicate({ autoResubscribe: false, enableOfflineQueue: false });
    // Reconnection is automatic; while down, waiters fall back to their backoff timers.
    subscriber.on('error', ignore);
    subscriber.on('ready', () => {
      subscriber
        .psubscribe(`${escapeGlob(this.prefix)}lock-events:*`)
        .then(() => {
          this.listening.add(subscriber);
          for (const check of [...this.onListening]) check();
        })
        .catch(ignore);
    });
    subscriber.on('close', () => this.listening.delete(subscriber));
    subscriber.on('pmessage', (_pattern: string, channel: string, message: string) => this.receive(channel, message));
    return subscriber;
  }

  private receive(channel: string, message: string): void {
    const [event, from, nonce] = message.split('|');
    if (from === this.instanceId || nonce === undefined) return;
    if (event !== 'released' && event !== 'release-requested') return;
    const listener = this.listeners.get(channel);
    if (!listener) return;
    if (this.publishers.length > 1) {
      if (this.seen.has(nonce)) return;
      this.seen.add(nonce);
      // Sets iterate in insertion order: the first entry is the oldest.
      if (this.seen.size > REMEMBERED_MESSAGES) this.seen.delete(this.seen.values().next().value as string);
    }
    listener(event);
  }
}

/** The prefix taken literally inside a PSUBSCRIBE pattern. */
function escapeGlob(text: string): string {
  return text.replace(/[\\*?[\]]/g, (c) => `\\${c}`);
}

function ignore(): void {}
