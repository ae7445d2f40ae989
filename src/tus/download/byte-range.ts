import parseRange from 'range-parser';
import { ifRangeHolds, type Validators } from './validators.js';

/** What a GET sends: the whole file, one byte range of it, or nothing (416). */
export type RangeChoice =
  | { readonly kind: 'whole' }
  | { readonly kind: 'part'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

/**
 * The part of a `size`-byte file a GET asks for (RFC 9110 §14). One range (`first-last`,
 * `first-`, `-suffix`, clipped to the file) answers 206; a range that starts past the end, or
 * any range of an empty file, 416. Several ranges are answered with the whole file (200): what
 * download managers and players ask for is one range, and multipart/byteranges would cost a
 * second framing of every byte for no client we serve. A malformed Range, another unit, or an
 * If-Range that names an older version (a client resuming a file that has changed) also get
 * the whole file, as the RFC says.
 */
export function chooseRange(headers: Headers, size: number, validators: Validators): RangeChoice {
  const raw = headers.get('range');
  if (raw === null || !ifRangeHolds(headers, validators)) return { kind: 'whole' };
  // The unit is case-insensitive (RFC 9110 §14.1); several ranges get the whole file (see above).
  const header = raw.replace(/^\s*bytes\s*=/i, 'bytes=');
  const ranges = parseRange(size, header, { combine: true });
  // Several ranges that do not join into one get the whole file, satisfiable or not.
  if (header.includes(',') && !(Array.isArray(ranges) && ranges.length === 1)) return { kind: 'whole' };
  // range-parser refuses a suffix longer than the file; the RFC says it means the whole file.
  if (ranges === -1 && size > 0 && /^bytes=[ \t]*-0*[1-9]\d*[ \t]*$/.test(header)) return { kind: 'part', start: 0, end: size - 1 };
  if (ranges === -1) return { kind: 'unsatisfiable' };
  if (ranges === -2 || ranges.type !== 'bytes' || ranges.length !== 1) return { kind: 'whole' };
  const [range] = ranges;
  return range ? { kind: 'part', start: range.start, end: range.end } : { kind: 'whole' };
}
