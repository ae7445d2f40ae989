import { errors } from '../../../errors.js';
import type { RequestTargets } from '../../request-target.js';

export type UploadConcat = { readonly kind: 'partial' } | { readonly kind: 'final'; readonly ids: readonly string[] };

export interface ConcatUrlContext {
  /** The creating request's own URL; relative partial URLs resolve against it. */
  readonly requestUrl: string;
  readonly targets: RequestTargets;
  /** Origins this server answers for (see ownOrigins). */
  readonly ownOrigins: readonly string[];
  /** Upper bound on the number of partials in one final. */
  readonly maxPartials: number;
}

const invalid = errors.invalidConcat;

/**
 * Parses `Upload-Concat: partial` or `final;<url> <url> ...` (absolute or relative URLs, in
 * order) into upload ids. Each URL is resolved by the WHATWG parser against the request's own
 * URL (so `//host/x` and `\\host\x` are the other hosts they are to a browser) and must name
 * one of this server's origins and an upload under its tus path: a final may only be built
 * from this server's own uploads.
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
  if (!ctx.ownOrigins.includes(url.origin)) throw invalid(`Upload-Concat URL points at another server: ${raw}`);
  const id = ctx.targets.uploadIdOfUrl(url, ctx.ownOrigins);
  if (id === undefined) throw invalid(`Upload-Concat URL is not an upload of this server: ${raw}`);
  return id;
}
