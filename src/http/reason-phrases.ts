import { STATUS_CODES, type ServerResponse } from 'node:http';

/** Statuses tus defines beyond HTTP's, with the reason phrases the spec gives them. */
const TUS_REASONS: Readonly<Record<number, string>> = { 460: 'Checksum Mismatch' };

/** The reason phrase for `status`: HTTP's, or tus's own (460). */
export function reasonPhraseOf(status: number): string {
  return TUS_REASONS[status] ?? STATUS_CODES[status] ?? '';
}

/**
 * Gives every status line on `res` its reason phrase (`HTTP/1.1 201 Created`). @tus/server
 * builds web Responses without a status text, which srvx writes as an empty reason
 * (`HTTP/1.1 201 `): legal, but some clients and proxies log or show it as a blank.
 */
export function withReasonPhrases(res: ServerResponse): void {
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  res.writeHead = ((status: number, ...rest: unknown[]) => {
    // writeHead(status, reason?, headers?): fill in a missing or empty reason.
    if (typeof rest[0] !== 'string') return writeHead(status, reasonPhraseOf(status), ...rest);
    if (rest[0] === '') return writeHead(status, reasonPhraseOf(status), ...rest.slice(1));
    return writeHead(status, ...rest);
  }) as typeof res.writeHead;
}
