import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FinishedUpload } from '../../src/tus/completion/tessera-events.js';
import http from 'node:http';
import { digestOf } from '../support/bytes.js';
import { final, partial, sha256Hex } from '../support/concat.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, del, head, patch, randomData, TUS } from '../support/tus-http.js';

let server: RunningTessera;
const finished: FinishedUpload[] = [];
const partialsFinished: string[] = [];

beforeAll(async () => {
  server = await startTessera(
    { maxSize: 10 * 1024 * 1024 },
    {
      hooks: {
        onUploadFinish: async (_req, upload) => {
          finished.push(upload);
          return {};
        },
        onPartialFinish: async (_req, upload) => {
          partialsFinished.push(upload.id);
        },
      },
    },
  );
});
afterAll(() => server.stop());

const idOf = (url: string) => url.split('/').pop() as string;
const fileOf = (url: string) => path.join(server.dataDir, idOf(url));
const readyCount = (url: string) => finished.filter((u) => u.id === idOf(url)).length;

describe('concatenation: advertising and partials', () => {
  it('advertises concatenation and concatenation-unfinished', async () => {
    const res = await fetch(server.endpoint, { method: 'OPTIONS' });
    const extensions = res.headers.get('tus-extension')?.split(',') ?? [];
    expect(extensions).toEqual(expect.arrayContaining(['concatenation', 'concatenation-unfinished']));
  });

  it('creates a partial that HEAD reports as partial with its offset', async () => {
    const data = randomData(1000);
    const url = await partial(server.endpoint, data, false);
    expect((await patch(url, 0, data.subarray(0, 400))).status).toBe(204);
    const res = await head(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('upload-concat')).toBe('partial');
    expect(res.headers.get('upload-offset')).toBe('400');
  });

  it('creates a partial with creation-with-upload and with a deferred length', async () => {
    const data = randomData(300);
    const withBody = await create(server.endpoint, { length: 300, body: data, headers: { 'Upload-Concat': 'partial' } });
    expect(withBody.res.status).toBe(201);
    expect(withBody.res.headers.get('upload-offset')).toBe('300');
    const deferred = await create(server.endpoint, { defer: true, headers: { 'Upload-Concat': 'partial' } });
    expect(deferred.res.status).toBe(201);
    expect((await head(deferred.url)).headers.get('upload-defer-length')).toBe('1');
  });

  it('does not report a partial as a finished file', async () => {
    const url = await partial(server.endpoint, randomData(10));
    expect(partialsFinished).toContain(idOf(url));
    expect(readyCount(url)).toBe(0);
  });
});

describe('concatenation: finals over complete partials', () => {
  it('assembles in order, with relative and absolute URLs, and verifies the declared sha256', async () => {
    const parts = [randomData(70_000), randomData(1), randomData(123_457)];
    const urls = await Promise.all(parts.map((p) => partial(server.endpoint, p)));
    const whole = Buffer.concat(parts);
    const refs = [new URL(urls[0] as string).pathname, urls[1] as string, new URL(urls[2] as string).pathname];
    const { res, url } = await final(server.endpoint, refs, { sha256: sha256Hex(whole), filename: 'x.bin' });
    expect(res.status).toBe(201);
    expect(res.headers.get('tessera-sha256')).toBe(sha256Hex(whole));

    const info = await head(url);
    expect(info.status).toBe(200);
    expect(info.headers.get('upload-length')).toBe(String(whole.length));
    expect(info.headers.get('upload-offset')).toBe(String(whole.length));
    expect(info.headers.get('upload-concat')).toBe(`final;${urls.map((u) => new URL(u).pathname).join(' ')}`);
    expect(info.headers.get('tessera-upload-status')).toBe('done');
    expect(info.headers.get('tessera-sha256')).toBe(sha256Hex(whole));
    expect(digestOf(await fs.readFile(fileOf(url)))).toBe(digestOf(whole));
    expect(digestOf(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(digestOf(whole));

    expect(readyCount(url)).toBe(1);
    const ready = finished.find((u) => u.id === idOf(url));
    expect(ready?.sha256).toBe(sha256Hex(whole));
    expect(ready?.concat?.partials).toEqual(urls.map(idOf));
  });

  it('accepts the digest as base64 and computes one when none is declared', async () => {
    const parts = [randomData(5000), randomData(6000)];
    const urls = await Promise.all(parts.map((p) => partial(server.endpoint, p)));
    const digest = sha256Hex(Buffer.concat(parts));
    const b64 = await final(server.endpoint, urls, { sha256: Buffer.from(digest, 'hex').toString('base64') });
    expect(b64.res.status).toBe(201);
    const none = await final(server.endpoint, [...urls].reverse());
    expect(none.res.status).toBe(201);
    expect((await head(none.url)).headers.get('tessera-sha256')).toBe(sha256Hex(Buffer.concat([...parts].reverse())));
  });

  it('lets one partial appear twice and be reused by another final', async () => {
    const a = randomData(1000);
    const url = await partial(server.endpoint, a);
    const twice = await final(server.endpoint, [url, url]);
    expect(twice.res.status).toBe(201);
    expect(digestOf(await fs.readFile(fileOf(twice.url)))).toBe(digestOf(Buffer.concat([a, a])));
  });

  it('answers 403 to a PATCH of a final and leaves it unchanged', async () => {
    const url = await partial(server.endpoint, randomData(10));
    const f = await final(server.endpoint, [url]);
    const res = await patch(f.url, 10, randomData(5));
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/final upload/i);
    expect((await fs.stat(fileOf(f.url))).size).toBe(10);
  });
});

describe('concatenation: bad finals are refused and create nothing', () => {
  const uploadsOnDisk = async () => (await fs.readdir(server.dataDir)).filter((f) => /^[0-9a-f]{32}$/.test(f)).length;

  it.each([
    ['Upload-Length on a final', { 'Upload-Length': '10' }, 400],
    ['Upload-Defer-Length on a final', { 'Upload-Defer-Length': '1' }, 400],
  ])('refuses %s', async (_name, extra, status) => {
    const url = await partial(server.endpoint, randomData(10));
    const before = await uploadsOnDisk();
    const res = await fetch(server.endpoint, {
      method: 'POST',
      headers: { ...TUS, 'Upload-Concat': `final;${url}`, ...extra },
    });
    expect(res.status).toBe(status);
    expect(await uploadsOnDisk()).toBe(before);
  });

  it('refuses references to unknown uploads (404), ordinary uploads and finals (400)', async () => {
    const p = await partial(server.endpoint, randomData(10));
    const ordinary = await create(server.endpoint, { length: 3 });
    const aFinal = await final(server.endpoint, [p]);
    const before = await uploadsOnDisk();
    expect((await final(server.endpoint, [p, `${server.endpoint}/${'0'.repeat(32)}`])).res.status).toBe(404);
    const notPartial = await final(server.endpoint, [p, ordinary.url]);
    expect(notPartial.res.status).toBe(400);
    expect(await notPartial.res.text()).toMatch(/not a partial/);
    expect((await final(server.endpoint, [aFinal.url])).res.status).toBe(400);
    expect(await uploadsOnDisk()).toBe(before);
  });

  it('refuses URLs of other hosts, outside the tus path, and empty lists (400)', async () => {
    const p = await partial(server.endpoint, randomData(10));
    const id = idOf(p);
    for (const refs of [[`http://example.com/files/${id}`], [`/elsewhere/${id}`], [''], [`${p}?x=1`]]) {
      const res = await fetch(server.endpoint, {
        method: 'POST',
        headers: { ...TUS, 'Upload-Concat': `final;${refs.join(' ')}` },
      });
      expect(res.status, refs.join(' ')).toBe(400);
    }
  });

  it('refuses a final larger than MAX_SIZE (413) and a malformed sha256 (400)', async () => {
    const big = await partial(server.endpoint, randomData(6 * 1024 * 1024));
    expect((await final(server.endpoint, [big, big])).res.status).toBe(413);
    const small = await partial(server.endpoint, randomData(10));
    const bad = await final(server.endpoint, [small], { sha256: 'abc' });
    expect(bad.res.status).toBe(400);
    expect(await bad.res.text()).toMatch(/sha256/);
  });
});

describe('concatenation-unfinished', () => {
  it('creates a final before its partials finish and completes it on the last byte', async () => {
    const parts = [randomData(40_000), randomData(50_000)];
    const urls = await Promise.all(parts.map((p) => partial(server.endpoint, p, false)));
    const whole = Buffer.concat(parts);
    const f = await final(server.endpoint, urls, { sha256: sha256Hex(whole) });
    expect(f.res.status).toBe(201);

    const pending = await head(f.url);
    expect(pending.status).toBe(200);
    expect(pending.headers.get('upload-offset')).toBeNull();
    expect(pending.headers.get('upload-length')).toBe(String(whole.length));
    expect(pending.headers.get('tessera-upload-status')).toBe('pending');
    expect((await fetch(f.url)).status).toBe(404);

    expect((await patch(urls[0] as string, 0, parts[0] as Buffer)).status).toBe(204);
    expect((await head(f.url)).headers.get('tessera-upload-status')).toBe('pending');
    expect((await patch(urls[1] as string, 0, parts[1] as Buffer)).status).toBe(204);

    const done = await head(f.url);
    expect(done.headers.get('upload-offset')).toBe(String(whole.length));
    expect(done.headers.get('tessera-sha256')).toBe(sha256Hex(whole));
    expect(digestOf(await fs.readFile(fileOf(f.url)))).toBe(digestOf(whole));
    expect(readyCount(f.url)).toBe(1);
  });

  it('learns the final length once deferred partials declare theirs', async () => {
    const data = randomData(2048);
    const deferred = await create(server.endpoint, { defer: true, headers: { 'Upload-Concat': 'partial' } });
    const f = await final(server.endpoint, [deferred.url]);
    expect(f.res.status).toBe(201);
    expect((await head(f.url)).headers.get('upload-length')).toBeNull();
    expect((await patch(deferred.url, 0, data, { 'Upload-Length': '2048' })).status).toBe(204);
    const done = await head(f.url);
    expect(done.headers.get('upload-length')).toBe('2048');
    expect(done.headers.get('upload-offset')).toBe('2048');
    expect(digestOf(await fs.readFile(fileOf(f.url)))).toBe(digestOf(data));
  });
});

describe('concatenation-unfinished with uploads in flight', () => {
  it('a partial finishing does not cut another partial\'s PATCH that is still running', async () => {
    const slowData = randomData(64 * 1024);
    const fastData = randomData(1000);
    const slow = await partial(server.endpoint, slowData, false);
    const fast = await partial(server.endpoint, fastData, false);
    const f = await final(server.endpoint, [slow, fast]);

    const { port, pathname } = { port: new URL(slow).port, pathname: new URL(slow).pathname };
    const slowPatch = new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port,
        path: pathname,
        method: 'PATCH',
        headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': slowData.length },
      });
      req.on('response', resolve).on('error', reject);
      req.write(slowData.subarray(0, 1000));
      // The other partial completes while this body is still arriving.
      void patch(fast, 0, fastData).then(async (res) => {
        expect(res.status).toBe(204);
        await new Promise((r) => setTimeout(r, 200));
        req.end(slowData.subarray(1000));
      });
    });
    const res = await slowPatch;
    res.resume();
    expect(res.statusCode).toBe(204);
    expect(res.headers['upload-offset']).toBe(String(slowData.length));
    const done = await head(f.url);
    expect(done.headers.get('tessera-upload-status')).toBe('done');
    expect(digestOf(await fs.readFile(fileOf(f.url)))).toBe(digestOf(Buffer.concat([slowData, fastData])));
  });
});

describe('whole-file sha256 mismatch', () => {
  it('fails the final on POST with 460, keeps no data and keeps the partials', async () => {
    const parts = [randomData(3000), randomData(4000)];
    const urls = await Promise.all(parts.map((p) => partial(server.endpoint, p)));
    const wrong = sha256Hex(randomData(8));
    const f = await final(server.endpoint, urls, { sha256: wrong });
    expect(f.res.status).toBe(460);
    expect(await f.res.text()).toMatch(/sha256 mismatch/);
    expect(f.url).not.toBe('');
    expect((await fs.stat(fileOf(f.url))).size).toBe(0);

    const info = await head(f.url);
    expect(info.status).toBe(460);
    expect(info.headers.get('tessera-upload-status')).toBe('failed');
    expect(info.headers.get('tessera-error')).toMatch(/sha256 mismatch/);
    expect(info.headers.get('upload-offset')).toBeNull();
    expect((await fetch(f.url)).status).toBe(404);
    expect(readyCount(f.url)).toBe(0);

    for (const url of urls) expect((await head(url)).status).toBe(200);
    const retry = await final(server.endpoint, urls, { sha256: sha256Hex(Buffer.concat(parts)) });
    expect(retry.res.status).toBe(201);
    expect(retry.url).not.toBe(f.url);
    expect(readyCount(retry.url)).toBe(1);
  });

  it('answers 460 to the PATCH that completes a final whose digest does not match', async () => {
    const data = randomData(5000);
    const url = await partial(server.endpoint, data, false);
    const f = await final(server.endpoint, [url], { sha256: sha256Hex(randomData(5)) });
    expect(f.res.status).toBe(201);
    const last = await patch(url, 0, data);
    expect(last.status).toBe(460);
    expect((await head(f.url)).status).toBe(460);
    expect(readyCount(f.url)).toBe(0);
  });

  it('verifies an ordinary upload: match exposes the digest, mismatch fails its last PATCH', async () => {
    const data = randomData(10_000);
    const good = await create(server.endpoint, { length: data.length, metadata: { sha256: sha256Hex(data) } });
    expect((await patch(good.url, 0, data)).status).toBe(204);
    const ok = await head(good.url);
    expect(ok.headers.get('tessera-sha256')).toBe(sha256Hex(data));
    expect(ok.headers.get('tessera-upload-status')).toBe('done');
    expect(readyCount(good.url)).toBe(1);
    expect(finished.find((u) => u.id === idOf(good.url))?.sha256).toBe(sha256Hex(data));

    const bad = await create(server.endpoint, { length: data.length, metadata: { sha256: sha256Hex(randomData(3)) } });
    expect((await patch(bad.url, 0, data.subarray(0, 5000))).status).toBe(204);
    const last = await patch(bad.url, 5000, data.subarray(5000));
    expect(last.status).toBe(460);
    expect((await head(bad.url)).status).toBe(460);
    expect((await fs.stat(fileOf(bad.url))).size).toBe(0);
    expect(readyCount(bad.url)).toBe(0);
  });

  it('refuses a malformed sha256 on an ordinary upload at creation', async () => {
    const res = await create(server.endpoint, { length: 4, metadata: { sha256: 'zz' } });
    expect(res.res.status).toBe(400);
  });
});

describe('exactly once', () => {
  it('a retried final POST finds the same final and notifies once', async () => {
    const parts = [randomData(20_000), randomData(30_000)];
    const urls = await Promise.all(parts.map((p) => partial(server.endpoint, p)));
    const meta = { sha256: sha256Hex(Buffer.concat(parts)) };
    const results = await Promise.all([1, 2, 3].map(() => final(server.endpoint, urls, meta)));
    expect(results.map((r) => r.res.status)).toEqual([201, 201, 201]);
    const locations = new Set(results.map((r) => r.url));
    expect(locations.size).toBe(1);
    const again = await final(server.endpoint, urls, meta);
    expect(again.url).toBe(results[0]?.url);
    expect(readyCount(again.url)).toBe(1);
  });

  it('partials finishing at the same moment assemble the final once', async () => {
    const parts = Array.from({ length: 4 }, () => randomData(200_000));
    const urls = await Promise.all(parts.map((p) => partial(server.endpoint, p, false)));
    const f = await final(server.endpoint, urls, { sha256: sha256Hex(Buffer.concat(parts)) });
    const statuses = await Promise.all(urls.map((u, i) => patch(u, 0, parts[i] as Buffer).then((r) => r.status)));
    expect(statuses).toEqual([204, 204, 204, 204]);
    expect((await head(f.url)).headers.get('tessera-upload-status')).toBe('done');
    expect(readyCount(f.url)).toBe(1);
    expect(digestOf(await fs.readFile(fileOf(f.url)))).toBe(digestOf(Buffer.concat(parts)));
  });
});

describe('termination', () => {
  it('DELETE of a final removes its data and leaves the partials usable', async () => {
    const parts = [randomData(100), randomData(200)];
    const urls = await Promise.all(parts.map((p) => partial(server.endpoint, p)));
    const f = await final(server.endpoint, urls);
    expect((await del(f.url)).status).toBe(204);
    expect((await head(f.url)).status).toBe(404);
    await expect(fs.stat(fileOf(f.url))).rejects.toThrow();
    for (const url of urls) expect((await head(url)).status).toBe(200);
    const again = await final(server.endpoint, urls);
    expect(again.res.status).toBe(201);
    expect(again.url).not.toBe(f.url);
  });

  it('a final whose partial was deleted fails instead of waiting forever', async () => {
    const url = await partial(server.endpoint, randomData(100), false);
    const f = await final(server.endpoint, [url]);
    expect((await del(url)).status).toBe(204);
    const info = await head(f.url);
    expect(info.status).toBe(460);
    expect(info.headers.get('tessera-error')).toMatch(/no longer exists/);
  });
});
