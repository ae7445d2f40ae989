import type { ServerOptions } from '@tus/server';
import type { Upload } from '@tus/utils';
import { TusError } from '../../errors.js';
import type { Logger } from '../../logging/logger.js';
import type { FinalAssembler } from '../extensions/concatenation/final-assembler.js';
import { expectedSha256, sha256Mismatch, sha256OfStream } from '../extensions/integrity/sha256.js';
import type { TesseraDataStore } from '../tessera-datastore.js';
import type { FinalState, PartialState, UploadState, UploadStateStore } from '../state/upload-state.js';
import type { FinishedUpload, TesseraEvents } from './tessera-events.js';

type FinishResult = Awaited<ReturnType<NonNullable<ServerOptions['onUploadFinish']>>>;

export interface CompletionHooks {
  /** Once per file (ordinary or final), after verification; receives the computed sha256. */
  readonly onUploadFinish?: (req: Request, upload: FinishedUpload) => Promise<FinishResult>;
  /** When a partial upload received its last byte. */
  readonly onPartialFinish?: (req: Request, upload: Upload) => Promise<void>;
}

/** The 460 for a final whose assembly or verification failed. */
export function finalFailed(state: FinalState): TusError {
  return new TusError('ERR_UPLOAD_FAILED', 460, `Upload failed: ${state.error ?? 'verification failed'}`, {
    'Tessera-Upload-Status': 'failed',
    ...(state.sha256 ? { 'Tessera-Sha256': state.sha256 } : {}),
  });
}

/**
 * Decides what "finished" means for each kind of upload and tells integrators exactly once:
 * a partial triggers the finals waiting on it; an ordinary upload with a declared sha256 is
 * verified first; a final is finished by the assembler. Plugged in as @tus/server's
 * onUploadFinish, so a failure answers the very request that completed the upload.
 */
export class UploadCompletion {
  constructor(
    private readonly store: TesseraDataStore,
    private readonly state: UploadStateStore,
    private readonly assembler: FinalAssembler,
    private readonly events: TesseraEvents,
    private readonly hooks: CompletionHooks,
    private readonly log: Logger,
  ) {}

  readonly onUploadFinish = async (req: Request, upload: Upload): Promise<FinishResult> => {
    const state = await this.state.get(upload.id);
    if (state?.kind === 'partial') return this.partialFinished(req, upload, state);
    if (state?.kind === 'final') return {};
    return this.singleFinished(req, upload, state);
  };

  /** Assembles a final if it can be; notifies once; throws 460 if this call saw it fail. */
  async completeFinal(req: Request, finalId: string): Promise<FinalState | undefined> {
    const outcome = await this.assembler.tryComplete(finalId);
    if (!outcome?.transitioned) return outcome?.state;
    this.events.emit('final-assembled', { id: finalId, ok: outcome.state.status === 'done' });
    if (outcome.state.status === 'failed') {
      this.events.emit('upload-failed', { id: finalId, error: outcome.state.error ?? 'failed' });
      throw finalFailed(outcome.state);
    }
    if (outcome.upload) {
      const finished = Object.assign(outcome.upload, { sha256: outcome.state.sha256, concat: { partials: outcome.state.partials } });
      await this.fileReady(req, finished);
    }
    return outcome.state;
  }

  private async partialFinished(req: Request, upload: Upload, state: PartialState): Promise<FinishResult> {
    this.events.emit('partial-finished', upload);
    await this.hooks.onPartialFinish?.(req, upload);
    let failure: unknown;
    for (const finalId of state.finals) {
      // Every waiting final gets its chance even if an earlier one failed.
      await this.completeFinal(req, finalId).catch((error: unknown) => {
        failure ??= error;
      });
    }
    if (failure) throw failure;
    return {};
  }

  private async singleFinished(req: Request, upload: Upload, state: UploadState | undefined): Promise<FinishResult> {
    const expected = expectedSha256(upload.metadata);
    if (expected === undefined) {
      // With authentication on, every upload has a record (its owner): mark it done.
      if (state) await this.state.update(upload.id, (s) => (s?.kind === 'single' ? { ...s, status: 'done' } : s));
      return this.fileReady(req, upload);
    }
    const actual = await sha256OfStream(await this.store.read(upload.id));
    if (actual !== expected) {
      await this.store.adapter.truncate(upload.id, 0);
      const error = `sha256 mismatch: declared ${expected}, received ${actual}`;
      await this.state.update(upload.id, (s) => ({ ...s, kind: 'single', status: 'failed', sha256: actual, error }));
      this.log.warn({ uploadId: upload.id, error }, 'upload failed verification');
      this.events.emit('upload-failed', { id: upload.id, error });
      throw sha256Mismatch(expected, actual);
    }
    await this.state.update(upload.id, (s) => ({ ...s, kind: 'single', status: 'done', sha256: actual }));
    return this.fileReady(req, Object.assign(upload, { sha256: actual }));
  }

  private async fileReady(req: Request, upload: FinishedUpload): Promise<FinishResult> {
    this.events.emit('file-ready', upload);
    return (await this.hooks.onUploadFinish?.(req, upload)) ?? {};
  }
}
