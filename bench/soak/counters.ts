/** What the soak counts; one instance shared by every worker. */
export class SoakCounters {
  /** HTTP requests the clients sent (creation, HEAD, PATCH, final POST, DELETE). */
  requests = 0;
  /** Responses by status, as the clients saw them (retries included). */
  readonly statuses = new Map<number, number>();
  /** Responses to requests of an aborted run that arrived after the upload had finished. */
  late = 0;
  /** Uploads started. */
  started = 0;
  /** Uploads that completed and verified (Tessera-Sha256 equal to the client's). */
  verified = 0;
  /** Completed, but the server's SHA-256 differs from the client's, or HEAD says otherwise. */
  wrong = 0;
  /** Gave up after retries (tus-js-client onError). */
  failed = 0;
  /** Still running when the soak ended and aborted (not failures). */
  cutAtEnd = 0;
  /** Client-side aborts followed by a resume. */
  aborts = 0;
  /** Resumes done by a fresh client from the upload URL (as after a restart). */
  freshResumes = 0;
  /** Finals (parallelUploads) among the verified. */
  finalsVerified = 0;
  /** Bytes of files verified. */
  bytesVerified = 0;
  /** Short descriptions of the first failures, for the report. */
  readonly failures: string[] = [];
  /** The first error responses (4xx/5xx), whatever came of them: method, status, message. */
  readonly errorResponses: string[] = [];
  /** Uploads still running at the hard stop: what each was last waiting for. */
  readonly stalls: string[] = [];

  errorResponse(text: string): void {
    if (this.errorResponses.length < 20) this.errorResponses.push(text);
  }

  status(code: number): void {
    this.statuses.set(code, (this.statuses.get(code) ?? 0) + 1);
  }

  fail(kind: 'failed' | 'wrong', why: string): void {
    this[kind] += 1;
    if (this.failures.length < 20) this.failures.push(`${kind}: ${why}`);
  }
}
