import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, del, head, offsetOf, patch, patchStream, randomData, TUS } from '../support/tus-http.js';
import { digestOf } from '../support/bytes.js';

const MAX = 64 * 1024;

/** creation, creation-with-upload, creation-defer-length, termination and the size limit. */
describe('tus creation and termination extensions', () => {
  let server: RunningTessera;
  beforeAll(async () => {
    server = await startTessera({ maxSize: MAX });
  });
  afterAll(async () => {
    await server.stop();
  });

  const idOf = (url: string) => decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  const dataFile = (url: string) => path.join(server.dataDir, idOf(url));

  it('creates an upload: 201 with an absolute Location under the tus path, empty data file', async () => {
    const { res, url } = await create(server.endpoint, { length: 100, metadata: { filename: 'a.txt' } });
    expect(res.status).toBe(201);
    const location = res.headers.get('location') ?? '';
    expect(location.startsWith(`${server.endpoint}/`)).toBe(true);
    expect(idOf(url)).toMatch(/^[A-Za-z0-9_-]+$/);
    expect((await fs.stat(dataFile(url))).size).toBe(0);

    const status = await head(url);
    expect(status.headers.get('upload-offset')).toBe('0');
    expect(status.headers.get('upload-length')).toBe('100');
    expect(status.headers.get('upload-metadata')).toBe(`filename ${Buffer.from('a.txt').toString('base64')}`);
  });

  describe('creation-with-upload', () => {
    it('stores the body of the POST and answers its Upload-Offset', async () => {
      const body = randomData(1000);
      const { res, url } = await create(server.endpoint, { length: 4000, body });
      expect(res.status).toBe(201);
      expect(res.headers.get('upload-offset')).toBe('1000');
      expect(await offsetOf(url)).toBe(1000);
      expect(digestOf(await fs.readFile(dataFile(url)))).toBe(digestOf(body));
    });

    it('finishes a whole upload in one request', async () => {
      const body = randomData(2048);
      const { res, url } = await create(server.endpoint, { length: 2048, body });
      expect(res.status).toBe(201);
      expect(res.headers.get('upload-offset')).toBe('2048');
      expect(digestOf(await fs.readFile(dataFile(url)))).toBe(digestOf(body));
    });
  });

  describe('creation-defer-length', () => {
    it('shows Upload-Defer-Length until a PATCH declares Upload-Length, then finishes', async () => {
      const { res, url } = await create(server.endpoint, { defer: true });
      expect(res.status).toBe(201);

      const first = randomData(300);
      expect((await patch(url, 0, first)).status).toBe(204);
      let status = await head(url);
      expect(status.headers.get('upload-defer-length')).toBe('1');
      expect(status.headers.get('upload-length')).toBeNull();
      expect(status.headers.get('upload-offset')).toBe('300');

      const second = randomData(200);
      const declared = await patch(url, 300, second, { 'Upload-Length': '500' });
      expect(declared.status).toBe(204);
      expect(declared.headers.get('upload-offset')).toBe('500');
      status = await head(url);
      expect(status.headers.get('upload-defer-length')).toBeNull();
      expect(status.headers.get('upload-length')).toBe('500');
      expect(digestOf(await fs.readFile(dataFile(url)))).toBe(digestOf(Buffer.concat([first, second])));
      expect((await fetch(url)).status).toBe(200);
    });

    it('refuses to declare the length a second time (400)', async () => {
      const { url } = await create(server.endpoint, { defer: true });
      expect((await patch(url, 0, randomData(10), { 'Upload-Length': '20' })).status).toBe(204);
      expect((await patch(url, 10, randomData(10), { 'Upload-Length': '20' })).status).toBe(400);
      expect(await offsetOf(url)).toBe(10);
    });
  });

  describe('Tus-Max-Size (413)', () => {
    it('refuses a creation whose Upload-Length is over the limit, creating nothing', async () => {
      const before = await fs.readdir(server.dataDir);
      const { res } = await create(server.endpoint, { length: MAX + 1 });
      expect(res.status).toBe(413);
      expect(res.headers.get('location')).toBeNull();
      expect(await fs.readdir(server.dataDir)).toEqual(before);
      expect((await create(server.endpoint, { length: MAX })).res.status).toBe(201);
    });

    it('refuses a PATCH that would take a deferred-length upload over the limit', async () => {
      const { url } = await create(server.endpoint, { defer: true });
      expect((await patch(url, 0, randomData(MAX - 10))).status).toBe(204);
      const res = await patch(url, MAX - 10, randomData(11));
      expect(res.status).toBe(413);
      expect(await offsetOf(url)).toBe(MAX - 10);
    });

    it('refuses to declare an Upload-Length over the limit on a deferred upload', async () => {
      const { url } = await create(server.endpoint, { defer: true });
      const res = await patch(url, 0, randomData(1), { 'Upload-Length': String(MAX + 1) });
      expect(res.status).toBe(413);
      const status = await head(url);
      expect(status.headers.get('upload-defer-length')).toBe('1');
      expect(status.headers.get('upload-offset')).toBe('0');
    });

    it('stops a chunked (no Content-Length) PATCH of a deferred upload at the limit', async () => {
      const { url } = await create(server.endpoint, { defer: true });
      const chunks = [randomData(MAX / 2), randomData(MAX / 2), randomData(1024)];
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      });
      const res = await patchStream(url, 0, body);
      expect(res.status).toBe(413);
      expect(await offsetOf(url)).toBeLessThanOrEqual(MAX);
    });
  });

  describe('termination', () => {
    it('DELETE answers 204, then the upload is 404 and its files are gone', async () => {
      const { url } = await create(server.endpoint, { length: 50, body: randomData(20) });
      expect((await fs.stat(dataFile(url))).size).toBe(20);
      const res = await del(url);
      expect(res.status).toBe(204);
      expect(res.headers.get('tus-resumable')).toBe('1.0.0');
      expect((await head(url)).status).toBe(404);
      expect((await patch(url, 20, randomData(5))).status).toBe(404);
      await expect(fs.stat(dataFile(url))).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(fs.stat(`${dataFile(url)}.json`)).rejects.toMatchObject({ code: 'ENOENT' });
      expect((await del(url)).status).toBe(404);
    });

    it('terminates a finished upload too', async () => {
      const { url } = await create(server.endpoint, { length: 5, body: randomData(5) });
      expect((await del(url)).status).toBe(204);
      expect((await fetch(url)).status).toBe(404);
    });
  });
});
