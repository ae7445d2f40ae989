import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, del, patch, randomData } from '../support/tus-http.js';
import { digestOf } from '../support/bytes.js';

/** GET streams a finished upload back with safe headers. */
describe('download (GET)', () => {
  let server: RunningTessera;
  beforeAll(async () => {
    server = await startTessera();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('streams the bytes with Content-Length, the declared type and the filename', async () => {
    const body = randomData(70_000);
    const { url } = await create(server.endpoint, {
      length: body.length,
      body,
      metadata: { filename: 'photo.png', filetype: 'image/png' },
    });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(body.length));
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(res.headers.get('content-disposition')).toMatch(/^inline; filename="?photo\.png"?$/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(digestOf(new Uint8Array(await res.arrayBuffer()))).toBe(digestOf(body));
  });

  it('serves HTML and SVG as attachments, never inline', async () => {
    for (const [filetype, filename] of [['text/html', 'page.html'], ['image/svg+xml', 'x.svg']] as const) {
      const body = Buffer.from('<script>alert(1)</script>');
      const { url } = await create(server.endpoint, { length: body.length, body, metadata: { filename, filetype } });
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-disposition')).toMatch(new RegExp(`^attachment; filename="?${filename.replace('.', '\\.')}"?$`));
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      await res.arrayBuffer();
    }
  });

  it('falls back to application/octet-stream for a missing or malformed filetype', async () => {
    for (const metadata of [undefined, { filetype: 'text/html\r\nSet-Cookie: a=b' }, { filetype: 'not a type' }]) {
      const { url } = await create(server.endpoint, { length: 3, body: Buffer.from('abc'), metadata });
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      expect(res.headers.get('content-disposition')).toBe('attachment');
      expect(res.headers.get('set-cookie')).toBeNull();
      expect(await res.text()).toBe('abc');
    }
  });

  it('encodes a non-ASCII filename per RFC 6266 (filename*)', async () => {
    const filename = 'Résumé 履歴書.pdf';
    const { url } = await create(server.endpoint, {
      length: 4,
      body: Buffer.from('%PDF'),
      metadata: { filename, filetype: 'application/pdf' },
    });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const disposition = res.headers.get('content-disposition') ?? '';
    expect(disposition.startsWith('attachment; ')).toBe(true);
    expect(disposition).toContain(`filename*=UTF-8''${encodeURIComponent(filename).replace(/'/g, '%27')}`);
    // The header stays ASCII, and its plain filename= fallback has no raw non-ASCII byte.
    expect(/^[\x20-\x7e]*$/.test(disposition)).toBe(true);
    const star = /filename\*=UTF-8''([^;]+)/.exec(disposition)?.[1] ?? '';
    expect(decodeURIComponent(star)).toBe(filename);
  });

  it('answers 404 while the upload is incomplete, and 200 once it is done', async () => {
    const { url } = await create(server.endpoint, { length: 10, body: randomData(4) });
    expect((await fetch(url)).status).toBe(404);
    expect((await patch(url, 4, randomData(6))).status).toBe(204);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(10);
  });

  it('answers 404 for a deferred-length upload whose length is not known yet', async () => {
    const { url } = await create(server.endpoint, { defer: true });
    expect((await patch(url, 0, randomData(5))).status).toBe(204);
    expect((await fetch(url)).status).toBe(404);
  });

  it('sends CORS headers so a browser on another origin can read the download', async () => {
    const { url } = await create(server.endpoint, { length: 2, body: Buffer.from('hi'), metadata: { filename: 'a.txt' } });
    const res = await fetch(url, { headers: { Origin: 'https://app.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    const exposed = (res.headers.get('access-control-expose-headers') ?? '').toLowerCase();
    expect(exposed).toContain('content-disposition');
    expect(await res.text()).toBe('hi');

    const missing = await fetch(`${server.endpoint}/nope`, { headers: { Origin: 'https://app.example' } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('access-control-allow-origin')).toBe('*');
  });

  it('a download under way when the upload is deleted still delivers every byte; the next GET is 404', async () => {
    const body = randomData(8 * 1024 * 1024);
    const { url } = await create(server.endpoint, { length: body.length, body });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const chunks: Uint8Array[] = [];
    const first = await reader.read();
    chunks.push(first.value as Uint8Array);
    expect((await del(url)).status).toBe(204);
    for (let next = await reader.read(); !next.done; next = await reader.read()) chunks.push(next.value);
    expect(digestOf(Buffer.concat(chunks))).toBe(digestOf(body));
    expect((await fetch(url)).status).toBe(404);
  });

  it('GETs racing a DELETE answer 200 with every byte or 404, never 410 or a short body', async () => {
    for (let round = 0; round < 5; round += 1) {
      const body = randomData(64 * 1024);
      const { url } = await create(server.endpoint, { length: body.length, body });
      const gets = Array.from({ length: 20 }, async () => {
        const res = await fetch(url);
        return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()) };
      });
      const deleted = del(url);
      for (const { status, bytes } of await Promise.all(gets)) {
        expect([200, 404]).toContain(status);
        if (status === 200) expect(digestOf(bytes)).toBe(digestOf(body));
      }
      expect((await deleted).status).toBe(204);
    }
  });
});
