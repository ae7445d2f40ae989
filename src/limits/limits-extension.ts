import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { errors } from '../errors.js';
import type { TusExtension } from '../tus/extension.js';
import type { HandlerLayer } from '../tus/upstream/handler-layers.js';
import type { RequestFacts } from '../tus/request-facts.js';

export interface Limits {
  /** Largest Upload-Metadata header, in bytes. */
  readonly maxMetadataBytes: number;
  /** Uploads sending data at once per owner, on this instance; 0 = off. */
  readonly concurrentUploads: number;
  /** RATE_LIMIT_PER_MINUTE, shared with every other route that takes requests (requestRateLimit). */
  readonly rateLimit?: RateLimit;
}

/** Counts one request of its caller against RATE_LIMIT_PER_MINUTE; rejects with 429 (Retry-After) beyond it. */
export type RateLimit = (facts: Pick<RequestFacts, 'owner' | 'clientAddress'>) => Promise<void>;

/**
 * The request rate limit, one budget per owner (or client address) whatever route a request takes
 * (the tus path, direct uploads): `shared` is the Redis limiter in shared mode; in memory otherwise.
 */
export function requestRateLimit(requestsPerMinute: number, shared?: RateLimiterAbstract): RateLimit | undefined {
  if (requestsPerMinute <= 0) return undefined;
  const limiter = shared ?? new RateLimiterMemory({ points: requestsPerMinute, duration: 60 });
  return async (facts) => {
    try {
      await limiter.consume(limitKey(facts));
    } catch (error) {
      if (error instanceof RateLimiterRes) throw tooMany('Too many requests; slow down', Math.ceil(error.msBeforeNext / 1000));
      throw errors.redisUnavailable(); // only the shared (Redis) limiter fails this way
    }
  };
}

const tooMany = errors.tooManyRequests;

/** Who a limit counts against: the authenticated owner, else the client address. */
function limitKey(facts: Pick<RequestFacts, 'owner' | 'clientAddress'>): string {
  return facts.owner !== undefined ? `owner:${facts.owner}` : `addr:${facts.clientAddress}`;
}

/** Size limits (400) and per-owner rate and concurrency limits (429 with Retry-After). */
export function limitsExtension(limits: Limits): TusExtension {
  const metadataSize: HandlerLayer = async (call, next) => {
    const metadata = call.req.headers.get('upload-metadata');
    if (metadata && Buffer.byteLength(metadata) > limits.maxMetadataBytes) {
      throw errors.metadataTooLarge(limits.maxMetadataBytes);
    }
    return next(call);
  };

  const rate: HandlerLayer = async (call, next) => {
    await limits.rateLimit?.(call.facts);
    return next(call);
  };

  const inFlight = new Map<string, number>();
  const concurrency: HandlerLayer = async (call, next) => {
    const { req } = call;
    const sendsData = req.method === 'PATCH' || req.headers.get('content-type') === 'application/offset+octet-stream';
    if (limits.concurrentUploads <= 0 || !sendsData) return next(call);
    const key = limitKey(call.facts);
    const current = inFlight.get(key) ?? 0;
    if (current >= limits.concurrentUploads) {
      throw tooMany(`At most ${limits.concurrentUploads} uploads may send data at once`, 1);
    }
    inFlight.set(key, current + 1);
    try {
      return await next(call);
    } finally {
      const left = (inFlight.get(key) ?? 1) - 1;
      if (left > 0) inFlight.set(key, left);
      else inFlight.delete(key);
    }
  };

  const all = [rate, concurrency];
  return {
    names: [],
    layers: { POST: [metadataSize, ...all], PATCH: all, HEAD: [rate], DELETE: [rate], GET: [rate] },
  };
}
