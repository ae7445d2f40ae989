import { randomBytes } from 'node:crypto';
import type { Server as TusServer } from '@tus/server';
import { EVENTS, type Upload } from '@tus/utils';
import type { HookEvent, HttpHooksConfig } from '../../config/config.js';
import { errors } from '../../errors.js';
import type { Logger } from '../../logging/logger.js';
import type { FinishedUpload } from '../../tus/completion/tessera-events.js';
import type { TesseraHooks } from '../../tus/hooks.js';
import { isUploadId } from '../../tus/request-target.js';
import { requestOf } from '../../tus/upstream/direct-body.js';
import { HookUnavailableError, sendHook, type HookObserver } from './hook-client.js';
import { hookHttpRequest, type HookRequestBody, type HookUpload, type TesseraHookFacts } from './hook-payload.js';

/** Tessera's hooks as HTTP requests to the integrator's backend, and the listeners for the post-* events. */
export interface HttpHooks {
  /** pre-create (naming and metadata), post-finish (after verification, once per file). */
  readonly hooks: TesseraHooks;
  /** post-create, post-receive and post-terminate, from @tus/server's events. */
  attach(tus: TusServer): void;
}

/**
 * HTTP hooks as tusd v2 sends them (HOOKS_HTTP_URL): a receiver written for tusd works unchanged
 * (see hook-payload). pre-create blocks the POST: it may reject the upload with its own answer,
 * or choose the upload's id and metadata; if it cannot be asked, the POST fails closed (503).
 * post-create and post-receive are sent after the fact, with retries, and never hold a request up;
 * post-finish and post-terminate go through `deliver` (the durable outbox, see HookDelivery).
 */
export function httpHooks(config: HttpHooksConfig, log: Logger, deliver: (body: HookRequestBody) => Promise<void>, observe: HookObserver = () => {}): HttpHooks {
  const enabled = (event: HookEvent) => config.events.has(event);
  /** Metadata pre-create chose, by the id it named, until the upload is created with it. */
  const chosenMetadata = new Map<string, Record<string, string>>();

  const payload = (type: HookEvent, upload: HookUpload, req: Request | undefined, tessera: Omit<TesseraHookFacts, 'EventId'> = {}): HookRequestBody => {
    const facts = req ? requestOf(req)?.facts : undefined;
    return {
      Type: type,
      Event: { Upload: upload, HTTPRequest: hookHttpRequest(req, facts?.clientAddress ?? '', config.forwardHeaders) },
      Tessera: { ...(facts?.owner ? { Owner: facts.owner } : {}), ...tessera, EventId: `${upload.ID}:${type}` },
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
          namingFunction: async (req: Request, metadata?: Record<string, string | null>) => {
            let answer;
            try {
              answer = await sendHook(config, payload('pre-create', uploadBeingCreated(req, metadata), req), observe);
            } catch (error) {
              if (!(error instanceof HookUnavailableError)) throw error;
              log.warn({ err: error }, 'pre-create hook unavailable: upload refused');
              throw errors.hookUnavailable('pre-create');
            }
            if (answer.RejectUpload) {
              const response = answer.HTTPResponse ?? {};
              throw errors.uploadRejected(response.StatusCode ?? 400, response.Body, response.Header ?? {});
            }
            const id = answer.ChangeFileInfo?.ID || randomBytes(16).toString('hex');
            if (!isUploadId(id)) {
              log.error({ id: id.slice(0, 60) }, 'pre-create hook chose an invalid upload id');
              throw errors.hookBadUploadId();
            }
            const changed = answer.ChangeFileInfo?.MetaData;
            if (changed) chosenMetadata.set(id, stringsOnly(changed));
            return id;
          },
          onUploadCreate: async (_req: Request, upload: Upload) => {
            const metadata = chosenMetadata.get(upload.id);
            chosenMetadata.delete(upload.id);
            return metadata ? { metadata } : {};
          },
        }
      : {}),
    ...(enabled('post-finish')
      ? {
          onUploadFinish: async (req: Request | undefined, upload: FinishedUpload) => {
            // Recorded before the request that finished the file is answered.
            await deliver(payload('post-finish', hookUpload(upload), req, { Status: 'done', ...(upload.sha256 ? { Sha256: upload.sha256 } : {}) }));
            return {};
          },
        }
      : {}),
  };

  return {
    hooks,
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
          deliver(payload('post-terminate', { ...hookUpload({ id, offset: 0 } as Upload), SizeIsDeferred: false }, req)).catch((error: unknown) =>
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
    Storage: upload.storage ? { Type: upload.storage.type, Path: upload.storage.path } : null,
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
