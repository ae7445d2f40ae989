import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, del, head, offsetOf, patch, randomData, TUS } from '../support/tus-http.js';

/** Core protocol and its error statuses, over raw HTTP. */
describe('tus core protocol', () => {
  let server: RunningTessera;
  beforeAll(async () => {
    // No upload page: URL parsing turns `${endpoint}/%2E%2E` into `/`, where the page would answer.
    server = await startTessera({ maxSize: 1024 * 1024, webUi: false });
  });
  afterAll(async () => {
    await server.stop();
  });

  const idOf = (url: string) => decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  const fileSize = async (url: string) => (await fs.stat(path.join(server.dataDir, idOf(url)))).size;

  describe('OPTIONS', () => {
    it('advertises version, extensions and max size', async () => {
      const res = await fetch(server.endpoint, { method: 'OPTIONS' });
      expect(res.status).toBe(204);
      expect(res.headers.get('tus-version')).toBe('1.0.0');
      const extensions = (res.headers.get('tus-extension') ?? '').split(',');
      for (const ext of ['creation', 'creation-with-upload', 'creation-defer-length', 'termination', 'expiration']) {
        expect(extensions).toContain(ext);
      }
      expect(res.headers.get('tus-max-size')).toBe(String(1024 * 1024));
    });

    it('lets a browser send and read every tus header (CORS)', async () => {
      const res = await fetch(server.endpoint, {
        method: 'OPTIONS',
        headers: {
          Origin: 'https://app.example',
          'Access-Control-Request-Method': 'PATCH',
          'Access-Control-Request-Headers': 'upload-checksum, upload-concat, tus-resumable',
        },
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      const allowed = listOf(res.headers.get('access-control-allow-headers'));
      for (const h of ['tus-resumable', 'upload-length', 'upload-offset', 'upload-metadata', 'upload-defer-length',
        'upload-checksum', 'upload-concat', 'x-http-method-override', 'content-type', 'range', 'if-range', 'if-none-match']) {
        expect(allowed).toContain(h);
      }
      // Each name once.
      expect(new Set(allowed).size).toBe(allowed.length);
      const methods = listOf(res.headers.get('access-control-allow-methods'));
      for (const m of ['post', 'head', 'patch', 'delete', 'options']) expect(methods).toContain(m);

      const exposed = listOf(res.headers.get('access-control-expose-headers'));
      for (const h of ['location', 'upload-offset', 'upload-length', 'upload-expires', 'tus-version',
        'tus-resumable', 'upload-checksum', 'upload-concat', 'upload-metadata', 'upload-defer-length']) {
        expect(exposed).toContain(h);
      }
      expect(new Set(exposed).size).toBe(exposed.length);
    });
  });

  describe('status lines', () => {
    it('carry their reason phrase, 460 its tus one', async () => {
      const statusLine = (method: string, url: string, headers: Record<string, string>, body?: Buffer) =>
        new Promise<string>((resolve, reject) => {
          const req = http.request(url, { method, headers: { 'Tus-Resumable': '1.0.0', ...headers }, agent: false }, (res) => {
            res.resume();
            resolve(`${res.statusCode} ${res.statusMessage}`);
          });
          req.on('error', reject);
          req.end(body);
        });
      const { url } = await create(server.endpoint, { length: 4 });
      expect(await statusLine('POST', server.endpoint, { 'Upload-Length': '4' })).toBe('201 Created');
      expect(await statusLine('HEAD', url, {})).toBe('200 OK');
      const patchHeaders = { 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': '2' };
      expect(await statusLine('PATCH', url, { ...patchHeaders, 'Upload-Checksum': 'sha1 AAAAAAAAAAAAAAAAAAAAAAAAAAA=' }, Buffer.from('ab'))).toBe('460 Checksum Mismatch');
      expect(await statusLine('PATCH', url, patchHeaders, Buffer.from('ab'))).toBe('204 No Content');
      expect(await statusLine('HEAD', `${server.endpoint}/nope`, {})).toBe('404 Not Found');
    });
  });

  describe('Tus-Resumable', () => {
    it('answers 412 with Tus-Version when it is missing', async () => {
      const res = await fetch(server.endpoint, { method: 'POST', headers: { 'Upload-Length': '10' } });
      expect(res.status).toBe(412);
      expect(res.headers.get('tus-version')).toBe('1.0.0');
    });

    it('answers 412 with Tus-Version for an unsupported version, creating nothing', async () => {
      const before = await fs.readdir(server.dataDir);
      const res = await fetch(server.endpoint, { method: 'POST', headers: { 'Tus-Resumable': '0.2.2', 'Upload-Length': '10' } });
      expect(res.status).toBe(412);
      expect(res.headers.get('tus-version')).toBe('1.0.0');
      expect(res.headers.get('location')).toBeNull();
      expect(await fs.readdir(server.dataDir)).toEqual(before);
    });

    it('answers 412 on PATCH and HEAD too, leaving the upload unchanged', async () => {
      const { url } = await create(server.endpoint, { length: 10 });
      const res = await fetch(url, {
        method: 'PATCH',
        headers: { 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
        body: randomData(10),
      });
      expect(res.status).toBe(412);
      expect(res.headers.get('tus-version')).toBe('1.0.0');
      expect((await fetch(url, { method: 'HEAD' })).status).toBe(412);
      expect(await offsetOf(url)).toBe(0);
    });
  });

  describe('PATCH', () => {
    it('appends at the offset and answers 204 with the new offset', async () => {
      const { res: created, url } = await create(server.endpoint, { length: 20 });
      expect(created.status).toBe(201);
      expect(created.headers.get('tus-resumable')).toBe('1.0.0');
      const first = await patch(url, 0, randomData(12));
      expect(first.status).toBe(204);
      expect(first.headers.get('upload-offset')).toBe('12');
      expect(first.headers.get('tus-resumable')).toBe('1.0.0');
      const second = await patch(url, 12, randomData(8));
      expect(second.status).toBe(204);
      expect(second.headers.get('upload-offset')).toBe('20');

      const status = await head(url);
      expect(status.status).toBe(200);
      expect(status.headers.get('upload-offset')).toBe('20');
      expect(status.headers.get('upload-length')).toBe('20');
      expect(status.headers.get('cache-control')).toBe('no-store');
    });

    it.each([
      ['a wrong', { 'Content-Type': 'application/octet-stream' }],
      ['a missing', { 'Content-Type': '' }],
    ])('answers 415 for %s Content-Type, leaving the upload unchanged', async (_label, headers) => {
      const { url } = await create(server.endpoint, { length: 10 });
      const res = await fetch(url, {
        method: 'PATCH',
        headers: { ...TUS, 'Upload-Offset': '0', ...headers },
        body: randomData(10),
      });
      expect(res.status).toBe(415);
      expect(await offsetOf(url)).toBe(0);
    });

    it('answers 409 on an offset mismatch, leaving the upload unchanged', async () => {
      const { url } = await create(server.endpoint, { length: 30 });
      expect((await patch(url, 0, randomData(10))).status).toBe(204);
      for (const wrong of [0, 5, 20]) {
        const res = await patch(url, wrong, randomData(10));
        expect(res.status).toBe(409);
      }
      expect(await offsetOf(url)).toBe(10);
      expect(await fileSize(url)).toBe(10);
    });

    it('answers 400 when Upload-Offset is missing or malformed', async () => {
      const { url } = await create(server.endpoint, { length: 10 });
      const missing = await fetch(url, {
        method: 'PATCH',
        headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream' },
        body: randomData(10),
      });
      expect(missing.status).toBe(400);
      for (const bad of ['-1', 'abc', '1.5']) {
        expect((await patch(url, 0, randomData(10), { 'Upload-Offset': bad })).status).toBe(400);
      }
      expect(await offsetOf(url)).toBe(0);
    });

    it('answers 413 when the body runs past Upload-Length, leaving the upload unchanged', async () => {
      const { url } = await create(server.endpoint, { length: 10 });
      const res = await patch(url, 0, randomData(11));
      expect(res.status).toBe(413);
      expect(await offsetOf(url)).toBe(0);
    });
  });

  describe('unknown uploads', () => {
    it('answers 404 to HEAD, PATCH, DELETE and GET', async () => {
      const url = `${server.endpoint}/does-not-exist`;
      expect((await head(url)).status).toBe(404);
      expect((await patch(url, 0, randomData(4))).status).toBe(404);
      expect((await del(url)).status).toBe(404);
      expect((await fetch(url)).status).toBe(404);
    });

    it('answers 404 for ids that try to leave the data directory', async () => {
      expect((await head(`${server.endpoint}/..%2F..%2Fetc%2Fpasswd`)).status).toBe(404);
      expect((await head(`${server.endpoint}/%2E%2E`)).status).toBe(404);
    });
  });

  describe('malformed creation headers', () => {
    it.each([
      ['a negative Upload-Length', { 'Upload-Length': '-1' }],
      ['a non-numeric Upload-Length', { 'Upload-Length': 'ten' }],
      ['a fractional Upload-Length', { 'Upload-Length': '1.5' }],
      ['both Upload-Length and Upload-Defer-Length', { 'Upload-Length': '10', 'Upload-Defer-Length': '1' }],
      ['neither Upload-Length nor Upload-Defer-Length', {}],
      ['Upload-Defer-Length other than 1', { 'Upload-Defer-Length': '2' }],
      ['Upload-Metadata with a bad base64 value', { 'Upload-Length': '10', 'Upload-Metadata': 'filename !!!notbase64' }],
      ['Upload-Metadata with a duplicate key', { 'Upload-Length': '10', 'Upload-Metadata': 'a YQ==,a Yg==' }],
    ])('answers 400 for %s, creating nothing', async (_label, headers) => {
      const before = await fs.readdir(server.dataDir);
      const res = await fetch(server.endpoint, { method: 'POST', headers: { ...TUS, ...headers } });
      expect(res.status).toBe(400);
      expect(res.headers.get('location')).toBeNull();
      expect(await fs.readdir(server.dataDir)).toEqual(before);
    });
  });

  describe('X-HTTP-Method-Override', () => {
    it('treats a POST carrying PATCH as a PATCH', async () => {
      const { url } = await create(server.endpoint, { length: 8 });
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          ...TUS,
          'X-HTTP-Method-Override': 'PATCH',
          'Upload-Offset': '0',
          'Content-Type': 'application/offset+octet-stream',
        },
        body: randomData(8),
      });
      expect(res.status).toBe(204);
      expect(res.headers.get('upload-offset')).toBe('8');
      expect(await offsetOf(url)).toBe(8);
    });

    it('treats a POST carrying HEAD as a HEAD', async () => {
      const { url } = await create(server.endpoint, { length: 8 });
      await patch(url, 0, randomData(3));
      const res = await fetch(url, { method: 'POST', headers: { ...TUS, 'X-HTTP-Method-Override': 'HEAD' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('upload-offset')).toBe('3');
      expect(res.headers.get('upload-length')).toBe('8');
    });

    it('treats a POST carrying DELETE as a DELETE', async () => {
      const { url } = await create(server.endpoint, { length: 8 });
      const res = await fetch(url, { method: 'POST', headers: { ...TUS, 'X-HTTP-Method-Override': 'delete' } });
      expect(res.status).toBe(204);
      expect((await head(url)).status).toBe(404);
    });

    it('applies the tus checks to the overriding method (415 for a PATCH without its Content-Type)', async () => {
      const { url } = await create(server.endpoint, { length: 8 });
      const res = await fetch(url, {
        method: 'POST',
        headers: { ...TUS, 'X-HTTP-Method-Override': 'PATCH', 'Upload-Offset': '0' },
        body: randomData(8),
      });
      expect(res.status).toBe(415);
      expect(await offsetOf(url)).toBe(0);
    });
  });
});

describe('CORS with an origin allow-list', () => {
  let server: RunningTessera;
  beforeAll(async () => {
    server = await startTessera({ corsOrigins: ['https://app.example', 'https://admin.example'] });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('echoes an allowed Origin on preflight, tus responses and errors', async () => {
    const preflight = await fetch(server.endpoint, { method: 'OPTIONS', headers: { Origin: 'https://admin.example' } });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('https://admin.example');
    // No MAX_SIZE here: no limit to advertise.
    expect(preflight.headers.get('tus-max-size')).toBeNull();
    const { res } = await create(server.endpoint, { length: 1, headers: { Origin: 'https://admin.example' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('https://admin.example');
    const failed = await fetch(server.endpoint, { method: 'POST', headers: { Origin: 'https://app.example' } });
    expect(failed.status).toBe(412);
    expect(failed.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(listOf(failed.headers.get('access-control-expose-headers'))).toContain('tus-version');
  });

  it('never grants a foreign Origin', async () => {
    const foreign = 'https://evil.example';
    const preflight = await fetch(server.endpoint, { method: 'OPTIONS', headers: { Origin: foreign } });
    expect(preflight.headers.get('access-control-allow-origin')).not.toBe(foreign);
    expect(preflight.headers.get('access-control-allow-origin')).not.toBe('*');
    const { res, url } = await create(server.endpoint, { length: 1, headers: { Origin: foreign } });
    expect(res.headers.get('access-control-allow-origin')).not.toBe(foreign);
    expect(res.headers.get('access-control-allow-origin')).not.toBe('*');
    const got = await fetch(url, { headers: { Origin: foreign } });
    expect(got.headers.get('access-control-allow-origin')).toBeNull();
  });
});

function listOf(header: string | null): string[] {
  return (header ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
}
