import type http from 'node:http';
import { tusHead } from './tus-raw.js';

export interface Completion {
  /** The digest the server says it computed, if it exposes one (Tessera: `Tessera-Sha256`). */
  readonly serverSha256?: string;
}

/**
 * Confirms an upload is complete (HEAD: Upload-Offset = size) and, when the server reports a
 * SHA-256, that it is the expected one (hex or base64 accepted).
 */
export async function expectComplete(url: string, size: number, sha256: Buffer, agent?: http.Agent): Promise<Completion> {
  const headers = await tusHead(url, agent);
  if (headers['upload-offset'] !== String(size)) {
    throw new Error(`HEAD ${url}: Upload-Offset ${String(headers['upload-offset'])}, expected ${size}`);
  }
  const reported = headers['tessera-sha256'];
  if (typeof reported !== 'string') return {};
  if (reported !== sha256.toString('hex') && reported !== sha256.toString('base64')) {
    throw new Error(`HEAD ${url}: server reports sha256 ${reported}, expected ${sha256.toString('hex')}`);
  }
  return { serverSha256: reported };
}
