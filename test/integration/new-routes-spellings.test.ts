import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directClient } from '../support/direct-s3.js';
import { absolute, RawConnection, send } from '../support/draft-http.js';
import { newBucket, s3ClientFor, startS3Backend, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import type { RunningTessera } from '../support/tessera.js';

/**
 * The routes this session added (direct uploads under /s3, the IETF draft on TUS_PATH), asked
 * with other spellings of the same request: a query, a fragment, dot-segments, escapes, a key
 * given twice. Each names the same upload or none, never another.
 */
describe('new routes, other spellings', () => {
  let s3: S3ServerProcess;
  let server: RunningTessera;
  beforeAll(async () => {
    s3 = await startS3Backend('s3-test-server');
    server = await startTesseraOnS3(s3, await newBucket(s3ClientFor(s3), 'spellings'), { s3Direct: { partUrlTtlMs: 60_000 } });
  });
  afterAll(async () => {
    await server?.stop();
    await s3?.stop();
  });

  const raw = async (method: string, target: string, headers: Record<string, string> = {}) => {
    const connection = new RawConnection(server.baseUrl);
    connection.write(`${method} ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Content-Length: 0\r\n\r\n`);
    const text = await connection.until((t) => t.includes('\r\n\r\n'));
    connection.close();
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
  };

  it('/s3: a key given twice is 400; a key spelled with dot-segments or escapes names no upload (404); the path spelled with dot-segments reaches no route', async () => {
    const direct = directClient(server.baseUrl);
    const { key, uploadId } = await direct.ok<{ key: string; uploadId: string }>(await direct.create('spelled.bin'));
    expect((await fetch(`${server.baseUrl}/s3/multipart/${uploadId}/1?key=${key}&key=${key}`)).status).toBe(400);
    for (const spelled of [`./${key}`, `x/../${key}`, encodeURIComponent(`../${key}`), `${key}%00`, ` ${key}`]) {
      expect((await fetch(`${server.baseUrl}/s3/multipart/${uploadId}/1?key=${encodeURIComponent(spelled)}`)).status, spelled).toBe(404);
    }
    expect(await raw('GET', `/s3/multipart/x/../${uploadId}/1?key=${key}`)).toBe(404);
    expect((await fetch(`${server.baseUrl}/s3/multipart/${uploadId}/1?key=${key}#fragment`)).status).toBe(200);
  });

  it('the IETF draft: a query or fragment on an upload URL addresses the same upload; dot-segments and escapes name none (404), nothing changes', async () => {
    const created = await send(server.endpoint, 'POST', { 'Upload-Draft-Interop-Version': '8', 'Upload-Complete': '?0' }, Buffer.from('abc'));
    const url = absolute(server.endpoint, created.headers.location);
    const withQuery = await send(`${url}?x=1#frag`, 'HEAD', { 'Upload-Draft-Interop-Version': '8' });
    expect([withQuery.status, withQuery.headers['upload-offset']]).toEqual([204, '3']);
    const id = new URL(url).pathname.split('/').pop() as string;
    for (const target of [`/files/./${id}`, `/files/x/../${id}`, `/files/%2e/${id}`, `/files/${id}/`]) {
      expect(await raw('PATCH', target, { 'Upload-Draft-Interop-Version': '8', 'Upload-Offset': '3', 'Upload-Complete': '?1', 'Content-Type': 'application/partial-upload' }), target).toBe(404);
    }
    expect((await send(url, 'HEAD', { 'Upload-Draft-Interop-Version': '8' })).headers['upload-offset']).toBe('3');
  });
});
