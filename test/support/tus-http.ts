import { randomBytes } from 'node:crypto';

/** Raw tus requests over real HTTP (fetch), for protocol tests. */
export const TUS = { 'Tus-Resumable': '1.0.0' } as const;

export function encodeMetadata(meta: Record<string, string>): string {
  return Object.entries(meta)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');
}

export async function create(
  endpoint: string,
  opts: { length?: number; defer?: boolean; metadata?: Record<string, string>; headers?: Record<string, string>; body?: Buffer } = {},
): Promise<{ res: Response; url: string }> {
  const headers: Record<string, string> = { ...TUS, ...opts.headers };
  if (opts.length !== undefined) headers['Upload-Length'] = String(opts.length);
  if (opts.defer) headers['Upload-Defer-Length'] = '1';
  if (opts.metadata) headers['Upload-Metadata'] = encodeMetadata(opts.metadata);
  if (opts.body) headers['Content-Type'] = 'application/offset+octet-stream';
  const res = await fetch(endpoint, { method: 'POST', headers, body: opts.body });
  const location = res.headers.get('location');
  return { res, url: location ? new URL(location, endpoint).toString() : '' };
}

export function patch(url: string, offset: number, body: Buffer, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'PATCH',
    headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream', ...headers },
    body,
  });
}

/** A PATCH whose body is a stream of unknown length (sent chunked). */
export function patchStream(url: string, offset: number, body: ReadableStream<Uint8Array>): Promise<Response> {
  return fetch(url, {
    method: 'PATCH',
    headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' },
    body,
    duplex: 'half',
  } as RequestInit);
}

export function head(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'HEAD', headers: { ...TUS, ...headers } });
}

export function del(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'DELETE', headers: { ...TUS, ...headers } });
}

/** The current offset per HEAD, or the status when the HEAD did not succeed. */
export async function offsetOf(url: string): Promise<number> {
  const res = await head(url);
  if (res.status !== 200) throw new Error(`HEAD ${url} answered ${res.status}`);
  return Number(res.headers.get('upload-offset'));
}

export function randomData(size: number): Buffer {
  return randomBytes(size);
}
