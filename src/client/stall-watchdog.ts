import type { HttpResponse, HttpStack } from 'tus-js-client';
import { ForwardingRequest } from './forwarding-request.js';

/** A request gave up because nothing moved: no body bytes went out for the stall timeout, or no answer came in time. */
export class StalledRequestError extends Error {
  override readonly name = 'StalledRequestError';
  /** As Node names a connection that timed out, so code that knows network errors knows this one. */
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly method: string,
    readonly waitedMs: number,
    readonly phase: 'sending' | 'answer',
  ) {
    super(
      phase === 'sending'
        ? `no progress for ${Math.round(waitedMs / 1000)} s (${method}): the connection stalled`
        : `no answer for ${Math.round(waitedMs / 1000)} s after the request was sent (${method})`,
    );
  }
}

export interface StallWatchdogOptions {
  /** No body bytes handed to the connection for this long aborts the request, which tus-js-client then retries (HEAD, resume). */
  readonly stallTimeoutMs: number;
  /**
   * How long to wait for the answer once the whole request is handed to the connection.
   * Default: 4 × `stallTimeoutMs` (2 minutes for the default 30 s). It covers the bytes the
   * kernel still holds draining on a slow link (up to a few MiB) and the server's work before it
   * answers (the last PATCH verifies the file, a hook runs). On Node the connection is also
   * probed by TCP keep-alive meanwhile, so a peer gone dead while idle is found sooner.
   */
  readonly answerTimeoutMs?: number;
}

/** The answer timeout, in stall timeouts, when none is given. */
export const ANSWER_TIMEOUT_IN_STALL_TIMEOUTS = 4;
/** TCP keep-alive on Node: first probe after this much silence (libuv then probes every second, 10 times). */
const KEEPALIVE_IDLE_MS = 5_000;

/**
 * Wraps a tus-js-client HTTP stack so a request on a connection that went silent fails
 * instead of waiting forever. tus-js-client has no timeout of its own, and neither does the
 * kernel for a connection into a black hole (or it waits many minutes): the upload would
 * hang at "0 B/s".
 *
 * While the body goes out, the clock restarts with every progress report (bytes handed to the
 * connection stop moving once the link stops acknowledging them). Once it is all handed over,
 * the request gets `answerTimeoutMs` for its answer. On Node the socket gets TCP keep-alive, so
 * a peer gone dead is found while waiting. A body small enough to sit whole in the kernel's
 * buffers is "handed over" at once: on a link slower than those buffers over the answer timeout
 * it may be given up while still draining, and withAdaptiveChunks then sends smaller chunks.
 *
 * The final POST of a parallel upload is left alone: the server assembles and verifies the
 * whole file before it answers, which takes as long as the file is large, and a retried final
 * would start that work again (on Node, TCP keep-alive still finds a dead peer).
 *
 * Sits inside a checksum layer (closer to the wire): the time spent hashing a body before it is
 * sent is no stall.
 */
export function withStallWatchdog(inner: HttpStack, options: StallWatchdogOptions): HttpStack {
  if (!(options.stallTimeoutMs > 0)) throw new TypeError(`tus stall watchdog: stallTimeoutMs must be positive, got ${options.stallTimeoutMs}`);
  const answerTimeoutMs = options.answerTimeoutMs ?? ANSWER_TIMEOUT_IN_STALL_TIMEOUTS * options.stallTimeoutMs;
  return {
    createRequest: (method, url) => new WatchedRequest(inner.createRequest(method, url), options.stallTimeoutMs, answerTimeoutMs),
    getName: () => `${inner.getName()}+stall-watchdog`,
  };
}

class WatchedRequest extends ForwardingRequest {
  private onProgress: (bytesSent: number) => void = () => {};
  /** Stops the clock (an abort by the caller: the request's own rejection follows). */
  private disarm: () => void = () => {};

  constructor(
    inner: ConstructorParameters<typeof ForwardingRequest>[0],
    private readonly stallTimeoutMs: number,
    private readonly answerTimeoutMs: number,
  ) {
    super(inner);
  }

  override setProgressHandler(handler: (bytesSent: number) => void): void {
    this.onProgress = handler;
  }

  override send(body: unknown): Promise<HttpResponse> {
    const isFinal = this.getMethod().toUpperCase() === 'POST' && (this.getHeader('Upload-Concat') ?? '').startsWith('final');
    if (isFinal) {
      this.inner.setProgressHandler(this.onProgress);
      const sent = this.inner.send(body);
      keepAliveOnNode(this.inner.getUnderlyingObject());
      return sent;
    }
    const method = this.getMethod().toUpperCase();
    const size = bodySize(body);
    return new Promise<HttpResponse>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let settled = false;
      let aborted = false;
      const settle = () => {
        settled = true;
        clearTimeout(timer);
      };
      const arm = (ms: number, phase: 'sending' | 'answer') => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (settled) return;
          settle();
          reject(new StalledRequestError(method, ms, phase));
          void this.inner.abort().catch(() => undefined);
        }, ms);
      };
      let bodyOut = false;
      /** All of the body is handed over: from now on the clock is the answer's. */
      const awaitAnswer = () => {
        if (settled || aborted || bodyOut) return;
        bodyOut = true;
        arm(this.answerTimeoutMs, 'answer');
      };
      this.disarm = () => {
        aborted = true;
        clearTimeout(timer);
      };
      this.inner.setProgressHandler((bytesSent) => {
        if (!settled && !aborted && !bodyOut) {
          if (size !== undefined && bytesSent >= size) awaitAnswer();
          else arm(this.stallTimeoutMs, 'sending');
        }
        this.onProgress(bytesSent);
      });
      // A request without a body waits only for its answer.
      if (size === 0) arm(this.answerTimeoutMs, 'answer');
      else arm(this.stallTimeoutMs, 'sending');
      this.inner.send(body).then(
        (response) => {
          if (settled) return;
          settle();
          resolve(response);
        },
        (error: unknown) => {
          if (settled) return;
          settle();
          reject(error);
        },
      );
      const underlying = this.inner.getUnderlyingObject();
      keepAliveOnNode(underlying);
      // Progress reports are throttled and may skip the last one: the request says when its body is out.
      if (size !== 0) onBodySent(underlying, awaitAnswer);
    });
  }

  override abort(): Promise<void> {
    this.disarm();
    return super.abort();
  }
}

/** The body's length when it can be told (none: 0); undefined for streams of unknown length. */
function bodySize(body: unknown): number | undefined {
  if (body === null || body === undefined) return 0;
  if (typeof body === 'string') return body.length;
  if (body instanceof Uint8Array) return body.byteLength;
  const size = (body as { size?: unknown }).size;
  return typeof size === 'number' ? size : undefined;
}

/** Calls `done` once the request's body is all handed over: Node's ClientRequest 'finish', XHR's upload 'loadend'. */
function onBodySent(underlying: unknown, done: () => void): void {
  const node = underlying as { once?: (event: 'finish', listener: () => void) => void } | undefined;
  if (typeof node?.once === 'function') return node.once('finish', done);
  const upload = (underlying as { upload?: { addEventListener?(event: 'loadend', listener: () => void): void } } | undefined)?.upload;
  upload?.addEventListener?.('loadend', done);
}

/** On Node, TCP keep-alive on the request's socket: a peer gone dead is found while the request waits. */
function keepAliveOnNode(underlying: unknown): void {
  const request = underlying as { once?: (event: 'socket', listener: (socket: { setKeepAlive?(enable: boolean, delay: number): void }) => void) => void } | undefined;
  if (typeof request?.once !== 'function') return;
  request.once('socket', (socket) => socket.setKeepAlive?.(true, KEEPALIVE_IDLE_MS));
}
