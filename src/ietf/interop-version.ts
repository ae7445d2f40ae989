/**
 * What each interop version of "Resumable Uploads for HTTP" (draft-ietf-httpbis-resumable-upload,
 * the `Upload-Draft-Interop-Version` request header) asks of a server, as far as Tessera differs
 * between them. Sources per version: the draft's text at its tags (-01 = 3, -02 = 4, -03 = 5,
 * -04/-05 = 6, -06..-08 = 7, -09..-11 = 8).
 */
export interface InteropVersion {
  readonly version: 3 | 4 | 5 | 6 | 7 | 8;
  /** 3: `Upload-Incomplete` (true = more follows); 4 on: `Upload-Complete` (true = this ends it). */
  readonly completeness: 'Upload-Incomplete' | 'Upload-Complete';
  /** 6 on (-04 §Upload Append): an append's body is `application/partial-upload`. */
  readonly partialUploadType: boolean;
  /** 6 on (-04 §Problem Types): errors come as `application/problem+json` with a problem type. */
  readonly problemDetails: boolean;
  /** 6 on (-04 §Upload-Limit): limits are announced (with `expires` until 6, `max-age` from 7). */
  readonly limits: false | 'expires' | 'max-age';
  /**
   * What a successful append answers: 3 to 6, `201 (Created)` with `Upload-Offset` (-01..-05
   * §Upload Append); 7 on, a 2xx acknowledgement (`204`) with `Upload-Complete` (-06 §Upload Append).
   */
  readonly appendStatus: 201 | 204;
  /** 8 (-09 §Concurrency and OPTIONS): `Accept-Patch: application/partial-upload` in OPTIONS too (-10). */
  readonly acceptPatch: boolean;
}

const VERSIONS: Readonly<Record<number, InteropVersion>> = Object.freeze({
  3: { version: 3, completeness: 'Upload-Incomplete', partialUploadType: false, problemDetails: false, limits: false, appendStatus: 201, acceptPatch: false },
  4: { version: 4, completeness: 'Upload-Complete', partialUploadType: false, problemDetails: false, limits: false, appendStatus: 201, acceptPatch: false },
  5: { version: 5, completeness: 'Upload-Complete', partialUploadType: false, problemDetails: false, limits: false, appendStatus: 201, acceptPatch: false },
  6: { version: 6, completeness: 'Upload-Complete', partialUploadType: true, problemDetails: true, limits: 'expires', appendStatus: 201, acceptPatch: false },
  7: { version: 7, completeness: 'Upload-Complete', partialUploadType: true, problemDetails: true, limits: 'max-age', appendStatus: 204, acceptPatch: false },
  8: { version: 8, completeness: 'Upload-Complete', partialUploadType: true, problemDetails: true, limits: 'max-age', appendStatus: 204, acceptPatch: true },
});

export const INTEROP_VERSIONS: readonly number[] = Object.keys(VERSIONS).map(Number);

/** The version a request asks for, undefined when it names none Tessera speaks (an sf-integer). */
export function interopVersionOf(header: string | undefined): InteropVersion | undefined {
  if (header === undefined || !/^\d{1,3}$/.test(header.trim())) return undefined;
  return VERSIONS[Number(header.trim())];
}

/** An sf-boolean (`?1`, `?0`), or undefined when absent; anything else is malformed (null). */
export function sfBoolean(value: string | undefined): boolean | undefined | null {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (trimmed === '?1') return true;
  if (trimmed === '?0') return false;
  return null;
}

/** Whether the request says its content ends the upload, in this version's field; null if malformed. */
export function requestCompletes(version: InteropVersion, headers: { get(name: string): string | undefined }): boolean | null {
  if (version.completeness === 'Upload-Incomplete') {
    // -01: absent or false means this request's content ends the upload.
    const incomplete = sfBoolean(headers.get('upload-incomplete'));
    return incomplete === null ? null : incomplete !== true;
  }
  const complete = sfBoolean(headers.get('upload-complete'));
  // Required from 4 on; an append without it (3 to 6 allowed leaving it out) is the last one.
  if (complete === undefined) return true;
  return complete;
}

/** The completeness field of a response: `Upload-Complete: ?1` (or `Upload-Incomplete: ?0`). */
export function completenessField(version: InteropVersion, complete: boolean): [string, string] {
  return version.completeness === 'Upload-Incomplete' ? ['Upload-Incomplete', complete ? '?0' : '?1'] : ['Upload-Complete', complete ? '?1' : '?0'];
}
