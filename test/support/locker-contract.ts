import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Lock, Locker } from '@tus/utils';
import { afterEach, describe, expect, it } from 'vitest';
import { TusError } from '../../src/errors.js';

export interface LockerContractOptions {
  /** How long a waiter may wait before `lock()` fails with 423. */
  readonly acquireTimeoutMs: number;
}

export interface LockerFixture {
  readonly locker: Locker;
  /** Frees what the fixture holds (connections...); called after each test. */
  close?(): Promise<void>;
}

/** Time given to a wrong outcome to show itself before asserting it did not happen. */
const SETTLE_MS = 50;

/**
 * The behaviour every Tessera locker must have, whatever it is built on. Run it with
 * `describeLockerContract('InProcessLocker', (o) => ({ locker: new InProcessLocker(o) }))`;
 * the Redis locker runs the same suite.
 */
export function describeLockerContract(
  name: string,
  makeLocker: (options: LockerContractOptions) => LockerFixture | Promise<LockerFixture>,
): void {
  describe(`${name} (locker contract)`, () => {
    const open: LockerFixture[] = [];
    const make = async (acquireTimeoutMs = 10_000): Promise<Locker> => {
      const fixture = await makeLocker({ acquireTimeoutMs });
      open.push(fixture);
      return fixture.locker;
    };
    afterEach(async () => {
      await Promise.all(open.splice(0).map((f) => f.close?.()));
    });

    const uniqueId = () => `contract-${randomUUID()}`;
    const noop = () => undefined;

    /** Starts lock() and records when it settles, without awaiting it. */
    function track(lock: Lock, signal = new AbortController().signal, requestRelease: () => void = noop) {
      const state = { settled: false, error: undefined as unknown };
      const done = lock.lock(signal, requestRelease).then(
        () => {
          state.settled = true;
        },
        (error: unknown) => {
          state.settled = true;
          state.error = error;
        },
      );
      return { state, done, lock };
    }

    it('is exclusive per id and independent across ids', async () => {
      const locker = await make();
      const id = uniqueId();
      const first = locker.newLock(id);
      await first.lock(new AbortController().signal, noop);

      const other = locker.newLock(uniqueId());
      await other.lock(new AbortController().signal, noop);

      const second = track(locker.newLock(id));
      await sleep(SETTLE_MS);
      expect(second.state.settled).toBe(false);

      await first.unlock();
      await second.done;
      expect(second.state.error).toBeUndefined();
      await other.unlock();
    });

    it('hands the lock over to waiters in arrival order', async () => {
      const locker = await make();
      const id = uniqueId();
      const holder = locker.newLock(id);
      await holder.lock(new AbortController().signal, noop);

      const order: string[] = [];
      const waiters = new Map<string, Lock>();
      const pending: Promise<void>[] = [];
      for (const name of ['b', 'c', 'd']) {
        const lock = locker.newLock(id);
        waiters.set(name, lock);
        pending.push(lock.lock(new AbortController().signal, noop).then(() => void order.push(name)));
        // Arrival order must be unambiguous for any backend.
        await sleep(10);
      }

      await holder.unlock();
      const expected = ['b', 'c', 'd'];
      for (let granted = 1; granted <= expected.length; granted += 1) {
        await expect.poll(() => order.length, { timeout: 5_000, interval: 5 }).toBe(granted);
        await sleep(SETTLE_MS);
        // Exactly one more waiter got in, and it is the one that came first.
        expect(order).toEqual(expected.slice(0, granted));
        await waiters.get(expected[granted - 1] ?? '')?.unlock();
      }
      await Promise.all(pending);
    });

    it('asks the holder to release when someone waits, and only then', async () => {
      const locker = await make();
      const id = uniqueId();
      let asked = 0;
      const holder = locker.newLock(id);
      await holder.lock(new AbortController().signal, () => {
        asked += 1;
      });
      await sleep(SETTLE_MS);
      expect(asked).toBe(0);

      const waiter = track(locker.newLock(id));
      await expect.poll(() => asked, { timeout: 5_000, interval: 5 }).toBeGreaterThanOrEqual(1);
      expect(waiter.state.settled).toBe(false);
      await holder.unlock();
      await waiter.done;
    });

    it('asks the next holder to release too when more requests still wait', async () => {
      const locker = await make();
      const id = uniqueId();
      const holder = locker.newLock(id);
      await holder.lock(new AbortController().signal, noop);

      let secondAsked = 0;
      const second = locker.newLock(id);
      const secondDone = second.lock(new AbortController().signal, () => {
        secondAsked += 1;
      });
      await sleep(10);
      const third = track(locker.newLock(id));
      await sleep(10);

      await holder.unlock();
      await secondDone;
      await expect.poll(() => secondAsked, { timeout: 5_000, interval: 5 }).toBeGreaterThanOrEqual(1);
      await second.unlock();
      await third.done;
      expect(third.state.error).toBeUndefined();
    });

    it('fails a waiter with a 423 TusError when the acquire timeout passes, leaving the holder alone', async () => {
      const locker = await make(200);
      const id = uniqueId();
      const holder = locker.newLock(id);
      await holder.lock(new AbortController().signal, noop);

      const error = await locker
        .newLock(id)
        .lock(new AbortController().signal, noop)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(error).toBeInstanceOf(TusError);
      expect(error).toMatchObject({ status_code: 423, code: 'ERR_LOCK_TIMEOUT' });

      // The holder still holds: a newcomer waits until it lets go.
      const next = track(locker.newLock(id));
      await sleep(SETTLE_MS);
      expect(next.state.settled).toBe(false);
      await holder.unlock();
      await next.done;
      expect(next.state.error).toBeUndefined();
    });

    it('drops a waiter whose signal aborts, so it never takes the lock', async () => {
      const locker = await make();
      const id = uniqueId();
      const holder = locker.newLock(id);
      await holder.lock(new AbortController().signal, noop);

      const controller = new AbortController();
      const aborted = track(locker.newLock(id), controller.signal);
      await sleep(10);
      const after = track(locker.newLock(id));
      await sleep(10);

      controller.abort();
      await aborted.done;
      expect(aborted.state.error).toMatchObject({ status_code: 423 });
      expect(after.state.settled).toBe(false);

      await holder.unlock();
      await after.done;
      expect(after.state.error).toBeUndefined();
    });

    it('refuses at once when the signal is already aborted', async () => {
      const locker = await make();
      const controller = new AbortController();
      controller.abort();
      await expect(locker.newLock(uniqueId()).lock(controller.signal, noop)).rejects.toMatchObject({
        status_code: 423,
      });
    });

    it('sleeps while it waits instead of spinning', async () => {
      const locker = await make();
      const id = uniqueId();
      const holder = locker.newLock(id);
      await holder.lock(new AbortController().signal, noop);

      const before = process.cpuUsage();
      const waiter = track(locker.newLock(id));
      await sleep(500);
      const used = process.cpuUsage(before);
      expect(waiter.state.settled).toBe(false);
      // A polling waiter burns a whole core (~500 ms here); a sleeping one close to nothing.
      expect((used.user + used.system) / 1000).toBeLessThan(100);
      await holder.unlock();
      await waiter.done;
    });

    it('throws when unlocking a lock that is not held', async () => {
      const locker = await make();
      const id = uniqueId();
      await expect(locker.newLock(id).unlock()).rejects.toThrow(/not held/);

      const lock = locker.newLock(id);
      await lock.lock(new AbortController().signal, noop);
      // Another handle on the same id does not hold it, even while the id is locked.
      await expect(locker.newLock(id).unlock()).rejects.toThrow(/not held/);
      const blocked = track(locker.newLock(id));
      await sleep(SETTLE_MS);
      expect(blocked.state.settled).toBe(false);
      await lock.unlock();
      await blocked.done;
      await expect(lock.unlock()).rejects.toThrow(/not held/);
      await blocked.lock.unlock();
      // And the failed unlocks left the id free.
      const again = locker.newLock(id);
      await again.lock(new AbortController().signal, noop);
      await again.unlock();
    });
  });
}
