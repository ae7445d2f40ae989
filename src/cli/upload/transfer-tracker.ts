export interface PartRange {
  readonly start: number;
  readonly end: number;
}

export interface PartProgress extends PartRange {
  readonly index: number;
  /** Bytes of this part the server holds (or is being sent them right now). */
  readonly uploaded: number;
}

export interface TransferSnapshot {
  readonly size: number;
  readonly uploaded: number;
  /** Request-body bytes put on the wire by this run (resumed bytes are not counted). */
  readonly sentThisRun: number;
  /** Bytes per second over the last few seconds; 0 before there is a measure. */
  readonly rate: number;
  readonly etaSeconds: number | undefined;
  readonly elapsedMs: number;
  readonly parts: readonly PartProgress[];
}

const RATE_WINDOW_MS = 5000;

/**
 * What the HTTP traffic says about an upload: how far each part is (from the bodies being
 * sent and the offsets the server answers), and the rate of this run. Read by reporters.
 */
export class TransferTracker {
  private readonly uploaded: number[];
  private readonly partOfUrl = new Map<string, number>();
  private sent = 0;
  private readonly samples: { at: number; sent: number }[] = [];
  private readonly startedAt: number;

  constructor(
    readonly size: number,
    readonly parts: readonly PartRange[],
    private readonly now: () => number = () => performance.now(),
  ) {
    this.uploaded = parts.map(() => 0);
    this.startedAt = now();
    // Until the window fills, the rate is the average since the start.
    this.samples.push({ at: this.startedAt, sent: 0 });
  }

  /** Parts' URLs known up front (a resumed parallel upload), in part order. */
  knowUrls(urls: readonly string[]): void {
    urls.forEach((url, index) => this.partOfUrl.set(url, index));
  }

  /** The part a request body belongs to: the file position it starts at minus its Upload-Offset. */
  partFor(url: string, bodyStart: number, uploadOffset: number): number | undefined {
    const start = bodyStart - uploadOffset;
    const index = this.parts.length === 1 ? 0 : this.parts.findIndex((p) => p.start === start);
    if (index < 0) return undefined;
    this.partOfUrl.set(url, index);
    return index;
  }

  /** The part is `offset` bytes along (as sent, or as the server answered). */
  at(part: number, offset: number): void {
    const range = this.parts[part];
    if (range) this.uploaded[part] = Math.min(Math.max(offset, 0), range.end - range.start);
  }

  /** An Upload-Offset the server answered for `url` (HEAD or PATCH). */
  serverOffset(url: string, offset: number): void {
    const part = this.partOfUrl.get(url) ?? (this.parts.length === 1 ? 0 : undefined);
    if (part !== undefined) this.at(part, offset);
  }

  addSent(bytes: number): void {
    this.sent += bytes;
  }

  snapshot(): TransferSnapshot {
    const now = this.now();
    this.samples.push({ at: now, sent: this.sent });
    while (this.samples.length > 2 && (this.samples[1] as { at: number }).at <= now - RATE_WINDOW_MS) this.samples.shift();
    const oldest = this.samples[0] as { at: number; sent: number };
    const seconds = (now - oldest.at) / 1000;
    const rate = seconds > 0 ? (this.sent - oldest.sent) / seconds : 0;
    const uploaded = this.uploaded.reduce((sum, n) => sum + n, 0);
    return {
      size: this.size,
      uploaded,
      sentThisRun: this.sent,
      rate,
      etaSeconds: rate > 0 ? (this.size - uploaded) / rate : undefined,
      elapsedMs: now - this.startedAt,
      parts: this.parts.map((p, index) => ({ ...p, index, uploaded: this.uploaded[index] ?? 0 })),
    };
  }
}
