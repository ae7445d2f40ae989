import { createHash } from 'node:crypto';

/**
 * A short stand-in for comparing buffers: vitest's deep equality walks a Buffer byte by
 * byte (seconds per MiB), while equal digests mean equal bytes.
 */
export function digestOf(data: Uint8Array): string {
  return `${data.byteLength}:${createHash('sha256').update(data).digest('hex')}`;
}
