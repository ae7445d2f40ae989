import { randomBytes, randomUUID } from 'node:crypto';
import type { Server as TusServer } from '@tus/server';
import { EVENTS, type Upload } from '@tus/utils';
import { isMetadataKey } from '../../tus/metadata-keys.js';
import type { HookEvent, HttpHooksConfig } from '../../config/config.js';
import { errors } from '../../errors.js';
import type { Logger } from '../../logging/logger.js';
import type { FinishedUpload } from '../../tus/completion/tessera-events.js';
import { FinishRefused } from '../../tus/completion/upload-completion.js';
import type { TesseraHooks } from '../../tus/hooks.js';
import { isUploadId } from '../../tus/request-target.js';
import type { TusExtension } from '../../tus/extension.js';
import { requestOf, withFactsAttached } from '../../tus/upstream/direct-body.js';
import { withFacts, type BodyStopSlot, type PreCreateDecision, type PreCreateSlot } from '../../tus/request-facts.js';
import { expectedSha256 } from '../../tus/extensions/integrity/sha256.js';
import type { HandlerLayer, TusCall } from '../../tus/upstream/handler-layers.js';
import type { UploadState } from '../../tus/state/upload-state.js';
import { HookUnavailableError, sendHook, type HookObserver } from './hook-client.js';
import type { IdReservations } from './id-reservations.js';
import { hookHttpRequest, type HookRequestBody, type HookResponseBody, type HookUpload, type TesseraHookFacts } from './hook-payload.js';

/** Tessera's hooks as HTTP requests to the integrator's backend, and the listeners for the post-* events. */
export interface HttpHooks {
  /** pre-create (naming and metadata), pre-finish (approval), post-finish (after verification, once per file). */
  readonly hooks: TesseraHooks;
  /** post-create and post-receive, from @tus/server's events. */
  attach(tus: TusServer): void;
  /**
   * A removal that is no tus DELETE (a direct upload's abort): pre-terminate may refuse it before
   * `remove` runs, post-terminate is recorded after, as for a DELETE.
   */
  terminate(req: Request, id: string, remove: () => Promise<void>): Promise<void>;
  /**
   * Layers (after authentication, so only a request that may go asks): POST (pre-create's answer
   * on a created upload), PATCH (post-receive's StopUpload), DELETE (pre- and post-terminate).
   */
  readonly extension: TusExtension;
}

/**
 * HTTP hooks as tusd v2 sends them (HOOKS_HTTP_URL): a receiver written for tusd works unchanged
 * (see hook-payload). pre-create blocks the POST: it may reject the upload with its own answer,
 * or choose the upload's id and metadata; if it cannot be asked, the POST fails closed (503).
 * post-create and post-receive are sent after the fact, with retries, and never hold a request up;
 * post-finish and post-terminate go through `deliver` (the durable outbox, see HookDelivery).
 */
export interface HttpHookDeps {
  /** Records post-finish and post-terminate durably and has them delivered (see HookDelivery). */
  deliver(body: HookRequestBody): Promise<void>;
  /** Whether an upload with this id exists (its data or its lifecycle record). */
  uploadExists(id: string): Promise<boolean>;
  /** The upload as the store has it (pre-terminate sends it, as tusd does). */
  readUpload(id: string): Promise<Upload>;
  /** Removes an upload under its lock, as a DELETE does (post-receive's StopUpload). */
  terminate(id: string): Promise<void>;
  /** Ids pre-create chose, reserved across instances until their POST ended. */
  readonly reservations: IdReservations;
  readonly observe?: HookObserver;
}

/** An id pre-create may choose: an upload id without dots (no `<id>.json` or `<id>.part` can be another upload's file). */
const reHookUploadId = /^[A-Za-z0-9_-]{1,200}$/;
/** How long a decision made without a POST layer (a direct upload's creation) is kept for it. */
const RESERVATION_MS = 60_000;

export function httpHooks(config: HttpHooksConfig, log: Logger, deps: HttpHookDeps): HttpHooks {
  const observe = deps.observe ?? (() => {});
  const enabled = (event: HookEvent) => config.events.has(event);
  /**
   * Decisions of creations that came without a slot of their own (direct uploads, created by
   * Tessera without the POST layer), by id, until onUploadCreate took them or RESERVATION_MS passed.
   */
  const unattached = new Map<string, PreCreateDecision>();
  /** Keeps a decision: in its request's slot (released by the POST layer when the POST ends), else for a while by id. */
  const keep = (req: Request, decision: PreCreateDecision) => {
    const slot = requestOf(req)?.facts.preCreate;
    if (slot) {
      slot.decision = decision;
      return;
    }
    unattached.set(decision.id, decision);
    setTimeout(() => {
      if (unattached.get(decision.id) !== decision) return;
      unattached.delete(decision.id);
      void decision.release();
    }, RESERVATION_MS).unref();
  };
  const decisionFor = (req: Request, id: string): PreCreateDecision | undefined => {
    const decision = requestOf(req)?.facts.preCreate?.decision ?? unattached.get(id);
    return decision?.id === id ? decision : undefined;
  };
  /** PATCHes running on this instance, by upload: post-receive's StopUpload ends them. */
  const running = new Map<string, Set<(response: HookResponseBody['HTTPResponse']) => void>>();

  /**
   * A hook request. `eventId`: the idempotency key, the same on every delivery of one event;
   * unique per event (a random part) unless the event can only happen once (post-finish).
   */
  const payload = (type: HookEvent, upload: HookUpload, req: Request | undefined, tessera: Omit<TesseraHookFacts, 'EventId'> = {}, eventId = `${type}:${upload.ID}:${randomUUID()}`): HookRequestBody => {
    const facts = req ? requestOf(req)?.facts : undefined;
    return {
      Type: type,
      Event: { Upload: upload, HTTPRequest: hookHttpRequest(req, remoteAddrOf(facts?.clientAddress, facts?.nodeRequest?.socket.remotePort)) },
      Tessera: { ...(facts?.owner ? { Owner: facts.owner } : {}), ...tessera, EventId: eventId },
    };
  };

  /** A post-* event: sent in the background with its retries; a failure is logged, never answered. */
  const notify = (body: HookRequestBody, then: (answer: HookResponseBody) => void = () => {}) => {
    sendHook(config, body, observe).then(
      (answer) => {
        log.debug({ uploadId: body.Event.Upload.ID, hook: body.Type, answer }, 'hook delivered');
        then(answer);
      },
      (error: unknown) => log.error({ uploadId: body.Event.Upload.ID, hook: body.Type, err: error }, 'hook not delivered'),
    );
  };

  const hooks: TesseraHooks = {
    ...(enabled('pre-create')
      ? {
          namingFunction: async (req: Request, requested?: Record<string, string | null>) => {
            let answer;
            try {
              answer = await sendHook(config, payload('pre-create', uploadBeingCreated(req, requested), req), observe);
            } catch (error) {
              if (!(error instanceof HookUnavailableError)) throw error;
              log.warn({ err: error }, 'pre-create hook unavailable: upload refused');
              throw errors.hookUnavailable('pre-create');
            }
            if (answer.RejectUpload) {
              const response = answer.HTTPResponse ?? {};
              throw errors.uploadRejected(errorStatus(response.StatusCode), typeof response.Body === 'string' ? response.Body : undefined, stringHeaders(response.Header));
            }
            const metadata = answer.ChangeFileInfo?.MetaData;
            if (metadata !== undefined && !isTusMetadata(metadata)) throw errors.hookBadAnswer('ChangeFileInfo.MetaData must map keys without spaces or commas to strings');
            if (metadata !== undefined) {
              try {
                expectedSha256(metadata);
              } catch {
                throw errors.hookBadAnswer('ChangeFileInfo.MetaData has a sha256 that is no SHA-256 (64 hex digits)');
              }
            }
            const headers = answerHeaders(answer.HTTPResponse?.Header);
            const chosen = answer.ChangeFileInfo?.ID;
            if (chosen === undefined || chosen === '') {
              const id = randomBytes(16).toString('hex');
              keep(req, { id, ...(metadata ? { metadata: { ...metadata } } : {}), headers, release: async () => {} });
              return id;
            }
            if (typeof chosen !== 'string' || !reHookUploadId.test(chosen) || !isUploadId(chosen)) {
              log.error({ id: String(chosen).slice(0, 60) }, 'pre-create hook chose an invalid upload id');
              throw errors.hookBadUploadId();
            }
            // Reserved first, then checked: of two POSTs given one id (on any instance), one
            // reserves it; one that finds it taken gives its reservation back.
            const reservation = await deps.reservations.reserve(chosen);
            let taken = reservation === undefined;
            if (reservation) {
              try {
                taken = await deps.uploadExists(chosen);
              } catch (error) {
                await reservation.release();
                throw error;
              }
              if (taken) await reservation.release();
            }
            if (taken || !reservation) {
              log.error({ id: chosen }, 'pre-create hook chose the id of an existing upload (or one another POST is creating)');
              throw errors.hookUploadIdTaken();
            }
            keep(req, { id: chosen, ...(metadata ? { metadata: { ...metadata } } : {}), headers, release: () => reservation.release() });
            return chosen;
          },
          onUploadCreate: async (req: Request, upload: Upload) => {
            const metadata = decisionFor(req, upload.id)?.metadata;
            return metadata ? { metadata: { ...metadata } } : {};
          },
        }
      : {}),
    ...(enabled('pre-finish')
      ? {
          approveFinish: async (req: Request | undefined, upload: FinishedUpload) => {
            let answer;
            try {
              answer = await sendHook(config, payload('pre-finish', hookUpload(upload), req, { Status: 'verifying', ...(upload.sha256 ? { Sha256: upload.sha256 } : {}) }), observe);
            } catch (error) {
              if (!(error instanceof HookUnavailableError)) throw error;
              log.warn({ uploadId: upload.id, err: error }, 'pre-finish hook unavailable: the upload waits for its approval');
              throw errors.hookUnavailable('pre-finish');
            }
            const response = answer.HTTPResponse ?? {};
            const body = typeof response.Body === 'string' ? response.Body : undefined;
            // tusd answers a pre-finish error status to the client and still keeps the file; here the
            // refusal is the file's outcome (HEAD says so), so a client that resumes learns it too.
            if (answer.RejectUpload === true || (Number.isInteger(response.StatusCode) && (response.StatusCode as number) >= 400)) {
              const reason = `refused by the pre-finish hook${body?.trim() ? `: ${oneLine(body)}` : ''}`;
              throw new FinishRefused(reason, errors.finishRejected(errorStatus(response.StatusCode), body, stringHeaders(response.Header)));
            }
            // Headers only: a status or body of its own would replace the answer that tells the
            // client where its upload is (a creation's 201 and Location).
            return { headers: answerHeaders(response.Header) };
          },
        }
      : {}),
    ...(enabled('post-finish')
      ? {
          onUploadFinish: async (req: Request | undefined, upload: FinishedUpload) => {
            // Recorded before the request that finished the file is answered. Once per file: the key
            // names it by id, length and SHA-256, so the same id used again for other bytes is another event.
            const eventId = `post-finish:${upload.id}:${upload.size ?? upload.offset}:${upload.sha256 ?? 'none'}`;
            await deps.deliver(payload('post-finish', hookUpload(upload), req, { Status: 'done', ...(upload.sha256 ? { Sha256: upload.sha256 } : {}) }, eventId));
            return {};
          },
        }
      : {}),
  };

  /** pre-terminate (tusd's RejectTermination): asked before a DELETE; a refusal or an unreachable receiver keeps the upload. */
  const askPreTerminate = async (req: Request, upload: HookUpload): Promise<void> => {
    let answer;
    try {
      answer = await sendHook(config, payload('pre-terminate', upload, req), observe);
    } catch (error) {
      if (!(error instanceof HookUnavailableError)) throw error;
      log.warn({ uploadId: upload.ID, err: error }, 'pre-terminate hook unavailable: termination refused');
      throw errors.hookUnavailable('pre-terminate');
    }
    if (answer.RejectTermination) {
      const response = answer.HTTPResponse ?? {};
      throw errors.terminationRejected(errorStatus(response.StatusCode), typeof response.Body === 'string' ? response.Body : undefined, stringHeaders(response.Header));
    }
  };

  /** post-terminate: recorded (the outbox) before the DELETE is answered, with the upload as it was. */
  const recordTermination = async (req: Request, upload: HookUpload): Promise<void> => {
    if (!enabled('post-terminate')) return;
    await deps.deliver(payload('post-terminate', upload, req)).catch((error: unknown) =>
      // The upload is gone whatever happens here: the DELETE is answered as it went.
      log.error({ uploadId: upload.ID, err: error }, 'post-terminate hook could not be recorded'),
    );
  };

  /** DELETE: pre-terminate before, post-terminate after, both with the upload as it was before. */
  const terminate: HandlerLayer = async (call, next) => {
    const id = call.facts.uploadId;
    const found = id ? await deps.readUpload(id).catch(() => undefined) : undefined;
    // Unknown or gone: the DELETE answers that itself (404/410), no hook to ask or tell.
    if (!found) return next(call);
    const upload = hookUploadOf(found, await call.facts.addressedState());
    if (enabled('pre-terminate')) await askPreTerminate(withFactsAttached(call), upload);
    const res = await next(call);
    if (res.status === 204) await recordTermination(withFactsAttached(call), upload);
    return res;
  };

  /**
   * Runs a request whose body post-receive may stop (tusd's StopUpload): `listen` puts `stop` where
   * the post-receive answer finds it and returns its removal; `idOf` names the upload. Stopped, the
   * body stops being read, the upload is terminated (post-terminate follows) and the request is
   * answered 400, or with the hook's HTTPResponse; a stop that comes once every byte is stored is
   * too late, and the request is answered as it went.
   */
  const runStoppable = async (call: TusCall, run: () => Promise<Response>, listen: (stop: (id: string, response: HookResponseBody['HTTPResponse']) => void) => () => void): Promise<Response> => {
    let stopped: { id: string; response: NonNullable<HookResponseBody['HTTPResponse']> } | undefined;
    const unlisten = listen((id, response) => {
      if (stopped) return;
      stopped = { id, response: response ?? {} };
      call.context.abort();
    });
    let res: Response | undefined;
    let failure: unknown;
    try {
      res = await run();
    } catch (error) {
      if (!stopped) throw error;
      failure = error;
    } finally {
      unlisten();
    }
    if (!stopped) return res as Response;
    const { id, response } = stopped;
    const found = await deps.readUpload(id).catch(() => undefined);
    if (found && found.size !== undefined && found.offset === found.size) {
      log.info({ uploadId: id }, 'post-receive hook asked to stop an upload whose last byte was already stored: not stopped');
      if (res) return res;
      throw failure;
    }
    if (found) {
      const upload = hookUploadOf(found, call.facts.uploadId === id ? await call.facts.addressedState() : undefined);
      await deps.terminate(id);
      log.info({ uploadId: id }, 'upload stopped by the post-receive hook');
      await recordTermination(withFactsAttached(call), upload);
    }
    const body = typeof response.Body === 'string' ? response.Body : undefined;
    throw errors.uploadStopped(errorStatus(response.StatusCode), body, stringHeaders(response.Header));
  };

  /**
   * POST: gives the creation a slot for pre-create's decision (a created upload's 201 carries its
   * headers; when the POST ends, however it ends, the id's reservation goes) and, with post-receive,
   * a way to stop its body.
   */
  const create: HandlerLayer = async (call, next) => {
    const slot: PreCreateSlot = {};
    const bodyStop: BodyStopSlot = {};
    try {
      const run = () => next(withFacts(call, { preCreate: slot, ...(enabled('post-receive') ? { bodyStop } : {}) }));
      const res = enabled('post-receive')
        ? await runStoppable(call, run, (stop) => {
            bodyStop.stop = stop;
            return () => {
              bodyStop.stop = undefined;
            };
          })
        : await run();
      const headers = slot.decision?.headers ?? {};
      if (res.status !== 201 || Object.keys(headers).length === 0) return res;
      const answer = new Headers(res.headers);
      for (const [name, value] of Object.entries(headers)) answer.set(name, value);
      return new Response(res.body, { status: res.status, headers: answer });
    } finally {
      await slot.decision?.release().catch((error: unknown) => log.warn({ uploadId: slot.decision?.id, err: error }, 'reservation of a hook-chosen id not released'));
    }
  };

  /** PATCH: the body of an upload's running PATCH may be stopped by post-receive (see runStoppable). */
  const stoppable: HandlerLayer = async (call, next) => {
    const id = call.facts.uploadId;
    if (!id) return next(call);
    return runStoppable(call, () => next(call), (stop) => {
      const entry = (response: HookResponseBody['HTTPResponse']) => stop(id, response);
      const stops = running.get(id) ?? new Set();
      running.set(id, stops.add(entry));
      return () => {
        stops.delete(entry);
        if (stops.size === 0) running.delete(id);
      };
    });
  };

  const layers: Partial<Record<'POST' | 'PATCH' | 'DELETE', HandlerLayer[]>> = {};
  if (enabled('pre-create') || enabled('post-receive')) layers.POST = [create];
  if (enabled('post-receive')) layers.PATCH = [stoppable];
  if (enabled('pre-terminate') || enabled('post-terminate')) layers.DELETE = [terminate];

  return {
    hooks,
    extension: { names: [], layers },
    async terminate(req, id, remove) {
      const found = await deps.readUpload(id).catch(() => undefined);
      const upload = found ? hookUpload(found) : undefined;
      if (upload && enabled('pre-terminate')) await askPreTerminate(req, upload);
      await remove();
      if (upload) await recordTermination(req, upload);
    },
    attach(tus) {
      if (enabled('post-create')) {
        tus.on(EVENTS.POST_CREATE, (req: Request, upload: Upload) =>
          notify(payload('post-create', hookUpload(upload, req.headers.get('upload-concat') === 'partial'), req)),
        );
      }
      // At most once per HOOKS_PROGRESS_INTERVAL per upload: @tus/server's postReceiveInterval (see tus-server.ts).
      if (enabled('post-receive')) {
        tus.on(EVENTS.POST_RECEIVE, (req: Request | undefined, upload: Upload) =>
          notify(payload('post-receive', hookUpload(upload), req), (answer) => {
            if (answer.StopUpload !== true) return;
            // The body of the creating POST (creation-with-upload), or of a PATCH.
            const creating = req ? requestOf(req)?.facts.bodyStop : undefined;
            if (creating?.stop) return creating.stop(upload.id, answer.HTTPResponse);
            const stops = running.get(upload.id);
            if (!stops?.size) log.info({ uploadId: upload.id }, 'post-receive hook asked to stop an upload no PATCH is sending here');
            for (const stop of stops ?? []) stop(answer.HTTPResponse);
          }),
        );
      }
    },
  };
}

/** An upload as tusd's FileInfo; `partial` when the request that made it said Upload-Concat: partial. */
function hookUpload(upload: Upload & { concat?: { readonly partials: readonly string[] } }, partial = false): HookUpload {
  return {
    ID: upload.id,
    Size: upload.size ?? 0,
    SizeIsDeferred: upload.size === undefined,
    Offset: upload.offset,
    MetaData: stringsOnly(upload.metadata ?? {}),
    IsPartial: partial,
    IsFinal: upload.concat !== undefined,
    PartialUploads: upload.concat ? [...upload.concat.partials] : null,
    Storage: storageOf(upload),
  };
}

/** An upload as the store has it, with what its lifecycle record says of its role. */
function hookUploadOf(upload: Upload, state: UploadState | undefined): HookUpload {
  return hookUpload(state?.kind === 'final' ? Object.assign(upload, { concat: { partials: state.partials } }) : upload, state?.kind === 'partial');
}

/**
 * The upload a POST is about to create, as pre-create sees it (tusd: no id yet). A final's
 * partials and summed length come from the request's facts (the concatenation layer read them).
 */
function uploadBeingCreated(req: Request, metadata: Record<string, string | null> | undefined): HookUpload {
  const facts = requestOf(req)?.facts;
  const final = facts?.creatingFinal;
  const length = req.headers.get('upload-length');
  const size = final ? final.size : length !== null && /^\d+$/.test(length) ? Number(length) : undefined;
  return {
    ID: '',
    Size: size ?? 0,
    SizeIsDeferred: final ? final.size === undefined : req.headers.get('upload-defer-length') === '1',
    Offset: 0,
    MetaData: stringsOnly(metadata ?? {}),
    IsPartial: req.headers.get('upload-concat') === 'partial',
    IsFinal: final !== undefined,
    PartialUploads: final ? [...final.partials] : null,
    Storage: null,
  };
}

/** Where the upload's bytes are, as tusd names its stores: filestore (Path, InfoPath), s3store (Bucket, Key). */
function storageOf(upload: Upload): Record<string, string> | null {
  const storage = upload.storage as { type?: string; path?: string; bucket?: string } | undefined;
  if (!storage) return null;
  if (storage.type === 'file' && storage.path) return { Type: 'filestore', Path: storage.path, InfoPath: `${storage.path}.json` };
  if (storage.type === 's3') return { Type: 's3store', Bucket: storage.bucket ?? storage.path ?? '', Key: upload.id };
  return { Type: storage.type ?? '' };
}

/** `ip:port` as Go's RemoteAddr writes it (`[ip]:port` for IPv6); the address alone when the port is unknown. */
function remoteAddrOf(address: string | undefined, port: number | undefined): string {
  if (!address) return '';
  if (port === undefined) return address;
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Tus metadata: keys as a tus client's must be (printable ASCII, no spaces or commas: they go back in HEAD's headers), values strings. */
function isTusMetadata(value: unknown): value is Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.entries(value).every(([key, v]) => isMetadataKey(key) && typeof v === 'string');
}

/** A refusal is an error: a status outside 400-599 (a 2xx, 1xx, a typo) becomes tusd's 400. */
function errorStatus(status: unknown): number {
  return Number.isInteger(status) && (status as number) >= 400 && (status as number) <= 599 ? (status as number) : 400;
}

/**
 * The headers of a refusal the hook answers with: string values HTTP can carry (a name that is no
 * token, a CR or LF in a value, are left out, never a failed answer), never the framing of the
 * answer, nor a Location (an answer about an upload names that upload, or none).
 */
function stringHeaders(header: unknown): Record<string, string> {
  if (typeof header !== 'object' || header === null) return {};
  return Object.fromEntries(
    Object.entries(header).filter((entry): entry is [string, string] => typeof entry[1] === 'string' && !reFramingHeader.test(entry[0]) && isSendable(entry[0], entry[1])),
  );
}

const reFramingHeader = /^(content-length|transfer-encoding|connection|keep-alive|upgrade|trailer|location)$/i;

/** Whether a header can go on an answer at all (what Headers and Node refuse is dropped here instead). */
function isSendable(name: string, value: string): boolean {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name) || /[\r\n\0]/.test(value)) return false;
  try {
    new Headers([[name, value]]);
    return true;
  } catch {
    return false;
  }
}
/** Headers a hook may not set on a successful answer: the protocol's own (the offset, the upload's URL, its status). */
const reProtocolHeader = /^(location|upload-.*|tus-.*|tessera-.*|access-control-.*)$/i;

/** Headers a hook adds to a successful answer (pre-create's 201, pre-finish's 204): never the protocol's own. */
function answerHeaders(header: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(stringHeaders(header)).filter(([name]) => !reProtocolHeader.test(name)));
}

/** A receiver's text as one short line (it becomes an upload's recorded reason). */
function oneLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 199)}…` : line;
}

/** Metadata as tusd sends it: every value a string (a key without a value is ''). */
function stringsOnly(metadata: Readonly<Record<string, string | null | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key, value ?? '']));
}

/**
 * An embedder's hooks with the HTTP hooks added: pre-create names the upload when it is on (an
 * embedder's namingFunction otherwise); both sides' onUploadCreate run, the HTTP hook's metadata
 * last; both onUploadFinish run, the embedder's answer counts; both approveFinish run (either may refuse).
 */
export function withHttpHooks(given: TesseraHooks, http: TesseraHooks): TesseraHooks {
  return {
    ...given,
    namingFunction: http.namingFunction ?? given.namingFunction,
    onUploadCreate: async (req, upload) => {
      const first = (await given.onUploadCreate?.(req, upload)) ?? {};
      const second = (await http.onUploadCreate?.(req, first.metadata ? Object.assign(upload, { metadata: first.metadata }) : upload)) ?? {};
      return { ...first, ...second };
    },
    onUploadFinish: async (req, upload) => {
      const answer = (await given.onUploadFinish?.(req, upload)) ?? {};
      await http.onUploadFinish?.(req, upload);
      return answer;
    },
    // Only when someone approves files: without it, a verified file is done at once.
    ...(given.approveFinish || http.approveFinish
      ? {
          approveFinish: async (req: Request | undefined, upload: FinishedUpload) => {
            const first = (await given.approveFinish?.(req, upload)) ?? {};
            const second = (await http.approveFinish?.(req, upload)) ?? {};
            return { ...first, ...second, headers: { ...first.headers, ...second.headers } };
          },
        }
      : {}),
  };
}
