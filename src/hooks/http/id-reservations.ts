import { randomUUID } from 'node:crypto';
import type { UploadStateStore } from '../../tus/state/upload-state.js';

/** A reservation held: released once its creation ended, however it ended. */
export interface IdReservation {
  release(): Promise<void>;
}

/**
 * Ids the pre-create hook chose, reserved for the one POST that asked until its upload is created
 * (or the POST failed): of two POSTs given the same id, on this instance or another, one creates
 * it and the other is refused. A reservation is a claim in the shared state (Redis, or the data
 * directory when embedded), so every instance sees it; it carries its expiry, so one left by a
 * process killed mid-creation stops counting after `ttlMs` instead of blocking the id for ever.
 */
export class IdReservations {
  constructor(
    private readonly claims: Pick<UploadStateStore, 'claim' | 'release'>,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reserves `id`; undefined when a creation (here or on another instance) holds it. */
  async reserve(id: string): Promise<IdReservation | undefined> {
    const key = `hook-id-${id}`;
    const mine = `${randomUUID()}@${this.now() + this.ttlMs}`;
    let holder = await this.claims.claim(key, mine);
    if (holder !== mine) {
      // Held: by a creation still running, or by one that died before it could release it.
      if (!(expiryOf(holder) < this.now())) return undefined;
      await this.claims.release(key, holder);
      holder = await this.claims.claim(key, mine);
      if (holder !== mine) return undefined;
    }
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        // Only ours: an expired reservation taken over by another creation stays theirs.
        await this.claims.release(key, mine);
      },
    };
  }
}

/** When a reservation `<nonce>@<ms>` expires; NaN (never expired) for anything else. */
function expiryOf(value: string): number {
  return Number(value.slice(value.lastIndexOf('@') + 1));
}
