import { createHash } from 'node:crypto';

/** What identifies the bytes of a finished upload, for conditional requests (RFC 9110 §8.8). */
export interface Validators {
  /** A strong entity tag, quotes included. */
  readonly etag: string;
  readonly lastModified: Date;
}

/**
 * A finished upload's bytes never change, so one strong tag per upload: its verified SHA-256
 * when it has one (a declared `sha256`, or a final's assembly), which any client can check the
 * bytes against; otherwise a token of the upload id, its size and when its bytes were last
 * written (the same on every instance: the store says when).
 */
export function validatorsOf(upload: { readonly id: string; readonly size: number; readonly sha256?: string }, modified: Date): Validators {
  const etag = upload.sha256
    ? `"sha256-${upload.sha256}"`
    : `"t-${createHash('sha256').update(`${upload.id}\n${upload.size}\n${modified.getTime()}`).digest('base64url').slice(0, 32)}"`;
  // HTTP dates have whole seconds: compare and send the same value.
  return { etag, lastModified: new Date(Math.floor(modified.getTime() / 1000) * 1000) };
}

/** The entity tags of an If-Match / If-None-Match list, or '*'. */
function entityTags(value: string): '*' | { readonly weak: boolean; readonly opaque: string }[] {
  if (value.trim() === '*') return '*';
  return [...value.matchAll(/(W\/)?("[^"]*")/g)].map((match) => ({ weak: match[1] !== undefined, opaque: match[2] as string }));
}

const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';
const MONTH = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
/** HTTP-date (RFC 9110 §5.6.7): IMF-fixdate, or the obsolete RFC 850 and asctime forms. */
const HTTP_DATE = new RegExp(
  `^(?:${DAY}, \\d{2} ${MONTH} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT` +
    `|(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), \\d{2}-${MONTH}-\\d{2} \\d{2}:\\d{2}:\\d{2} GMT` +
    `|${DAY} ${MONTH} [ \\d]\\d \\d{2}:\\d{2}:\\d{2} \\d{4})$`,
);

/** An HTTP-date's time; undefined for anything else (Date.parse alone would take "1" or "2001"). */
function httpDate(value: string | null): number | undefined {
  if (value === null || !HTTP_DATE.test(value.trim())) return undefined;
  const trimmed = value.trim();
  // asctime has no zone: it is GMT.
  const time = Date.parse(/GMT$/.test(trimmed) ? trimmed : `${trimmed} GMT`);
  return Number.isNaN(time) ? undefined : time;
}

/**
 * RFC 9110 §13.2.2, in its order, for a GET of a file that exists: 412 when If-Match or
 * If-Unmodified-Since fails, 304 when If-None-Match or If-Modified-Since says the client's copy
 * is current, 'proceed' otherwise. Malformed dates are ignored, as the RFC says.
 */
export function evaluatePreconditions(headers: Headers, validators: Validators): 'proceed' | 304 | 412 {
  const ifMatch = headers.get('if-match');
  if (ifMatch !== null) {
    const tags = entityTags(ifMatch);
    // Strong comparison: a weak tag never matches.
    if (tags !== '*' && !tags.some((tag) => !tag.weak && tag.opaque === validators.etag)) return 412;
  } else {
    const since = httpDate(headers.get('if-unmodified-since'));
    if (since !== undefined && validators.lastModified.getTime() > since) return 412;
  }
  const ifNoneMatch = headers.get('if-none-match');
  if (ifNoneMatch !== null) {
    const tags = entityTags(ifNoneMatch);
    // Weak comparison.
    if (tags === '*' || tags.some((tag) => tag.opaque === validators.etag)) return 304;
  } else {
    const since = httpDate(headers.get('if-modified-since'));
    if (since !== undefined && validators.lastModified.getTime() <= since) return 304;
  }
  return 'proceed';
}

/**
 * Whether a Range may be honoured under If-Range (RFC 9110 §13.1.5): only for the same
 * representation, by a strong entity tag or exactly the Last-Modified date.
 */
export function ifRangeHolds(headers: Headers, validators: Validators): boolean {
  const ifRange = headers.get('if-range');
  if (ifRange === null) return true;
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === validators.etag;
  return httpDate(value) === validators.lastModified.getTime();
}
