import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ERRORS, type Locker, type Upload } from '@tus/utils';
import type { LimitFunction } from 'p-limit';
import { isGoneUpload } from '../../../errors.js';
import type { Logger } from '../../../logging/logger.js';
import { lockAll } from '../../../locking/lock-all.js';
import type { TesseraDataStore } from '../../tessera-datastore.js';
import type { FinalState, UploadStateStore } from '../../state/upload-state.js';
import { expectedSha256 } from '../integrity/sha256.js';

export interface AssemblyOutcome {
  readonly state: FinalState;
  /** True only for the one call that moved the final out of 'pending'. */
  readonly transitioned: boolean;
}

export interface AssemblyLimits {
  /** MAX_SIZE: a final whose length turns out larger fails without being assembled (0: none). */
  readonly maxSize: number;
  /**
   * Slots for whole-file work (assembly, read-back verification) in this process: beyond
   * them work queues, so memory stays flat however many finals complete at once.
   */
  readonly heavyWork: LimitFunction;
  /**
   * A pre-finish hook approves files before they count as done: an assembled, verified final
   * then waits in 'verifying' (UploadCompletion asks the hook) instead of becoming 'done'.
   */
  readonly awaitsApproval?: boolean;
}

/**
 * Builds a final upload from its partials: one streaming pass that writes the bytes and
 * computes their SHA-256, then verification against the declared digest.
 *
 * Exactly once: the final and all its partials are locked for the whole assembly, and the
 * state is re-read under the lock, so concurrent triggers (the final POST, retried POSTs,
 * partials finishing at once, a HEAD) find it no longer pending and do nothing.
 */
export class FinalAssembler {
  constructor(
    private readonly store: TesseraDataStore,
    private readonly state: UploadStateStore,
    private readonly locker: Locker,
    private readonly log: Logger,
    private readonly limits: AssemblyLimits,
  ) {}

  async tryComplete(finalId: string): Promise<AssemblyOutcome | undefined> {
    const before = await this.state.get(finalId);
    if (before?.kind !== 'final') return undefined;
    if (before.status !== 'pending') return { state: before, transitioned: false };
    // Check first without locks: asking for the lock of a partial that is still being
    // uploaded would make @tus/server cut that partial's PATCH short.
    const partials = await this.loadPartials(before.partials);
    if (typeof partials === 'string') return this.lockedComplete(finalId, []);
    if (!allComplete(partials)) return { state: before, transitioned: false };
    return this.limits.heavyWork(() => this.lockedComplete(finalId, before.partials));
  }

  /**
   * Locks the final and `partials` and settles it. A final with a partial gone is failed
   * under its own lock alone: a gone partial stays gone, and its lock may be held by the very
   * request that removed it.
   */
  private async lockedComplete(finalId: string, partials: readonly string[]): Promise<AssemblyOutcome | undefined> {
    const unlock = await lockAll(this.locker, finalId, partials);
    try {
      const current = await this.state.get(finalId);
      if (current?.kind !== 'final') return undefined;
      if (current.status !== 'pending') return { state: current, transitioned: false };
      return await this.assembleLocked(finalId, current);
    } finally {
      await unlock();
    }
  }

  private async assembleLocked(finalId: string, final: FinalState): Promise<AssemblyOutcome> {
    const partials = await this.loadPartials(final.partials);
    if (typeof partials === 'string') return this.fail(finalId, final, partials);
    if (!allComplete(partials)) return { state: final, transitioned: false };

    const total = final.partials.reduce((sum, id) => sum + (partials.find((p) => p.id === id)?.size ?? 0), 0);
    // Known only now when a partial's length was deferred (one partial may be listed many times).
    if (this.limits.maxSize > 0 && total > this.limits.maxSize) {
      return this.fail(finalId, final, `final of ${total} bytes exceeds MAX_SIZE (${this.limits.maxSize})`);
    }
    const upload = await this.store.getUpload(finalId);
    if (upload.size === undefined) await this.store.declareUploadLength(finalId, total);

    const started = performance.now();
    // A store that can join the partials itself (S3) does; otherwise they stream through here.
    const { bytes: written, sha256 } = this.store.adapter.concatenate
      ? await this.store.adapter.concatenate(finalId, final.partials)
      : await this.streamPartials(finalId, final.partials);
    const log = this.log.child({ uploadId: finalId });
    if (written !== total) throw new Error(`assembly wrote ${written} of ${total} bytes`);

    const expected = expectedSha256(upload.metadata);
    if (expected !== undefined && expected !== sha256) {
      const outcome = await this.fail(finalId, final, `sha256 mismatch: declared ${expected}, assembled ${sha256}`, sha256);
      if (outcome.transitioned) await this.store.adapter.truncate(finalId, 0);
      return outcome;
    }
    // Compare-and-set: only a final still pending becomes done, so a second assembly (a lock
    // lost with Redis's data) never announces the file again.
    const verified = this.limits.awaitsApproval ? ({ status: 'verifying', verified: true } as const) : ({ status: 'done', notified: false } as const);
    const outcome = await this.transition(finalId, { ...verified, sha256 });
    if (outcome.transitioned) {
      log.info({ bytes: total, partials: final.partials.length, ms: Math.round(performance.now() - started), sha256 }, 'final assembled');
    }
    return outcome;
  }

  /** Moves a pending final to `change`; says whether this call did (a final is settled once). */
  private async transition(finalId: string, change: Pick<FinalState, 'status'> & Partial<FinalState>): Promise<AssemblyOutcome> {
    let applied = false;
    const after = await this.state.update(finalId, (s) => {
      if (s?.kind !== 'final' || s.status !== 'pending') return s;
      applied = true;
      return { ...s, ...change };
    });
    if (after?.kind !== 'final') throw ERRORS.FILE_NOT_FOUND;
    return { state: after, transitioned: applied };
  }

  private async streamPartials(finalId: string, ids: readonly string[]): Promise<{ bytes: number; sha256: string }> {
    const hash = createHash('sha256');
    // Straight to the backing store: request-scoped write guards (per-PATCH checksums) must
    // not judge bytes the server assembles itself.
    const source = Readable.from(this.concatenate(ids, hash), { objectMode: false });
    // A crash mid-assembly leaves a prefix behind; always start from an empty final.
    await this.store.adapter.truncate(finalId, 0);
    const bytes = await this.store.adapter.datastore.write(source, finalId, 0);
    return { bytes, sha256: hash.digest('hex') };
  }

  private async *concatenate(ids: readonly string[], hash: ReturnType<typeof createHash>): AsyncGenerator<Buffer> {
    for (const id of ids) {
      for await (const chunk of await this.store.read(id)) {
        hash.update(chunk as Buffer);
        yield chunk as Buffer;
      }
    }
  }

  /** The partials' uploads, or the reason the final can never complete. */
  private async loadPartials(ids: readonly string[]): Promise<Upload[] | string> {
    const uploads: Upload[] = [];
    for (const id of new Set(ids)) {
      try {
        uploads.push(await this.store.getUpload(id));
      } catch (error) {
        if (isGoneUpload(error)) {
          return `partial upload ${id} no longer exists`;
        }
        throw error;
      }
    }
    return uploads;
  }

  private async fail(finalId: string, _final: FinalState, error: string, sha256?: string): Promise<AssemblyOutcome> {
    const outcome = await this.transition(finalId, { status: 'failed', error, ...(sha256 ? { sha256 } : {}) });
    if (outcome.transitioned) this.log.warn({ uploadId: finalId, error }, 'final upload failed');
    return outcome;
  }
}

function allComplete(uploads: readonly Upload[]): boolean {
  return uploads.every((u) => u.size !== undefined && u.offset === u.size);
}
