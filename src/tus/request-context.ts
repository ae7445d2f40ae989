import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../logging/logger.js';

/**
 * Per-request facts that the DataStore API has no parameter for (the store's `write` sees
 * only a stream, an id and an offset). Handler layers set it; store-side pieces read it.
 */
export interface RequestContext {
  readonly request: Request;
  /** The Node request, for HTTP trailers; absent outside Node. */
  readonly nodeRequest: IncomingMessage | undefined;
  readonly log: Logger;
  /** Set by the checksum layer when the request declares `Upload-Checksum`. */
  expectedChecksum?: { readonly algorithm: string; readonly digest: Buffer } | 'trailer';
  /** The authenticated subject, when authentication is on. */
  owner?: string;
  /** Set by the concatenation layer on `Upload-Concat: partial` creations. */
  creatingPartial?: boolean;
  /**
   * Set when this request's body starts being stored and its length is declared
   * (Content-Length): lets a store send whole parts of it without staging them (S3).
   */
  body?: { readonly id: string; readonly offset: number; readonly length: number };
}

export const requestContext = new AsyncLocalStorage<RequestContext>();
