import type { HttpResponse, HttpStack } from 'tus-js-client';
import { ForwardingRequest } from '../client/forwarding-request.js';

/**
 * Wraps a tus-js-client HTTP stack to learn, from the server's answers, how many bytes of each
 * upload it holds: the `Upload-Offset` of every successful PATCH, HEAD or creation-with-upload.
 * That is what survives a failure (bytes sent are not bytes stored), so it is what the page
 * reports while retrying and after giving up.
 */
export function withOffsetObserver(inner: HttpStack, onOffset: (uploadUrl: string, offset: number) => void): HttpStack {
  return {
    createRequest: (method, url) => new ObservedRequest(inner.createRequest(method, url), onOffset),
    getName: () => `${inner.getName()}+offsets`,
  };
}

class ObservedRequest extends ForwardingRequest {
  constructor(
    inner: ConstructorParameters<typeof ForwardingRequest>[0],
    private readonly onOffset: (uploadUrl: string, offset: number) => void,
  ) {
    super(inner);
  }

  override async send(body: unknown): Promise<HttpResponse> {
    const response = await this.inner.send(body);
    const offset = response.getHeader('Upload-Offset');
    if (response.getStatus() >= 200 && response.getStatus() < 300 && offset !== undefined && /^\d+$/.test(offset)) {
      // A creation's answer names the new upload in Location; anything else is the URL it was sent to.
      const location = this.getMethod().toUpperCase() === 'POST' ? response.getHeader('Location') : undefined;
      this.onOffset(location ? new URL(location, this.getURL()).href : this.getURL(), Number(offset));
    }
    return response;
  }
}
