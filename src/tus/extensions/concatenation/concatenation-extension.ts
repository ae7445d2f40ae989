import type { Upload } from '@tus/utils';
import { TusError } from '../../../errors.js';
import type { TesseraEvents } from '../../completion/tessera-events.js';
import type { UploadCompletion } from '../../completion/upload-completion.js';
import type { TusExtension } from '../../extension.js';
import type { HandlerLayer } from '../../handler-layers.js';
import type { TusHooks } from '../../hooks.js';
import { requestContext } from '../../request-context.js';
import type { TesseraDataStore } from '../../tessera-datastore.js';
import { addressedUploadState } from '../../state/addressed-state.js';
import type { UploadState, UploadStateStore } from '../../state/upload-state.js';
import { ownOrigins, type RequestTargets } from '../../request-target.js';
import { createFinal } from './final-creation.js';
import { parseUploadConcat } from './upload-concat-header.js';

export interface ConcatenationOptions {
  readonly store: TesseraDataStore;
  readonly state: UploadStateStore;
  readonly completion: UploadCompletion;
  readonly hooks: Pick<TusHooks, 'onUploadCreate' | 'namingFunction'>;
  readonly targets: RequestTargets;
  readonly maxSize: number;
  readonly maxPartials: number;
  readonly trustProxy: boolean;
  readonly urlFor: (req: Request, id: string) => string;
  readonly events: TesseraEvents;
}

/**
 * tus concatenation and concatenation-unfinished: partial uploads sent in parallel, joined
 * into a final upload whose SHA-256 is computed while it is assembled.
 */
export function concatenationExtension(options: ConcatenationOptions): TusExtension {
  const { state, targets } = options;
  const stateOf = async (req: Request): Promise<UploadState | undefined> => {
    const id = targets.uploadIdOf(req);
    return id ? addressedUploadState(state, id) : undefined;
  };

  const post: HandlerLayer = async (req, _context, _headers, next) => {
    const header = req.headers.get('upload-concat');
    if (header === null) return next();
    const concat = parseUploadConcat(header, {
      requestUrl: req.url,
      targets,
      ownOrigins: ownOrigins(req, options.trustProxy),
      maxPartials: options.maxPartials,
    });
    if (concat.kind === 'final') return createFinal(options, req, concat.ids);
    const ctx = requestContext.getStore();
    if (ctx) ctx.creatingPartial = true;
    const res = await next();
    if (res.status === 201) res.headers.set('Upload-Concat', 'partial');
    return res;
  };

  const patch: HandlerLayer = async (req, _context, _headers, next) => {
    const current = await stateOf(req);
    if (current?.kind === 'final') {
      throw new TusError('ERR_FINAL_PATCH', 403, 'A final upload is assembled by the server and cannot be patched');
    }
    return next();
  };

  const head: HandlerLayer = async (req, _context, _headers, next) => {
    const id = targets.uploadIdOf(req);
    let current = id ? await addressedUploadState(state, id) : undefined;
    if (id && current?.kind === 'final' && current.status === 'pending') {
      // Completes a final whose trigger was lost (e.g. a crash between the last partial and
      // its assembly); a no-op while partials are still being uploaded.
      current = (await options.completion.completeFinal(req, id).catch(() => undefined)) ?? (await state.get(id));
    }
    const res = await next();
    if (current) describe(res, current, targets);
    if (current && current.kind !== 'partial' && current.status === 'failed') {
      // A failed upload answers 460 to HEAD too, so a resuming client learns it at once.
      res.headers.set('Tessera-Error', current.error ?? 'failed');
      return new Response(null, { status: 460, headers: res.headers });
    }
    return res;
  };

  return {
    names: ['concatenation', 'concatenation-unfinished'],
    layers: { POST: [post], PATCH: [patch], HEAD: [head] },
    lifecycle: {
      async afterCreate(upload: Upload) {
        if (requestContext.getStore()?.creatingPartial) {
          await state.update(upload.id, (s) => ({ kind: 'partial', finals: [], ...(s?.owner ? { owner: s.owner } : {}) }));
        }
      },
      async afterRemove(id: string) {
        const removed = await state.get(id);
        await state.delete(id);
        if (removed?.kind === 'final') await state.release(`final-${removed.requestKey}`, id);
      },
    },
  };
}

/** HEAD headers that say what kind of upload this is and how far it got. */
function describe(res: Response, current: UploadState, targets: RequestTargets): void {
  if (current.kind === 'partial') {
    res.headers.set('Upload-Concat', 'partial');
    return;
  }
  if (current.kind === 'final') {
    res.headers.set('Upload-Concat', `final;${current.partials.map((id) => targets.pathOf(id)).join(' ')}`);
    // The spec: no Upload-Offset on a final until its concatenation has finished.
    if (current.status !== 'done') res.headers.delete('Upload-Offset');
  }
  res.headers.set('Tessera-Upload-Status', current.status);
  if (current.sha256) res.headers.set('Tessera-Sha256', current.sha256);
}
