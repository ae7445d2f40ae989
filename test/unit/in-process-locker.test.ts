import { describe, expect, it } from 'vitest';
import { InProcessLocker } from '../../src/locking/in-process-locker.js';
import { describeLockerContract } from '../support/locker-contract.js';

describeLockerContract('InProcessLocker', (options) => ({ locker: new InProcessLocker(options) }));

describe('InProcessLocker.whenIdle (shutdown)', () => {
  const never = new AbortController().signal;
  const noop = () => undefined;

  it('resolves true at once when nothing is held, and when the last lock is released', async () => {
    const locker = new InProcessLocker({ acquireTimeoutMs: 1_000 });
    expect(await locker.whenIdle(10)).toBe(true);
    const a = locker.newLock('a');
    const b = locker.newLock('b');
    await a.lock(never, noop);
    await b.lock(never, noop);
    const idle = locker.whenIdle(10_000);
    await a.unlock();
    expect(locker.heldCount).toBe(1);
    await b.unlock();
    expect(await idle).toBe(true);
    expect(locker.heldCount).toBe(0);
  });

  it('resolves false after the timeout while a lock stays held', async () => {
    const locker = new InProcessLocker({ acquireTimeoutMs: 1_000 });
    const lock = locker.newLock('x');
    await lock.lock(never, noop);
    expect(await locker.whenIdle(50)).toBe(false);
    expect(locker.heldCount).toBe(1);
    await lock.unlock();
  });
});
