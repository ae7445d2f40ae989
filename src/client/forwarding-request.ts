import type { HttpRequest, HttpResponse } from 'tus-js-client';

/**
 * A tus-js-client request that forwards everything to the request it wraps; subclasses
 * override only what they change (typically `send`). Lets HTTP-stack wrappers compose.
 */
export class ForwardingRequest implements HttpRequest {
  constructor(protected readonly inner: HttpRequest) {}

  getMethod(): string {
    return this.inner.getMethod();
  }

  getURL(): string {
    return this.inner.getURL();
  }

  setHeader(header: string, value: string): void {
    this.inner.setHeader(header, value);
  }

  getHeader(header: string): string | undefined {
    return this.inner.getHeader(header);
  }

  setProgressHandler(handler: (bytesSent: number) => void): void {
    this.inner.setProgressHandler(handler);
  }

  send(body: unknown): Promise<HttpResponse> {
    return this.inner.send(body);
  }

  abort(): Promise<void> {
    return this.inner.abort();
  }

  getUnderlyingObject(): unknown {
    return this.inner.getUnderlyingObject();
  }
}
