import type { Readable } from 'node:stream';
import { FastResponse } from 'srvx/node';

/**
 * A Response whose body is a Node stream that srvx (the adapter @tus/server answers through)
 * pipes straight into the Node response: the response ends as the stream does. A web
 * Response's body would be read chunk by chunk through a web stream, its end noticed a moment
 * after its last byte was written; a client that closes its connection once it has every byte
 * (Content-Length) then cut a complete download, logged as aborted (3-6% of GETs under load).
 * srvx is pinned to the version @tus/server uses; test/unit/upstream-contract.test.ts checks
 * that such a response is piped.
 */
export function nodeStreamResponse(body: Readable, init: { status: number; headers: Headers }): Response {
  // srvx takes a Node stream as a body at run time; its types only name web bodies.
  return new FastResponse(body as unknown as ConstructorParameters<typeof FastResponse>[0], init);
}
