import type { HttpResponse, HttpStack } from 'tus-js-client';
import { ForwardingRequest } from './forwarding-request.js';

/** A request gave up because nothing moved for `stallTimeoutMs`: no body bytes went out and no answer came. */
export class StalledRequestError extends Error {
  override readonly name = 'StalledRequestError';
  /** As Node names a connection that timed out, so code that knows network errors knows this one. */
  readonly code = 'ETIMEDOUT';
  constructor(
    readonly method: string,
    readonly stallTimeoutMs: number,
  ) {
    super(`no progress for ${Math.round(stallTimeoutMs / 1000)} s (${method}): the connection stalled; reconnecting`);
  }
}

export interface StallWatchdogOptions {
  /** Nothing sent and no answer for this long aborts the request, which tus-js-client then retries (HEAD, resume). */
  readonly stallTimeoutMs: number;
}

/**
 * Wraps a tus-js-client HTTP stack so a request on a connection that went silent fails
 * instead of waiting forever. tus-js-client has no timeout of its own, and neither does the
 * kernel for a connection into a black hole (or it waits many minutes): the upload would
 * hang at "0 B/s". The clock restarts with every progress report of the body (bytes handed to
 * the socket stop moving once the link stops acknowledging them) and runs until the answer.
 *
 * The final POST of a parallel upload is left alone: the server assembles and verifies the
 * whole file before it answers, which takes as long as the file is large, and a retried final
 * would start that work again.
 */
export function withStallWatchdog(inner: HttpStack, options: StallWatchdogOptions): HttpStack {
  if (!(options.stallTimeoutMs > 0)) throw new TypeError(`tus stall watchdog: stallTimeoutMs must be positive, got ${options.stallTimeoutMs}`);
  return {
    createRequest: (method, url) => new WatchedRequest(inner.createRequest(method, url), options.stallTimeoutMs),
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
      return this.inner.send(body);
    }
    return new Promise<HttpResponse>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let settled = false;
      const settle = () => {
        settled = true;
        clearTimeout(timer);
      };
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          if (settled) return;
          settle();
          reject(new StalledRequestError(this.getMethod().toUpperCase(), this.stallTimeoutMs));
          void this.inner.abort().catch(() => undefined);
        }, this.stallTimeoutMs);
      };
      let aborted = false;
      this.disarm = () => {
        aborted = true;
        clearTimeout(timer);
      };
      this.inner.setProgressHandler((bytesSent) => {
        if (!settled && !aborted) arm();
        this.onProgress(bytesSent);
      });
      arm();
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
    });
  }

  override abort(): Promise<void> {
    this.disarm();
    return super.abort();
  }
}
