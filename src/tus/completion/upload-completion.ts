import type { ServerOptions } from '@tus/server';
import type { Locker, Upload } from '@tus/utils';
import type { LimitFunction } from 'p-limit';
import { errors, isGoneUpload, TusError } from '../../errors.js';
import type { Logger } from '../../logging/logger.js';
import { lockAll } from '../../locking/lock-all.js';
import type { FinalAssembler } from '../extensions/concatenation/final-assembler.js';
import { expectedSha256, sha256OfStream } from '../extensions/integrity/sha256.js';
import type { TesseraDataStore } from '../tessera-datastore.js';
import type { FinalState, SingleState, UploadState, UploadStateStore } from '../state/upload-state.js';
import { allBytesStored, lifecycleOf } from './lifecycle.js';
import type { FinishedUpload, TesseraEvents } from './tessera-events.js';

type FinishResult = Awaited<ReturnType<NonNullable<ServerOptions['onUploadFinish']>>>;

/** An ordinary upload's statuses before it is settled. */
const UNSETTLED: readonly SingleState['status'][] = ['receiving', 'pending', 'verifying'];

export interface CompletionHooks {
  /**
   * Once per file (ordinary or final), after verification, while the upload is locked (so
   * never for an upload deleted meanwhile); receives the computed sha256. `req` is the
   * request that completed the file, or undefined when the server finished it on its own
   * (after a crash, see UploadCompletion.recover).
   */
  readonly onUploadFinish?: (req: Request | undefined, upload: FinishedUpload) => Promise<FinishResult>;
  /** When a partial upload received its last byte. */
  readonly onPartialFinish?: (req: Request, upload: Upload) => Promise<void>;
  /**
   * Asked once a file is verified, before it counts as done (the HTTP pre-finish hook), under
   * its lock. Resolves with what to add to the answer of the request that completed it. Rejects
   * with FinishRefused to fail the upload (visibly: HEAD answers 460 with the reason; its data
   * is dropped); any other rejection (the hook unreachable: 503) leaves it verified and waiting,
   * asked again on the next touch or by the recovery pass, without reading the file again.
   */
  readonly approveFinish?: (req: Request | undefined, upload: FinishedUpload) => Promise<FinishResult>;
}

/** The pre-finish hook refused a file: `reason` is recorded (HEAD says it), `answer` goes to the request that completed it. */
export class FinishRefused extends Error {
  override readonly name = 'FinishRefused';
  constructor(
    readonly reason: string,
    readonly answer: TusError,
  ) {
    super(reason);
  }
}

/** A direct upload's record without data older than this was left by a creation that died. */
const ORPHAN_RECORD_MS = 10 * 60_000;

/** What finishing a partial's upload comes to: its finals are looked at, after its lock. */
const PARTIAL = Symbol('partial');

/** A record whose bytes are verified and which waits for the pre-finish hook's approval. */
type AwaitingApproval = Exclude<UploadState, { kind: 'partial' }> & { readonly status: 'verifying' };
const awaitsApproval = (s: UploadState | undefined): s is AwaitingApproval => s !== undefined && s.kind !== 'partial' && s.status === 'verifying' && s.verified === true;


/**
 * The one owner of every upload's lifecycle record (see lifecycle.ts): it writes the record
 * at creation, settles an ordinary upload (verify, then 'done' or 'failed') under the upload's
 * lock, has the assembler settle finals, tells integrators exactly once, and finishes what a
 * crash interrupted.
 *
 * @tus/server calls onUploadFinish after it released the upload's lock; settling and the
 * notification therefore take the lock again here, so a DELETE, PATCH or GET can never
 * interleave with verification, and no notification is sent for an upload deleted meanwhile.
 */
export class UploadCompletion {
  constructor(
    private readonly store: TesseraDataStore,
    private readonly state: UploadStateStore,
    private readonly locker: Locker,
    private readonly assembler: FinalAssembler,
    private readonly events: TesseraEvents,
    private readonly hooks: CompletionHooks,
    private readonly log: Logger,
    /** Shared with the assembler: whole-file reads queue beyond a bound. */
    private readonly heavyWork: LimitFunction,
  ) {}

  /** Writes the record of a new upload (finals are recorded by their creation, before). */
  async recordCreation(id: string, facts: { readonly partial: boolean; readonly owner: string | undefined }): Promise<void> {
    const owner = facts.owner === undefined ? {} : { owner: facts.owner };
    await this.state.update(id, (s): UploadState => {
      if (s) return { ...s, ...owner };
      // A partial's finals are links of their own (UploadStateStore.link), not a list here.
      return facts.partial ? { kind: 'partial', ...owner } : { kind: 'single', status: 'receiving', ...owner };
    });
  }

  readonly onUploadFinish = async (req: Request, upload: Upload): Promise<FinishResult> => {
    const state = await this.state.get(upload.id);
    if (state?.kind === 'partial') return this.partialFinished(req, upload);
    if (state?.kind === 'final') return {};
    try {
      return await this.finish(req, upload.id, { completedNow: true });
    } catch (error) {
      // The creation request itself completed the upload (zero length, or a whole body) and
      // it failed verification: its URL was never given out, so nothing is left behind.
      if (req.method === 'POST' && error instanceof TusError) await this.store.remove(upload.id);
      throw error;
    }
  };

  /**
   * Settles an ordinary upload whose bytes are all stored and notifies once, under its lock.
   * Throws the 460 when verification failed (now or before).
   */
  async finish(req: Request | undefined, id: string, options: { readonly completedNow?: boolean } = {}): Promise<FinishResult> {
    const outcome = await this.finishLocked(req, id, options);
    // A partial's complete upload touched again (its empty last PATCH re-sent): a final it completed
    // that still waits for approval or announcement is taken up again (its lock, not this one's).
    if (outcome === PARTIAL) await this.resumeLinkedFinals(req, id);
    return outcome === PARTIAL ? {} : outcome;
  }

  private async resumeLinkedFinals(req: Request | undefined, partialId: string): Promise<void> {
    for (const finalId of await this.state.linkedFinals(partialId)) {
      const final = await this.state.get(finalId);
      if (final?.kind === 'final' && (awaitsApproval(final) || (final.status === 'done' && final.notified === false))) await this.completeFinal(req, finalId);
    }
  }

  private async finishLocked(req: Request | undefined, id: string, options: { readonly completedNow?: boolean }): Promise<FinishResult | typeof PARTIAL> {
    const unlock = await lockAll(this.locker, id, []);
    try {
      const upload = await this.store.getUpload(id);
      const state = await this.state.get(id);
      if (state?.kind === 'partial') return PARTIAL;
      if (state?.kind === 'final') return {};
      // An upload of an earlier version (no record) that this request completed is settled and
      // announced like any other; one completed before the upgrade was announced then.
      const unsettled = lifecycleOf(upload, state) === 'verifying' || (state === undefined && options.completedNow === true);
      const { state: settled, answer } = unsettled ? await this.settle(req, upload) : { state, answer: {} };
      if (settled && settled.kind !== 'partial' && settled.status === 'failed') throw this.failure(upload, settled);
      const notified = (await this.notifyLocked(req, upload)) ?? {};
      // The request that completed the file learns its outcome as HEAD tells it (the record owns it, last).
      const done = settled?.kind === 'single' && settled.status === 'done' ? { 'Tessera-Upload-Status': 'done', ...(settled.sha256 ? { 'Tessera-Sha256': settled.sha256 } : {}) } : {};
      // The pre-finish hook's answer first, the embedder's onUploadFinish after (it has the last word but on these).
      return { ...answer, ...notified, headers: { ...answer.headers, ...notified.headers, ...done } };
    } catch (error) {
      if (isGoneUpload(error)) return {};
      throw error;
    } finally {
      await unlock();
    }
  }

  /**
   * Assembles a final if it can be, has it approved (pre-finish) and notifies once; throws 460
   * if this call saw it fail, the hook's refusal, or 503 when the hook could not be asked.
   */
  async completeFinal(req: Request | undefined, finalId: string): Promise<FinalState | undefined> {
    const outcome = await this.assembler.tryComplete(finalId);
    if (!outcome) return undefined;
    if (outcome.transitioned) {
      this.events.emit('final-assembled', { id: finalId, ok: outcome.state.status !== 'failed' });
      if (outcome.state.status === 'failed') {
        this.events.emit('upload-failed', { id: finalId, error: outcome.state.error ?? 'failed' });
        throw errors.uploadFailed(outcome.state);
      }
    }
    let state = outcome.state;
    // Assembled and verified, not yet approved: now, or again after the hook could not be asked.
    if (state.status === 'verifying') state = (await this.approveFinal(req, finalId)) ?? state;
    if (state.status === 'done' && state.notified === false) await this.notify(req, finalId);
    return state;
  }

  /** The pre-finish step of a final, under its lock (the assembly released it). */
  private async approveFinal(req: Request | undefined, finalId: string): Promise<FinalState | undefined> {
    const unlock = await lockAll(this.locker, finalId, []);
    try {
      const current = await this.state.get(finalId);
      if (!awaitsApproval(current)) return current?.kind === 'final' ? current : undefined;
      const { state } = await this.approveLocked(req, await this.store.getUpload(finalId), current);
      return state?.kind === 'final' ? state : undefined;
    } catch (error) {
      if (isGoneUpload(error)) return undefined;
      throw error;
    } finally {
      await unlock();
    }
  }

  /**
   * A partial was removed (its DELETE still holds its lock): every final still waiting on it can
   * never complete and fails now. No lock is taken: waiting for a final's lock here would
   * deadlock with an assembly that holds it and waits for this partial's. None is needed: no
   * assembly that includes this partial can be running (it would hold the partial's lock), and
   * the change is one atomic pending → failed that an assembly re-checks under its locks.
   */
  async partialRemoved(partialId: string, finals: readonly string[]): Promise<void> {
    const error = `partial upload ${partialId} no longer exists`;
    for (const finalId of finals) {
      let failed = false;
      await this.state.update(finalId, (s) => {
        if (s?.kind !== 'final' || s.status !== 'pending') return s;
        failed = true;
        return { ...s, status: 'failed', error };
      });
      if (!failed) continue;
      this.log.warn({ uploadId: finalId, error }, 'final upload failed');
      this.events.emit('final-assembled', { id: finalId, ok: false });
      this.events.emit('upload-failed', { id: finalId, error });
    }
  }

  /**
   * Finishes what a crash (or a lost trigger) left undone: ordinary uploads stored but not
   * settled, finals whose partials are all complete, files settled but never announced.
   * Bounded: one upload at a time, each under its lock. Returns how many it finished.
   */
  async recover(ids: readonly string[]): Promise<number> {
    let finished = 0;
    for (const id of ids) {
      try {
        const upload = await this.store.getUpload(id).catch(async (error: unknown) => {
          if (isGoneUpload(error)) await this.forgetOrphanRecord(id);
          throw error;
        });
        const state = await this.state.get(id);
        const lifecycle = lifecycleOf(upload, state);
        if (state?.kind === 'final' && lifecycle === 'pending') {
          // A final its creation never claimed (the process died, or the POST failed, in
          // between) was never given to anyone: left to expiry, never assembled or announced.
          if ((await this.state.claimed(`final-${state.requestKey}`)) !== id) continue;
          if ((await this.completeFinal(undefined, id))?.status !== 'pending') finished += 1;
        } else if (state?.kind !== 'partial' && (lifecycle === 'verifying' || (lifecycle === 'done' && state?.notified === false))) {
          await (state?.kind === 'final' ? this.completeFinal(undefined, id) : this.finish(undefined, id));
          finished += 1;
        }
      } catch (error) {
        // A failed verification is an outcome, not an error of the pass, and an upload gone meanwhile
        // has nothing to recover; anything else is logged.
        if (isGoneUpload(error)) continue;
        if (!(error instanceof TusError)) this.log.warn({ err: error, uploadId: id }, 'recovery of an upload failed');
        else finished += 1;
      }
    }
    if (finished > 0) this.log.info({ finished }, 'recovered uploads left unfinished');
    return finished;
  }

  /**
   * A direct upload's record whose data never came to be (the process died between writing the
   * record and creating the upload in the store): dropped once it is older than any creation takes.
   */
  private async forgetOrphanRecord(id: string): Promise<void> {
    const record = await this.state.get(id);
    if (record?.kind !== 'single' || record.direct !== true || record.status !== 'receiving') return;
    if (record.createdAt === undefined || Date.now() - record.createdAt < ORPHAN_RECORD_MS) return;
    await this.state.update(id, (s) => (s?.kind === 'single' && s.direct === true && s.status === 'receiving' ? undefined : s));
    this.log.info({ uploadId: id }, 'dropped the record of a direct upload whose creation never finished');
  }

  private async partialFinished(req: Request, upload: Upload): Promise<FinishResult> {
    this.events.emit('partial-finished', upload);
    await this.hooks.onPartialFinish?.(req, upload);
    let failure: unknown;
    for (const finalId of await this.state.linkedFinals(upload.id)) {
      // Every waiting final gets its chance even if an earlier one failed.
      await this.completeFinal(req, finalId).catch((error: unknown) => {
        failure ??= error;
      });
    }
    if (failure) throw failure;
    return {};
  }

  /**
   * Settles an ordinary upload whose bytes are all stored: verified, then approved by the
   * pre-finish hook (when there is one). Returns the record after, and the hook's answer.
   */
  private async settle(req: Request | undefined, upload: Upload): Promise<{ state: UploadState | undefined; answer: FinishResult }> {
    const verified = await this.verify(upload);
    if (!awaitsApproval(verified)) return { state: verified, answer: {} };
    return this.approveLocked(req, upload, verified);
  }

  /**
   * Verifies a stored upload against its declared sha256 and records the outcome: 'failed', or
   * verified ('done' at once when no pre-finish hook must approve it). Locked; and each step is a
   * compare-and-set on the record, so that even if the lock was lost (Redis emptied while this
   * ran) a file is settled and announced once, and a deleted upload gets no record back.
   */
  private async verify(upload: Upload): Promise<SingleState | undefined> {
    const current = await this.state.get(upload.id);
    // Verified before, waiting for the hook's approval (it could not be asked): not read again.
    if (current?.kind === 'single' && awaitsApproval(current)) return current;
    const verified = this.hooks.approveFinish ? ({ status: 'verifying', verified: true } as const) : ({ status: 'done', notified: false } as const);
    const expected = expectedSha256(upload.metadata);
    if (expected === undefined) return (await this.move(upload.id, UNSETTLED, verified)).state;
    // Durable before the first byte is read: a crash from here on is finished by recover().
    const verifying = await this.move(upload.id, UNSETTLED, { status: 'verifying' });
    if (verifying.state?.status !== 'verifying') return verifying.state;
    this.log.info({ uploadId: upload.id, bytes: upload.size }, 'verifying upload');
    this.events.emit('verification-started', { id: upload.id });
    const actual = await this.heavyWork(async () => sha256OfStream(await this.store.read(upload.id)));
    if (!(await this.stillStored(upload.id))) {
      await this.state.delete(upload.id);
      return undefined;
    }
    if (actual === expected) return (await this.move(upload.id, ['verifying'], { ...verified, sha256: actual })).state;
    const error = `sha256 mismatch: declared ${expected}, received ${actual}`;
    // The record first: a crash before the data is dropped still reads 'failed'.
    const failed = await this.move(upload.id, ['verifying'], { status: 'failed', sha256: actual, error });
    if (failed.applied) {
      await this.store.adapter.truncate(upload.id, 0);
      this.log.warn({ uploadId: upload.id, error }, 'upload failed verification');
      this.events.emit('upload-failed', { id: upload.id, error });
    }
    return failed.state;
  }

  /**
   * The pre-finish step, under the upload's lock: a verified file becomes 'done' once the hook
   * approves it, 'failed' (data dropped, the hook's answer thrown) when it refuses; when the hook
   * cannot be asked its error is thrown and the record stays as it is, to be asked again.
   */
  private async approveLocked(req: Request | undefined, upload: Upload, record: AwaitingApproval): Promise<{ state: UploadState | undefined; answer: FinishResult }> {
    let answer: FinishResult = {};
    try {
      answer = (await this.hooks.approveFinish?.(req, this.finishedUpload(upload, record))) ?? {};
    } catch (error) {
      if (!(error instanceof FinishRefused)) throw error;
      const failed = await this.moveVerified(upload.id, { status: 'failed', error: error.reason });
      if (failed.applied) {
        await this.store.adapter.truncate(upload.id, 0);
        this.log.warn({ uploadId: upload.id, error: error.reason }, 'upload refused by the pre-finish hook');
        this.events.emit('upload-failed', { id: upload.id, error: error.reason });
      }
      throw error.answer;
    }
    return { state: (await this.moveVerified(upload.id, { status: 'done', notified: false })).state, answer };
  }

  /** Moves a record awaiting approval to `change` (compare-and-set, as `move`). */
  private async moveVerified(id: string, change: { readonly status: 'done' | 'failed'; readonly notified?: boolean; readonly error?: string }): Promise<{ state: UploadState | undefined; applied: boolean }> {
    let applied = false;
    const after = await this.state.update(id, (s) => {
      if (!awaitsApproval(s)) return s;
      applied = true;
      const { verified: _approved, ...rest } = s;
      return { ...rest, ...change };
    });
    return { state: after, applied };
  }

  private finishedUpload(upload: Upload, record: Exclude<UploadState, { kind: 'partial' }>): FinishedUpload {
    return Object.assign(upload, {
      ...(record.sha256 ? { sha256: record.sha256 } : {}),
      ...(record.kind === 'final' ? { concat: { partials: record.partials } } : {}),
    });
  }

  /**
   * Moves an ordinary upload's record from one of the statuses `from` (or, when `from` holds
   * 'receiving', from no record at all: an upload of an earlier version) to `change`. Returns the record after the call,
   * whoever wrote it, and whether this call did.
   */
  private async move(
    id: string,
    from: readonly SingleState['status'][],
    change: Pick<SingleState, 'status'> & Partial<SingleState>,
  ): Promise<{ state: SingleState | undefined; applied: boolean }> {
    let applied = false;
    const after = await this.state.update(id, (s) => {
      // No record: an upload of an earlier version, which may only start being settled; a record
      // gone later means the upload was deleted meanwhile and gets none back.
      const movable = s === undefined ? from.includes('receiving') : s.kind === 'single' && from.includes(s.status);
      if (!movable) return s;
      applied = true;
      return { ...s, kind: 'single', ...change };
    });
    return { state: after?.kind === 'single' ? after : undefined, applied };
  }

  private async stillStored(id: string): Promise<boolean> {
    return this.store.getUpload(id).then(
      () => true,
      (error: unknown) => {
        if (isGoneUpload(error)) return false;
        throw error;
      },
    );
  }

  /** The answer for a failed upload: the digest mismatch, or what else failed it (the pre-finish hook). */
  private failure(upload: Upload, state: UploadState): TusError {
    const expected = expectedSha256(upload.metadata);
    if (expected !== undefined && state.sha256 !== expected) return errors.sha256Mismatch(expected, state.sha256 ?? 'unknown');
    return errors.uploadFailed(state);
  }

  /** Takes the upload's lock for notifyLocked (finals: their assembly released it). */
  private async notify(req: Request | undefined, id: string): Promise<FinishResult | undefined> {
    const unlock = await lockAll(this.locker, id, []);
    try {
      return await this.notifyLocked(req, await this.store.getUpload(id));
    } catch (error) {
      if (isGoneUpload(error)) return undefined;
      throw error;
    } finally {
      await unlock();
    }
  }

  /**
   * "File ready": the hook runs (under the upload's lock, so never twice at once), and only once
   * it returned is `notified` flipped, and `file-ready` emitted. A hook that throws (an outbox
   * that cannot be written, an embedder's error) leaves `notified` false, so the next touch or
   * the recovery pass announces it again: at least once, never lost. A crash between the hook
   * and the flip runs the hook again (HTTP hooks carry a stable EventId for that). A deleted
   * upload has no record any more, so it is never announced.
   */
  private async notifyLocked(req: Request | undefined, upload: Upload): Promise<FinishResult | undefined> {
    // Only a file whose bytes are all there is announced.
    if (!allBytesStored(upload)) return undefined;
    const announceable = (s: UploadState | undefined): s is Exclude<UploadState, { kind: 'partial' }> =>
      s !== undefined && s.kind !== 'partial' && s.notified === false && s.status === 'done';
    const current = await this.state.get(upload.id);
    if (!announceable(current)) return undefined;
    const finished = this.finishedUpload(upload, current);
    const result = await this.hooks.onUploadFinish?.(req, finished);
    let flipped = false;
    await this.state.update(upload.id, (s) => {
      if (!announceable(s)) return s;
      flipped = true;
      return { ...s, notified: true };
    });
    if (flipped) this.events.emit('file-ready', finished);
    return result;
  }
}
