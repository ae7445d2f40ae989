import type { HttpRequest, HttpResponse, HttpStack } from 'tus-js-client';
import { ForwardingRequest } from '../../client/forwarding-request.js';
import { FileRange } from './file-range.js';
import type { TransferTracker } from './transfer-tracker.js';

/**
 * The outermost HTTP stack of the CLI: turns FileRange bodies into file streams just before
 * they are sent (so the checksum helper and the Node stack see an ordinary fs.ReadStream),
 * and tells the tracker how far each part got.
 */
export function trackingStack(inner: HttpStack, tracker: TransferTracker): HttpStack {
  return {
    createRequest: (method, url) => new TrackingRequest(inner.createRequest(method, url), tracker),
    getName: () => `${inner.getName()}+progress`,
  };
}

class TrackingRequest extends ForwardingRequest {
  private onProgress: (bytesSent: number) => void = () => {};

  constructor(
    inner: HttpRequest,
    private readonly tracker: TransferTracker,
  ) {
    super(inner);
  }

  override setProgressHandler(handler: (bytesSent: number) => void): void {
    this.onProgress = handler;
  }

  override async send(body: unknown): Promise<HttpResponse> {
    if (!(body instanceof FileRange)) {
      this.inner.setProgressHandler(this.onProgress);
      return this.observe(await this.inner.send(body));
    }
    const offset = Number(this.inner.getHeader('Upload-Offset') ?? 0);
    const part = this.tracker.partFor(this.getURL(), body.start, offset);
    let reported = 0;
    this.inner.setProgressHandler((bytesSent) => {
      this.tracker.addSent(bytesSent - reported);
      reported = bytesSent;
      if (part !== undefined) this.tracker.at(part, offset + bytesSent);
      this.onProgress(bytesSent);
    });
    const stream = body.open();
    try {
      const res = await this.inner.send(stream);
      // The Node stack throttles progress calls and drops the last one.
      if (res.getStatus() < 300) this.tracker.addSent(body.size - reported);
      return this.observe(res);
    } finally {
      // An aborted request leaves its stream paused with an open descriptor.
      stream.destroy();
    }
  }

  private observe(res: HttpResponse): HttpResponse {
    const offset = res.getHeader('Upload-Offset');
    if (res.getStatus() < 300 && offset !== undefined && /^\d+$/.test(offset)) {
      this.tracker.serverOffset(this.getURL(), Number(offset));
    }
    return res;
  }
}
