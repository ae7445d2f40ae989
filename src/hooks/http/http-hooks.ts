import { randomBytes, randomUUID } from 'node:crypto';
import type { Server as TusServer } from '@tus/server';
import { EVENTS, type Upload } from '@tus/utils';
import type { HookEvent, HttpHooksConfig } from '../../config/config.js';
import { errors } from '../../errors.js';
import type { Logger } from '../../logging/logger.js';
import type { FinishedUpload } from '../../tus/completion/tessera-events.js';
import type { TesseraHooks } from '../../tus/hooks.js';
import { isUploadId } from '../../tus/request-target.js';
import type { TusExtension } from '../../tus/extension.js';
import { requestOf, withFactsAttached } from '../../tus/upstream/direct-body.js';
import type { HandlerLayer } from '../../tus/upstream/handler-layers.js';
import { HookUnavailableError, sendHook, type HookObserver } from './hook-client.js';
import { hookHttpRequest, type HookRequestBody, type HookUpload, type TesseraHookFacts } from './hook-payload.js';

/** Tessera's hooks as HTTP requests to the integrator's backend, and the listeners for the post-* events. */
export interface HttpHooks {
  /** pre-create (naming and metadata), post-finish (after verification, once per file). */
  readonly hooks: TesseraHooks;
  /** post-create, post-receive and post-terminate, from @tus/server's events. */
  attach(tus: TusServer): void;
  /** pre-terminate: a DELETE layer (after authentication, so only a DELETE that may go asks). */
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
  readonly observe?: HookObserver;
}

/** An id pre-create may choose: an upload id without dots (no `<id>.json` or `<id>.part` can be another upload's file). */
const reHookUploadId = /^[A-Za-z0-9_-]{1,200}$/;
/** How long an id pre-create chose stays reserved for the POST that asked (it is created by then, or failed). */
const RESERVATION_MS = 60_000;

export function httpHooks(config: HttpHooksConfig, log: Logger, deps: HttpHookDeps): HttpHooks {
  const observe = deps.observe ?? (() => {});
  const enabled = (event: HookEvent) => config.events.has(event);
  /** Metadata pre-create chose, by the id it named, until the upload is created with it. */
  const chosenMetadata = new Map<string, Record<string, string>>();
  /** Ids pre-create chose, until their upload is created: two POSTs given one id must not both create it. */
  const reserved = new Map<string, NodeJS.Timeout>();
  /** Forgets what pre-create decided for an id: once its upload is created, or the POST failed (after RESERVATION_MS). */
  const release = (id: string) => {
    clearTimeout(reserved.get(id));
    reserved.delete(id);
    chosenMetadata.delete(id);
  };
  const reserve = (id: string) => {
    if (!reserved.has(id)) reserved.set(id, setTimeout(() => release(id), RESERVATION_MS).unref());
  };

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
  const notify = (body: HookRequestBody) => {
    sendHook(config, body, observe).then(
      (answer) => log.debug({ uploadId: body.Event.Upload.ID, hook: body.Type, answer }, 'hook delivered'),
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
            const chosen = answer.ChangeFileInfo?.ID;
            let id: string;
            if (chosen === undefined || chosen === '') id = randomBytes(16).toString('hex');
            else {
              if (typeof chosen !== 'string' || !reHookUploadId.test(chosen) || !isUploadId(chosen)) {
                log.error({ id: String(chosen).slice(0, 60) }, 'pre-create hook chose an invalid upload id');
                throw errors.hookBadUploadId();
              }
              if (reserved.has(chosen) || (await deps.uploadExists(chosen))) {
                log.error({ id: chosen }, 'pre-create hook chose the id of an existing upload');
                throw errors.hookUploadIdTaken();
              }
              reserve(chosen);
              id = chosen;
            }
            if (metadata) {
              chosenMetadata.set(id, { ...metadata });
              reserve(id);
            }
            return id;
          },
          onUploadCreate: async (_req: Request, upload: Upload) => {
            const metadata = chosenMetadata.get(upload.id);
            release(upload.id);
            return metadata ? { metadata } : {};
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
  const preTerminate: HandlerLayer = async (call, next) => {
    const id = call.facts.uploadId;
    const upload = id ? await deps.readUpload(id).catch(() => undefined) : undefined;
    // Unknown or gone: the DELETE answers that itself (404/410), no hook to ask.
    if (!upload) return next(call);
    let answer;
    try {
      answer = await sendHook(config, payload('pre-terminate', hookUpload(upload), withFactsAttached(call)), observe);
    } catch (error) {
      if (!(error instanceof HookUnavailableError)) throw error;
      log.warn({ uploadId: id, err: error }, 'pre-terminate hook unavailable: termination refused');
      throw errors.hookUnavailable('pre-terminate');
    }
    if (answer.RejectTermination) {
      const response = answer.HTTPResponse ?? {};
      throw errors.terminationRejected(errorStatus(response.StatusCode), typeof response.Body === 'string' ? response.Body : undefined, stringHeaders(response.Header));
    }
    return next(call);
  };

  return {
    hooks,
    extension: { names: [], layers: enabled('pre-terminate') ? { DELETE: [preTerminate] } : {} },
    attach(tus) {
      if (enabled('post-create')) {
        tus.on(EVENTS.POST_CREATE, (req: Request, upload: Upload) =>
          notify(payload('post-create', hookUpload(upload, req.headers.get('upload-concat') === 'partial'), req)),
        );
      }
      // At most once per HOOKS_PROGRESS_INTERVAL per upload: @tus/server's postReceiveInterval (see tus-server.ts).
      if (enabled('post-receive')) tus.on(EVENTS.POST_RECEIVE, (req: Request | undefined, upload: Upload) => notify(payload('post-receive', hookUpload(upload), req)));
      if (enabled('post-terminate')) {
        tus.on(EVENTS.POST_TERMINATE, (req: Request, _res: Response, id: string) => {
          deps.deliver(payload('post-terminate', { ...hookUpload({ id, offset: 0 } as Upload), SizeIsDeferred: false }, req)).catch((error: unknown) =>
            log.error({ uploadId: id, err: error }, 'post-terminate hook could not be recorded'),
          );
        });
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

/** The upload a POST is about to create, as pre-create sees it (tusd: no id yet). */
function uploadBeingCreated(req: Request, metadata: Record<string, string | null> | undefined): HookUpload {
  const length = req.headers.get('upload-length');
  const concat = req.headers.get('upload-concat') ?? '';
  return {
    ID: '',
    Size: length !== null && /^\d+$/.test(length) ? Number(length) : 0,
    SizeIsDeferred: req.headers.get('upload-defer-length') === '1',
    Offset: 0,
    MetaData: stringsOnly(metadata ?? {}),
    IsPartial: concat === 'partial',
    IsFinal: concat.startsWith('final;'),
    PartialUploads: concat.startsWith('final;') ? concat.slice('final;'.length).trim().split(/\s+/).map((url) => url.split('/').pop() ?? '') : null,
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

/** Tus metadata: keys without spaces or commas, values strings. */
function isTusMetadata(value: unknown): value is Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.entries(value).every(([key, v]) => /^[^\s,]+$/.test(key) && typeof v === 'string');
}

/** A refusal is an error: a status outside 400-599 (a 2xx, 1xx, a typo) becomes tusd's 400. */
function errorStatus(status: unknown): number {
  return Number.isInteger(status) && (status as number) >= 400 && (status as number) <= 599 ? (status as number) : 400;
}

/** The answer's headers that are strings (anything else is left out). */
function stringHeaders(header: unknown): Record<string, string> {
  if (typeof header !== 'object' || header === null) return {};
  return Object.fromEntries(Object.entries(header).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
}

/** Metadata as tusd sends it: every value a string (a key without a value is ''). */
function stringsOnly(metadata: Readonly<Record<string, string | null | undefined>>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).map(([key, value]) => [key, value ?? '']));
}

/**
 * An embedder's hooks with the HTTP hooks added: pre-create names the upload when it is on (an
 * embedder's namingFunction otherwise); both sides' onUploadCreate run, the HTTP hook's metadata
 * last; both onUploadFinish run, the embedder's answer counts.
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
  };
}
