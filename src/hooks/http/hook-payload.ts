import type { HookEvent } from '../../config/config.js';

/** tusd v2's FileInfo, as its hooks send it. */
export interface HookUpload {
  readonly ID: string;
  readonly Size: number;
  readonly SizeIsDeferred: boolean;
  readonly Offset: number;
  readonly MetaData: Readonly<Record<string, string>>;
  readonly IsPartial: boolean;
  readonly IsFinal: boolean;
  readonly PartialUploads: readonly string[] | null;
  readonly Storage: Readonly<Record<string, string>> | null;
}

/** tusd v2's HTTPRequest: the request that caused the hook (Header: only the forwarded ones). */
export interface HookHttpRequest {
  readonly Method: string;
  readonly URI: string;
  readonly RemoteAddr: string;
  readonly Header: Readonly<Record<string, readonly string[]>>;
}

/** What Tessera adds to tusd's event (one object, so a tusd receiver ignores it). */
export interface TesseraHookFacts {
  /** The SHA-256 Tessera computed of the whole file (post-finish). */
  readonly Sha256?: string;
  /** The upload's lifecycle status when the hook was sent. */
  readonly Status?: string;
  /** The authenticated caller that owns the upload, when authentication is on. */
  readonly Owner?: string;
  /** Idempotency key: the same for every delivery of one event of one upload. */
  readonly EventId: string;
}

/** A hook request body: `{"Type", "Event": {"Upload", "HTTPRequest"}}` as tusd v2 sends it, plus `Tessera`. */
export interface HookRequestBody {
  readonly Type: HookEvent;
  readonly Event: { readonly Upload: HookUpload; readonly HTTPRequest: HookHttpRequest };
  readonly Tessera: TesseraHookFacts;
}

/** tusd v2's hook response (every field optional). */
export interface HookResponseBody {
  readonly HTTPResponse?: { readonly StatusCode?: number; readonly Body?: string; readonly Header?: Readonly<Record<string, string>> };
  readonly RejectUpload?: boolean;
  readonly ChangeFileInfo?: { readonly ID?: string; readonly MetaData?: Readonly<Record<string, string>> };
  readonly StopUpload?: boolean;
}

/** The causing request as a hook sends it: method, path and query, client address, forwarded headers. */
export function hookHttpRequest(req: Request | undefined, remoteAddr: string, forwardHeaders: readonly string[]): HookHttpRequest {
  if (!req) return { Method: '', URI: '', RemoteAddr: '', Header: {} };
  const url = new URL(req.url);
  const header: Record<string, string[]> = {};
  for (const name of forwardHeaders) {
    const value = req.headers.get(name);
    // Canonical MIME header keys, as Go's http.Header spells them.
    if (value !== null) header[name.replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase())] = [value];
  }
  return { Method: req.method, URI: url.pathname + url.search, RemoteAddr: remoteAddr, Header: header };
}
