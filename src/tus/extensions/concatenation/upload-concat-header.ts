import { TusError } from '../../../errors.js';
import { uploadIdFromUrl } from '../../upload-id.js';

export type UploadConcat = { readonly kind: 'partial' } | { readonly kind: 'final'; readonly ids: readonly string[] };

export interface ConcatUrlContext {
  /** The creating request's URL; relative partial URLs resolve against it. */
  readonly requestUrl: string;
  readonly tusPath: string;
  /** Hosts this server answers for (Host header, and forwarded host when trusted). */
  readonly ownHosts: readonly string[];
  /** Upper bound on the number of partials in one final. */
  readonly maxPartials: number;
}

const invalid = (message: string) => new TusError('ERR_INVALID_CONCAT', 400, message);

/**
 * Parses `Upload-Concat: partial` or `final;<url> <url> ...` (absolute or relative URLs, in
 * order) into upload ids. A URL of another host or outside the tus path is a 400: a final
 * may only be built from this server's own uploads.
 */
export function parseUploadConcat(value: string, ctx: ConcatUrlContext): UploadConcat {
  const trimmed = value.trim();
  if (trimmed === 'partial') return { kind: 'partial' };
  if (!trimmed.startsWith('final;')) throw invalid('Upload-Concat must be "partial" or "final;<urls>"');
  const urls = trimmed.slice('final;'.length).trim().split(/ +/).filter(Boolean);
  if (urls.length === 0) throw invalid('Upload-Concat final lists no partial uploads');
  if (urls.length > ctx.maxPartials) throw invalid(`Upload-Concat final lists more than ${ctx.maxPartials} partial uploads`);
  return { kind: 'final', ids: urls.map((url) => idOf(url, ctx)) };
}

function idOf(raw: string, ctx: ConcatUrlContext): string {
  let url: URL;
  try {
    url = new URL(raw, ctx.requestUrl);
  } catch {
    throw invalid(`Upload-Concat holds an invalid URL: ${raw}`);
  }
  const absolute = /^[a-z][a-z0-9+.-]*:/i.test(raw);
  if (absolute && !ctx.ownHosts.includes(url.host)) {
    throw invalid(`Upload-Concat URL points at another server: ${raw}`);
  }
  const id = uploadIdFromUrl(url.toString(), ctx.tusPath);
  if (!id || url.search || url.hash) throw invalid(`Upload-Concat URL is not an upload of this server: ${raw}`);
  return id;
}
