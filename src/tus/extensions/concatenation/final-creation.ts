import { createHash } from 'node:crypto';
import { ERRORS, Metadata, Uid, Upload } from '@tus/utils';
import { errors } from '../../../errors.js';
import type { TesseraEvents } from '../../completion/tessera-events.js';
import type { UploadCompletion } from '../../completion/upload-completion.js';
import type { TusHooks } from '../../hooks.js';
import type { TesseraDataStore } from '../../tessera-datastore.js';
import type { UploadStateStore } from '../../state/upload-state.js';
import { expectedSha256 } from '../integrity/sha256.js';
import { withFacts, type TusRequest } from '../../request-facts.js';
import { withFactsAttached } from '../../upstream/direct-body.js';

export interface FinalCreationDeps {
  readonly store: TesseraDataStore;
  readonly state: UploadStateStore;
  readonly completion: UploadCompletion;
  readonly hooks: Pick<TusHooks, 'onUploadCreate' | 'namingFunction'>;
  readonly maxSize: number;
  readonly urlFor: (req: Request, id: string) => string;
  readonly events: TesseraEvents;
}

const badRequest = errors.invalidConcat;

/**
 * POST `Upload-Concat: final;...`: validates the partials, creates the final (its length is
 * the sum of theirs), registers it with each partial and assembles it at once when they are
 * all complete (concatenation-unfinished: otherwise the last partial to finish does it).
 * A retried POST (same partials, same metadata) finds the final it created before.
 */
export async function createFinal(
  deps: FinalCreationDeps,
  /** The creating request, with its facts (who made it, authentication on). */
  request: TusRequest,
  partialIds: readonly string[],
  /** The headers every answer to this request carries, errors included. */
  answerHeaders: Headers,
): Promise<Response> {
  const { req } = request;
  const owner = request.facts.owner;
  if (req.headers.get('upload-length') !== null || req.headers.get('upload-defer-length') !== null) {
    throw badRequest('A final upload must not carry Upload-Length or Upload-Defer-Length; its length is the sum of its partials');
  }
  const rawMetadata = req.headers.get('upload-metadata') ?? undefined;
  const metadata = rawMetadata ? Metadata.parse(rawMetadata) : undefined;
  expectedSha256(metadata);
  const size = await partialsLength(deps, partialIds, owner);
  if (size !== undefined && deps.maxSize > 0 && size > deps.maxSize) throw ERRORS.ERR_MAX_SIZE_EXCEEDED;

  const requestKey = createHash('sha256').update(`${partialIds.join(' ')}\n${rawMetadata ?? ''}`).digest('hex');
  // Naming (the pre-create hook) learns what the final will be made of, as tusd tells it.
  const naming = withFactsAttached(withFacts(request, { creatingFinal: { partials: partialIds, size } }));
  const candidate = deps.hooks.namingFunction ? await deps.hooks.namingFunction(naming, metadata) : Uid.rand();
  // Fully create the candidate before claiming the request key, so whoever finds the claim
  // finds a complete final behind it.
  await createFinalUpload(deps, req, candidate, { partials: partialIds, size, metadata, requestKey, owner });
  let id: string;
  try {
    id = await claimRequest(deps, `final-${requestKey}`, candidate);
    if (id === candidate) await linkPartials(deps, id, partialIds);
    else await deps.store.remove(candidate);
  } catch (error) {
    // Answered with an error: no final is left behind for the recovery pass to assemble (a
    // retry of the same request claims afresh, the claim of a removed final counting for none).
    await deps.store.remove(candidate).catch(() => undefined);
    throw error;
  }
  if (id === candidate) deps.events.emit('final-created', { id, partials: partialIds });

  const location = deps.urlFor(req, id);
  // From here the final exists: every answer names it, a failure too (a 460 whose HEAD says why,
  // a 507 whose retry returns the same final), so the client is never left with a nameless one.
  answerHeaders.set('Location', location);
  const state = await deps.completion.completeFinal(req, id);
  const headers = new Headers({ Location: location });
  if (state?.kind === 'final' && state.status === 'failed') throw errors.uploadFailed(state);
  if (state?.kind === 'final' && state.status === 'done' && state.sha256) {
    headers.set('Tessera-Upload-Status', 'done');
    headers.set('Tessera-Sha256', state.sha256);
  }
  return new Response(null, { status: 201, headers });
}

interface FinalSpec {
  readonly partials: readonly string[];
  readonly size: number | undefined;
  readonly metadata: Record<string, string | null> | undefined;
  readonly requestKey: string;
  readonly owner: string | undefined;
}

async function createFinalUpload(deps: FinalCreationDeps, req: Request, id: string, spec: FinalSpec): Promise<void> {
  const upload = new Upload({ id, size: spec.size, offset: 0, metadata: spec.metadata });
  if (deps.hooks.onUploadCreate) {
    const patch = await deps.hooks.onUploadCreate(req, upload);
    if (patch.metadata) upload.metadata = patch.metadata;
  }
  const owner = spec.owner === undefined ? {} : { owner: spec.owner };
  await deps.state.update(id, (s) => ({ ...s, kind: 'final', partials: spec.partials, status: 'pending', requestKey: spec.requestKey, ...owner }));
  try {
    await deps.store.create(upload);
  } catch (error) {
    await deps.state.delete(id);
    throw error;
  }
}

/** The final this request resolves to: an earlier live one for the same request, or ours. */
async function claimRequest(deps: FinalCreationDeps, key: string, candidate: string): Promise<string> {
  const winner = await deps.state.claim(key, candidate);
  if (winner === candidate) return candidate;
  const existing = await deps.state.get(winner);
  if (existing?.kind === 'final' && existing.status !== 'failed') return winner;
  // The earlier final is gone or failed: this request starts afresh.
  await deps.state.release(key, winner);
  return deps.state.claim(key, candidate);
}

async function linkPartials(deps: FinalCreationDeps, id: string, partialIds: readonly string[]): Promise<void> {
  for (const partialId of new Set(partialIds)) await deps.state.link(partialId, id);
}

/** Sum of the partials' lengths (undefined while one is deferred); 400/404 on bad references. */
async function partialsLength(deps: FinalCreationDeps, ids: readonly string[], owner: string | undefined): Promise<number | undefined> {
  const sizes = new Map<string, number | undefined>();
  for (const id of new Set(ids)) {
    const upload = await deps.store.getUpload(id); // 404 / 410 propagate as they are
    // An unfinished partial past its expiry answers 410 to HEAD/PATCH; it cannot be joined either.
    const expiry = deps.store.getExpiration();
    if (expiry > 0 && upload.creation_date && Date.now() > new Date(upload.creation_date).getTime() + expiry) {
      throw ERRORS.FILE_NO_LONGER_EXISTS;
    }
    const state = await deps.state.get(id);
    if (state?.kind !== 'partial') throw badRequest(`Upload ${id} is not a partial upload (create it with Upload-Concat: partial)`);
    // Without authentication both owners are undefined.
    if (state.owner !== owner) {
      throw errors.foreignPartial(id);
    }
    sizes.set(id, upload.size);
  }
  let total = 0;
  for (const id of ids) {
    const size = sizes.get(id);
    if (size === undefined) return undefined;
    total += size;
  }
  return total;
}
