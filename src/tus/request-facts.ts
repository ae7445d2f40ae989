import type { IncomingMessage } from 'node:http';
import type { Logger } from '../logging/logger.js';
import type { DeclaredChecksum } from './extensions/checksum/checksum-header.js';
import type { UploadState } from './state/upload-state.js';

/** One creating request's pre-create decision, filled in when pre-create names the upload. */
export interface PreCreateSlot {
  decision?: PreCreateDecision;
}

/** A creating request whose body may be stopped: `stop` while its body is read, and the upload it created. */
export interface BodyStopSlot {
  stop?: (uploadId: string, answer: { readonly StatusCode?: number; readonly Body?: string; readonly Header?: Readonly<Record<string, string>> } | undefined) => void;
}

export interface PreCreateDecision {
  readonly id: string;
  /** Metadata pre-create chose (onUploadCreate applies it). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Headers pre-create's answer adds to a 201. */
  readonly headers: Readonly<Record<string, string>>;
  /** Gives back the id's reservation (when pre-create chose the id). */
  release(): Promise<void>;
}

/**
 * What is known about one tus request, each fact decided once, by its owner, and handed down
 * explicitly: the layers pass it to the next one (adding their own fact with `withFacts`), the
 * handler passes it to the store's write. Nothing is set sideways or looked up ambiently.
 */
export interface RequestFacts {
  /** The Node request behind the web one (trailers, `complete`, the socket); absent outside Node. */
  readonly nodeRequest: IncomingMessage | undefined;
  /** Where the request came from: the socket's peer, or behind a trusted proxy the address it saw. */
  readonly clientAddress: string;
  /** The upload the path names (RequestTargets), undefined on the creation URL. Decided when the facts are made. */
  readonly uploadId: string | undefined;
  /** Bound to the upload id. */
  readonly log: Logger;
  /**
   * The addressed upload's record as the request found it, read on first ask and then kept:
   * for the checks in front of the handler, before anything changes it.
   */
  readonly addressedState: () => Promise<UploadState | undefined>;
  /** The authenticated caller; decided by the authentication layer. */
  readonly owner?: string;
  /** The checksum the body declares (header or trailer); decided by the checksum layer. */
  readonly checksum?: DeclaredChecksum | 'trailer';
  /** The request creates a partial (`Upload-Concat: partial`); decided by the concatenation layer. */
  readonly creatingPartial?: boolean;
  /**
   * Where the pre-create hook leaves what it decided for this creating request (the id, its
   * reservation, metadata and answer), for the hook's own POST layer to act on and release when
   * the POST ends, however it ends; given by that layer.
   */
  readonly preCreate?: PreCreateSlot;
  /** Where a creation's body can be stopped from (post-receive's StopUpload); given by the HTTP hooks' POST layer. */
  readonly bodyStop?: BodyStopSlot;
  /** The request creates a final: its partials' ids and their summed length (unknown while one is deferred); decided by the concatenation layer. */
  readonly creatingFinal?: { readonly partials: readonly string[]; readonly size: number | undefined };
}

/** One tus request: the web request and what is known about it. */
export interface TusRequest {
  readonly req: Request;
  readonly facts: RequestFacts;
}

/** The same request with more facts known (each added by the layer that owns it). */
export function withFacts<R extends TusRequest>(request: R, more: Partial<Pick<RequestFacts, 'owner' | 'checksum' | 'creatingPartial' | 'creatingFinal' | 'preCreate' | 'bodyStop'>>): R {
  return { ...request, facts: { ...request.facts, ...more } };
}

/** Reads once, on first call, and gives that read to every later call. */
export function readOnce<T>(read: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= read());
}

/** Makes the facts every request starts with: decided once, when the request reaches the tus handler. */
export function initialFacts(
  targets: { uploadIdOf(req: Request): string | undefined },
  state: { get(id: string): Promise<UploadState | undefined> },
  log: Logger,
  nodeRequestOf: (req: Request) => IncomingMessage | undefined,
  clientAddressOf: (req: IncomingMessage | undefined) => string,
): (req: Request) => RequestFacts {
  return (req) => {
    const uploadId = targets.uploadIdOf(req);
    const nodeRequest = nodeRequestOf(req);
    return {
      nodeRequest,
      clientAddress: clientAddressOf(nodeRequest),
      uploadId,
      log: uploadId ? log.child({ uploadId }) : log,
      addressedState: readOnce(async () => (uploadId ? state.get(uploadId) : undefined)),
    };
  };
}
