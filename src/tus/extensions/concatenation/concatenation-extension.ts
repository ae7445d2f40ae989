import { errors } from '../../../errors.js';
import type { TesseraEvents } from '../../completion/tessera-events.js';
import type { UploadCompletion } from '../../completion/upload-completion.js';
import type { TusExtension } from '../../extension.js';
import { withFactsAttached } from '../../upstream/direct-body.js';
import type { HandlerLayer } from '../../upstream/handler-layers.js';
import type { TusHooks } from '../../hooks.js';
import { withFacts } from '../../request-facts.js';
import type { TesseraDataStore } from '../../tessera-datastore.js';
import type { UploadStateStore } from '../../state/upload-state.js';
import type { RequestTargets } from '../../request-target.js';
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
  readonly urlFor: (req: Request, id: string) => string;
  readonly events: TesseraEvents;
}

/**
 * tus concatenation and concatenation-unfinished: partial uploads sent in parallel, joined
 * into a final upload whose SHA-256 is computed while it is assembled.
 */
export function concatenationExtension(options: ConcatenationOptions): TusExtension {
  const { state, targets } = options;
  const post: HandlerLayer = async (call, next) => {
    const { req, headers } = call;
    const header = req.headers.get('upload-concat');
    if (header === null) return next(call);
    const concat = parseUploadConcat(header, {
      requestUrl: req.url,
      targets,
      // The origin the request came to, and the one upload URLs are given out under (behind a
      // trusted proxy, the forwarded one): the same rule that wrote the partials' Locations.
      ownOrigins: [new URL(req.url).origin, new URL(options.urlFor(req, 'x'), req.url).origin],
      maxPartials: options.maxPartials,
    });
    if (concat.kind === 'final') return createFinal(options, { req: withFactsAttached(call), facts: call.facts }, concat.ids, headers);
    const res = await next(withFacts(call, { creatingPartial: true }));
    if (res.status === 201) res.headers.set('Upload-Concat', 'partial');
    return res;
  };

  const patch: HandlerLayer = async (call, next) => {
    const { req } = call;
    const current = await call.facts.addressedState();
    if (current?.kind === 'final') {
      throw errors.finalPatch();
    }
    return next(call);
  };

  const head: HandlerLayer = async (call, next) => {
    const { req } = call;
    const current = await call.facts.addressedState();
    const res = await next(call);
    if (current?.kind === 'partial') res.headers.set('Upload-Concat', 'partial');
    if (current?.kind === 'final') res.headers.set('Upload-Concat', `final;${current.partials.map((id) => targets.pathOf(id)).join(' ')}`);
    return res;
  };

  return {
    names: ['concatenation', 'concatenation-unfinished'],
    layers: { POST: [post], PATCH: [patch], HEAD: [head] },
    lifecycle: {
      async afterRemove(id: string) {
        const removed = await state.get(id);
        const finals = removed?.kind === 'partial' ? await state.linkedFinals(id) : [];
        await state.delete(id);
        if (removed?.kind === 'final') await state.release(`final-${removed.requestKey}`, id);
        // A final waiting on this partial can never complete now: it fails at once (visibly,
        // HEAD answers 460) instead of waiting for a byte that will never come.
        if (removed?.kind === 'partial') await options.completion.partialRemoved(id, finals);
      },
    },
  };
}
