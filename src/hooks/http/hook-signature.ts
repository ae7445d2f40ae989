import { createHmac, timingSafeEqual } from 'node:crypto';

/** Headers of a signed hook request: when it was signed (ms since the epoch), and the signature. */
export const TIMESTAMP_HEADER = 'Tessera-Timestamp';
export const SIGNATURE_HEADER = 'Tessera-Signature';

/** `sha256=<hex>`: HMAC-SHA256 with the shared secret of `<timestamp>.<body>`. */
export function signHookRequest(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/**
 * A receiver's check of a hook request: the signature matches the body and timestamp, and the
 * timestamp is recent (within `toleranceMs`, default 5 minutes), so a recorded request cannot
 * be replayed later. Keep the ids of requests seen within the tolerance to refuse an immediate
 * replay too (each request carries an idempotency key, see the README).
 */
export function verifyHookSignature(options: {
  readonly secret: string;
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
  readonly body: string;
  readonly toleranceMs?: number;
  readonly now?: number;
}): boolean {
  const { secret, timestamp, signature, body } = options;
  if (!timestamp || !signature || !/^\d{1,16}$/.test(timestamp)) return false;
  const age = (options.now ?? Date.now()) - Number(timestamp);
  if (Math.abs(age) > (options.toleranceMs ?? 5 * 60_000)) return false;
  const expected = Buffer.from(signHookRequest(secret, timestamp, body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
