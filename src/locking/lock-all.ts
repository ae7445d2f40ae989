import type { Lock, Locker } from '@tus/utils';

/**
 * Takes the locks of `first` and then of `others` in sorted order (deduplicated), so two
 * callers locking overlapping sets can never deadlock. Internal work does not give way when
 * asked (it has no request to cut short), so waiters simply wait their turn.
 * Returns a function that releases them all.
 */
export async function lockAll(locker: Locker, first: string, others: readonly string[]): Promise<() => Promise<void>> {
  const ids = [first, ...[...new Set(others)].filter((id) => id !== first).sort()];
  const held: Lock[] = [];
  const never = new AbortController().signal;
  const releaseAll = async () => {
    for (const lock of held.reverse()) await lock.unlock();
  };
  try {
    for (const id of ids) {
      const lock = locker.newLock(id);
      await lock.lock(never, () => undefined);
      held.push(lock);
    }
  } catch (error) {
    await releaseAll();
    throw error;
  }
  return releaseAll;
}
