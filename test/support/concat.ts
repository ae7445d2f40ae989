import { createHash } from 'node:crypto';
import { create, patch } from './tus-http.js';

export const sha256Hex = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Creates a partial upload of `data.length` bytes; uploads `data` unless `upload` is false. `headers`: on every request (e.g. credentials). */
export async function partial(endpoint: string, data: Buffer, upload = true, headers: Record<string, string> = {}): Promise<string> {
  const { res, url } = await create(endpoint, { length: data.length, headers: { ...headers, 'Upload-Concat': 'partial' } });
  if (res.status !== 201) throw new Error(`partial creation answered ${res.status}`);
  if (upload) {
    const done = await patch(url, 0, data, headers);
    if (done.status !== 204) throw new Error(`partial PATCH answered ${done.status}`);
  }
  return url;
}

/** POSTs a final upload over `urls`, with optional metadata and headers. */
export function final(endpoint: string, urls: readonly string[], metadata?: Record<string, string>, headers: Record<string, string> = {}) {
  return create(endpoint, { metadata, headers: { ...headers, 'Upload-Concat': `final;${urls.join(' ')}` } });
}
