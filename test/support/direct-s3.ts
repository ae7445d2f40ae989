import { createHash } from 'node:crypto';

/**
 * A client of Tessera's direct-upload API (S3_DIRECT), making exactly the calls @uppy/aws-s3's
 * Companion client makes (paths, methods, JSON), plus the optional `md5` Tessera signs into a part's
 * URL. `base` is the server's origin; `headers` go on every call to Tessera (never to S3).
 */
export function directClient(base: string, headers: Record<string, string> = {}) {
  const call = (path: string, init: RequestInit = {}) => fetch(`${base}/s3${path}`, { ...init, headers: { ...headers, ...(init.headers as Record<string, string>) } });
  const ok = async <T>(res: Response): Promise<T> => {
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    create: (filename: string, metadata: Record<string, unknown> = {}, type = 'application/octet-stream') =>
      call('/multipart', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ filename, type, metadata }) }),
    sign: (key: string, uploadId: string, partNumber: number | string, md5?: string) =>
      call(`/multipart/${encodeURIComponent(uploadId)}/${partNumber}?${new URLSearchParams({ key, ...(md5 ? { md5 } : {}) })}`),
    list: (key: string, uploadId: string) => call(`/multipart/${encodeURIComponent(uploadId)}?${new URLSearchParams({ key })}`),
    complete: (key: string, uploadId: string, parts: readonly { PartNumber: number; ETag: string }[]) =>
      call(`/multipart/${encodeURIComponent(uploadId)}/complete?${new URLSearchParams({ key })}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ parts }),
      }),
    abort: (key: string, uploadId: string) => call(`/multipart/${encodeURIComponent(uploadId)}?${new URLSearchParams({ key })}`, { method: 'DELETE' }),
    ok,
    /** Creates, sends `chunks` as parts 1..n (signed with their MD5 when `withMd5`), and completes. */
    async upload(filename: string, chunks: readonly Buffer[], metadata: Record<string, unknown> = {}, withMd5 = false) {
      const { key, uploadId } = await ok<{ key: string; uploadId: string }>(await this.create(filename, metadata));
      const parts: { PartNumber: number; ETag: string }[] = [];
      for (const [index, chunk] of chunks.entries()) {
        const md5 = withMd5 ? md5Of(chunk) : undefined;
        const { url } = await ok<{ url: string }>(await this.sign(key, uploadId, index + 1, md5));
        const put = await fetch(url, { method: 'PUT', body: chunk, headers: md5 ? { 'Content-MD5': md5 } : {} });
        if (!put.ok) throw new Error(`part ${index + 1}: ${put.status} ${await put.text()}`);
        parts.push({ PartNumber: index + 1, ETag: put.headers.get('etag') ?? '' });
      }
      return { key, uploadId, parts, completed: await this.complete(key, uploadId, parts) };
    },
  };
}

export const md5Of = (data: Buffer): string => createHash('md5').update(data).digest('base64');
