import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HOOK_EVENTS, type HttpHooksConfig } from '../../src/config/config.js';
import type { HookRequestBody, HookResponseBody } from '../../src/hooks/http/hook-payload.js';

export type HookAnswer = { status: number; body: HookResponseBody | string };

/**
 * A real HTTP hook receiver on 127.0.0.1: it records every hook request and answers with
 * `answer`, which may hold a request (return a promise) so a test orders events without sleeps.
 */
export async function hookReceiver() {
  const received: HookRequestBody[] = [];
  const waiters = new Set<() => void>();
  let answer: (body: HookRequestBody) => HookAnswer | Promise<HookAnswer> = () => ({ status: 200, body: {} });
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as HookRequestBody;
      received.push(body);
      for (const wake of waiters) wake();
      void Promise.resolve(answer(body)).then((reply) => {
        const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
        res.writeHead(reply.status, { 'Content-Type': 'application/json' }).end(text);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const until = (done: (all: HookRequestBody[]) => boolean, what: string, timeoutMs = 20_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!done(received)) return;
        waiters.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`hook receiver: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    answerWith(next: (body: HookRequestBody) => HookAnswer | Promise<HookAnswer>) {
      answer = next;
    },
    of: (type: string, id: string) => received.filter((r) => r.Type === type && r.Event.Upload.ID === id),
    hookFor: (type: string, id: string) => until((all) => all.some((r) => r.Type === type && r.Event.Upload.ID === id), `${type} for ${id}`),
    until,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** HTTP hooks to `url` for tests: every event, no retries, short backoff. */
export const testHooks = (url: string, overrides: Partial<HttpHooksConfig> = {}): HttpHooksConfig => ({
  url,
  events: new Set(HOOK_EVENTS),
  forwardHeaders: [],
  timeoutMs: 5000,
  retries: 0,
  backoffMs: 50,
  progressIntervalMs: 1000,
  retryForMs: 60_000,
  ...overrides,
});

/** A promise and its resolve: holds a receiver's answer until the test opens it. */
export function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}
