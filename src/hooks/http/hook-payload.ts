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
  readonly RejectTermination?: boolean;
}

/** A header name as Go's http.Header spells it (canonical MIME key): `x-request-id` → `X-Request-Id`. */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replace(/(^|-)([a-z])/g, (_m, dash: string, c: string) => dash + c.toUpperCase());
}

/**
 * The causing request as tusd sends it: method, path and query, the client's address and port
 * (`ip:port`, `[ip]:port` for IPv6), and every request header (as tusd does: the receiver is
 * the integrator's own backend; repeated headers arrive joined, one value).
 */
export function hookHttpRequest(req: Request | undefined, remoteAddr: string): HookHttpRequest {
  if (!req) return { Method: '', URI: '', RemoteAddr: '', Header: {} };
  const url = new URL(req.url);
  const header: Record<string, string[]> = {};
  for (const [name, value] of req.headers) header[canonicalHeaderName(name)] = [value];
  return { Method: req.method, URI: url.pathname + url.search, RemoteAddr: remoteAddr, Header: header };
}
