import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FinishedUpload } from '../../src/tus/completion/tessera-events.js';
import { final, partial, sha256Hex } from '../support/concat.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { waitFor } from '../support/fault-wait.js';
import { create, del, head, patch, randomData, TUS } from '../support/tus-http.js';

/**
 * Issue #14: one lifecycle per upload (receiving → verifying → done | failed), settled under
 * the upload's lock, and "complete" meaning done everywhere.
 */
const MiB = 1024 * 1024;
const idOf = (url: string) => new URL(url).pathname.split('/').pop() as string;

/**
 * A PATCH (or POST) whose body is sent chunked: no Content-Length, so nobody knows its end in
 * advance. The first `split` bytes go first; the rest only once `stored()` says the server
 * has them, so the bytes up to the limit really are written before the overflow arrives.
 */
async function chunkedRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: Buffer,
  split = body.length,
  stored: () => Promise<boolean> = async () => true,
): Promise<{ status: number }> {
  let req!: http.ClientRequest;
  const answered = new Promise<{ status: number }>((resolve, reject) => {
    req = http.request(url, { method, headers: { ...TUS, 'Content-Type': 'application/offset+octet-stream', ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', reject);
  });
  req.write(body.subarray(0, split));
  await waitFor('the first bytes to be stored', async () => ((await stored()) ? true : undefined));
  req.end(body.subarray(split));
  return answered;
}

describe('upload lifecycle (file store, embedded)', () => {
  let server: RunningTessera;
  const ready: FinishedUpload[] = [];

  beforeAll(async () => {
    // A short lock timeout: two requests waiting on each other would answer 423 within it.
    server = await startTessera({ maxSize: 8 * MiB, lockTimeoutMs: 2000 }, { hooks: { onUploadFinish: async (_req, upload) => (ready.push(upload), {}) } });
  });
  afterAll(() => server.stop());

  const stateFile = (id: string) => path.join(server.dataDir, '.tessera-state', `upload-${id}.json`);
  const storedSize = async (id: string) => (await fs.stat(path.join(server.dataDir, id))).size;

  describe('finding 2: a body that runs past Upload-Length keeps none of its bytes', () => {
    it.each([0, 40])('chunked PATCH from offset %i: 413, offset unchanged, never done; the right bytes then verify', async (start) => {
      const data = randomData(100);
      const { url } = await create(server.endpoint, { length: 100, metadata: { sha256: sha256Hex(data) } });
      if (start > 0) expect((await patch(url, 0, data.subarray(0, start))).status).toBe(204);
      const overlong = Buffer.concat([data.subarray(start), randomData(50)]);
      const exact = async () => (await storedSize(idOf(url))) === 100;
      expect((await chunkedRequest(url, 'PATCH', { 'Upload-Offset': String(start) }, overlong, 100 - start, exact)).status).toBe(413);
      const look = await head(url);
      expect(look.headers.get('upload-offset')).toBe(String(start));
      expect(look.headers.get('tessera-upload-status')).toBe('receiving');
      expect((await fetch(url)).status).toBe(404);
      expect((await fs.stat(path.join(server.dataDir, idOf(url)))).size).toBe(start);

      expect((await patch(url, start, data.subarray(start))).status).toBe(204);
      const done = await head(url);
      expect(done.headers.get('tessera-upload-status')).toBe('done');
      expect(done.headers.get('tessera-sha256')).toBe(sha256Hex(data));
      expect(Buffer.from(await (await fetch(url)).arrayBuffer())).toEqual(data);
    });

    it('with Upload-Checksum on the overlong body: 413 (or 460) and nothing kept', async () => {
      const data = randomData(100);
      const { url } = await create(server.endpoint, { length: 100 });
      const overlong = Buffer.concat([data, randomData(50)]);
      const checksum = `sha256 ${createHash('sha256').update(overlong).digest('base64')}`;
      const exact = async () => (await storedSize(idOf(url))) === 100;
      const res = await chunkedRequest(url, 'PATCH', { 'Upload-Offset': '0', 'Upload-Checksum': checksum }, overlong, 100, exact);
      expect([413, 460]).toContain(res.status);
      expect((await head(url)).headers.get('upload-offset')).toBe('0');
    });

    it('chunked PATCH of a deferred-length upload past MAX_SIZE: 413 and nothing kept', async () => {
      const { url } = await create(server.endpoint, { defer: true });
      const full = async () => (await storedSize(idOf(url))) === 8 * MiB;
      expect((await chunkedRequest(url, 'PATCH', { 'Upload-Offset': '0' }, randomData(8 * MiB + 10), 8 * MiB, full)).status).toBe(413);
      expect((await head(url)).headers.get('upload-offset')).toBe('0');
      expect((await fs.stat(path.join(server.dataDir, idOf(url)))).size).toBe(0);
    });

    it('chunked creation-with-upload past Upload-Length: 413 and no upload left behind', async () => {
      const before = new Set(await fs.readdir(server.dataDir));
      const newFileOf100 = async () => {
        for (const name of await fs.readdir(server.dataDir)) {
          if (!before.has(name) && !name.endsWith('.json') && (await storedSize(name)) === 100) return true;
        }
        return false;
      };
      const res = await chunkedRequest(server.endpoint, 'POST', { 'Upload-Length': '100' }, randomData(150), 100, newFileOf100);
      expect(res.status).toBe(413);
      const after = (await fs.readdir(server.dataDir)).filter((name) => !before.has(name));
      expect(after).toEqual([]);
    });
  });

  describe('a length declared by a PATCH that fails goes with it', () => {
    const sha1 = (data: Buffer) => `sha1 ${createHash('sha1').update(data).digest('base64')}`;
    const deferred = async (url: string) => {
      const look = await head(url);
      return { defer: look.headers.get('upload-defer-length'), length: look.headers.get('upload-length'), offset: look.headers.get('upload-offset') };
    };

    it('460 from a wrong Upload-Checksum: still deferred, and the retry with the right one completes', async () => {
      const data = Buffer.from('hello world');
      const { url } = await create(server.endpoint, { defer: true });
      expect((await patch(url, 0, data, { 'Upload-Length': '11', 'Upload-Checksum': sha1(Buffer.from('nope')) })).status).toBe(460);
      expect(await deferred(url)).toEqual({ defer: '1', length: null, offset: '0' });
      expect((await patch(url, 0, data, { 'Upload-Length': '11', 'Upload-Checksum': sha1(data) })).status).toBe(204);
      expect((await head(url)).headers.get('tessera-upload-status')).toBe('done');
    });

    it('413 for a body longer than the length it declares: nothing declared, nothing completed, nothing served', async () => {
      const { url } = await create(server.endpoint, { defer: true });
      expect((await patch(url, 0, Buffer.from('ab'))).status).toBe(204);
      expect((await patch(url, 2, Buffer.from('c'), { 'Upload-Length': '2' })).status).toBe(413);
      expect(await deferred(url)).toEqual({ defer: '1', length: null, offset: '2' });
      expect((await head(url)).headers.get('tessera-upload-status')).toBe('receiving');
      await server.tessera.recovery.run();
      expect((await fetch(url)).status).toBe(404);
    });

    it('413 for a chunked body past the length it declares: nothing declared, no bytes kept', async () => {
      const { url } = await create(server.endpoint, { defer: true });
      const exact = async () => (await storedSize(idOf(url))) === 100;
      const res = await chunkedRequest(url, 'PATCH', { 'Upload-Offset': '0', 'Upload-Length': '100' }, randomData(150), 100, exact);
      expect(res.status).toBe(413);
      expect(await deferred(url)).toEqual({ defer: '1', length: null, offset: '0' });
    });

    it('a partial may not declare a whole-file sha256 (it would never be checked): 400 at creation', async () => {
      const res = await create(server.endpoint, { length: 5, metadata: { sha256: sha256Hex(Buffer.from('other')) }, headers: { 'Upload-Concat': 'partial' } });
      expect(res.res.status).toBe(400);
    });
  });

  it('a final POST that fails after creating its final leaves none for the recovery pass to assemble', async () => {
    const p1 = await partial(server.endpoint, randomData(100));
    const p2 = await partial(server.endpoint, randomData(100));
    const requestKey = createHash('sha256').update(`${idOf(p1)} ${idOf(p2)}\n`).digest('hex');
    // A directory where the request's claim goes: the claim fails for real (an I/O error).
    const claim = path.join(server.dataDir, '.tessera-state', `claim-final-${requestKey}.json`);
    await fs.mkdir(claim);
    const uploadsBefore = new Set(await fs.readdir(server.dataDir));
    const assembled: string[] = [];
    const count = ({ id }: { id: string }) => assembled.push(id);
    server.tessera.events.on('final-assembled', count);
    try {
      expect((await final(server.endpoint, [p1, p2])).res.status).toBe(500);
      expect((await fs.readdir(server.dataDir)).filter((name) => !uploadsBefore.has(name))).toEqual([]);
      await server.tessera.recovery.run();
      expect(assembled).toEqual([]);
      await fs.rmdir(claim);
      const retry = await final(server.endpoint, [p1, p2]);
      expect(retry.res.status).toBe(201);
      expect(assembled).toEqual([idOf(retry.url)]);
    } finally {
      server.tessera.events.off('final-assembled', count);
    }
  });

  it('a final POST racing the DELETE of one of its partials never deadlocks', async () => {
    for (let round = 0; round < 20; round++) {
      const p1 = await partial(server.endpoint, randomData(1000));
      const p2 = await partial(server.endpoint, randomData(1000));
      const [fin, removed] = await Promise.all([final(server.endpoint, [p1, p2]), del(p1)]);
      expect(removed.status).toBe(204);
      // 201 (assembled first), 404 (the partial was gone when the POST looked), 410 (it was being
      // removed: its data gone, its info not yet, as the file store answers then), or 460 (it went
      // while the final waited); never 423 or 500 from two requests waiting on each other.
      expect([201, 404, 410, 460]).toContain(fin.res.status);
    }
  });

  describe('findings 4 and 5: verification holds the upload', () => {
    async function duringVerification(digest: (data: Buffer) => string) {
      const data = randomData(6 * MiB);
      const { url } = await create(server.endpoint, { length: data.length, metadata: { sha256: digest(data) } });
      const id = idOf(url);
      const order: string[] = [];
      let getStatus = 0;
      let deleted: Promise<Response> | undefined;
      const onVerifying = ({ id: verifying }: { id: string }) => {
        if (verifying !== id) return;
        order.push('verifying');
        void fetch(url).then((res) => {
          getStatus = res.status;
          order.push(`GET ${res.status}`);
          return res.arrayBuffer();
        });
        deleted = del(url).then((res) => (order.push(`DELETE ${res.status}`), res));
      };
      const onReady = (upload: FinishedUpload) => {
        if (upload.id === id) order.push('file-ready');
      };
      server.tessera.events.on('verification-started', onVerifying);
      server.tessera.events.on('file-ready', onReady);
      try {
        const res = await patch(url, 0, data);
        order.push(`PATCH ${res.status}`);
        expect(deleted, 'verification must have started').toBeDefined();
        expect((await deleted)?.status).toBe(204);
        return { id, url, order, getStatus };
      } finally {
        server.tessera.events.off('verification-started', onVerifying);
        server.tessera.events.off('file-ready', onReady);
      }
    }

    it('a wrong digest: GET never serves the bytes, the PATCH answers 460 (not 500), DELETE waits, nothing announced or left', async () => {
      const { id, url, order, getStatus } = await duringVerification(() => '0'.repeat(64));
      expect(getStatus).toBe(404);
      expect(order).toContain('PATCH 460');
      expect(order).not.toContain('file-ready');
      expect(ready.map((u) => u.id)).not.toContain(id);
      expect((await head(url)).status).toBe(404);
      await expect(fs.access(stateFile(id))).rejects.toThrow();
    });

    it('the right digest: announced exactly once, before the DELETE that waited for the lock; nothing left after', async () => {
      const { id, order } = await duringVerification(sha256Hex);
      expect(order.filter((e) => e === 'file-ready')).toHaveLength(1);
      expect(order.indexOf('file-ready')).toBeLessThan(order.indexOf('DELETE 204'));
      expect(order).toContain('PATCH 204');
      expect(ready.filter((u) => u.id === id)).toHaveLength(1);
      await expect(fs.access(stateFile(id))).rejects.toThrow();
      await expect(fs.access(path.join(server.dataDir, id))).rejects.toThrow();
    });
  });

  describe('HEAD and GET follow the lifecycle', () => {
    it('reports receiving, then done with the digest; a failed upload answers 460 to HEAD and 404 to GET', async () => {
      const data = randomData(1000);
      const good = await create(server.endpoint, { length: 1000, metadata: { sha256: sha256Hex(data) } });
      expect((await head(good.url)).headers.get('tessera-upload-status')).toBe('receiving');
      expect((await fetch(good.url)).status).toBe(404);
      expect((await patch(good.url, 0, data)).status).toBe(204);
      expect((await head(good.url)).headers.get('tessera-upload-status')).toBe('done');

      const bad = await create(server.endpoint, { length: 1000, metadata: { sha256: '1'.repeat(64) } });
      expect((await patch(bad.url, 0, data)).status).toBe(460);
      const look = await head(bad.url);
      expect(look.status).toBe(460);
      expect(look.headers.get('tessera-upload-status')).toBe('failed');
      expect((await fetch(bad.url)).status).toBe(404);
      // A failed upload takes nothing more: its last chunk again, or the whole file again, is a 460.
      expect((await patch(bad.url, 1000, Buffer.alloc(0))).status).toBe(460);
      expect((await patch(bad.url, 0, data)).status).toBe(460);
      expect((await fs.stat(path.join(server.dataDir, idOf(bad.url)))).size).toBe(0);
    });

    it('finding 12: a zero-length upload that fails verification answers 460 and leaves nothing; a good one serves no bytes', async () => {
      const before = new Set(await fs.readdir(server.dataDir));
      const bad = await create(server.endpoint, { length: 0, metadata: { sha256: '2'.repeat(64) } });
      expect(bad.res.status).toBe(460);
      expect((await fs.readdir(server.dataDir)).filter((name) => !before.has(name))).toEqual([]);
      const good = await create(server.endpoint, { length: 0, metadata: { sha256: sha256Hex(Buffer.alloc(0)) } });
      expect(good.res.status).toBe(201);
      const res = await fetch(good.url);
      expect(res.status).toBe(200);
      expect((await res.arrayBuffer()).byteLength).toBe(0);
    });

    it('HEAD of a pending final never assembles it', async () => {
      const first = await create(server.endpoint, { length: 5, headers: { 'Upload-Concat': 'partial' } });
      const second = await partial(server.endpoint, Buffer.from('world'));
      const fin = await final(server.endpoint, [first.url, second]);
      expect(fin.res.status).toBe(201);
      let assembled = 0;
      const count = () => (assembled += 1);
      server.tessera.events.on('final-assembled', count);
      try {
        for (let i = 0; i < 3; i++) expect((await head(fin.url)).headers.get('tessera-upload-status')).toBe('pending');
        expect(assembled).toBe(0);
        expect((await patch(first.url, 0, Buffer.from('hello'))).status).toBe(204);
        expect(assembled).toBe(1);
      } finally {
        server.tessera.events.off('final-assembled', count);
      }
      expect(await (await fetch(fin.url)).text()).toBe('helloworld');
    });
  });

  it('finding 6: a final whose deferred partial, listed many times, makes it larger than MAX_SIZE fails without being assembled', async () => {
    const { url } = await create(server.endpoint, { defer: true, headers: { 'Upload-Concat': 'partial' } });
    const fin = await final(server.endpoint, Array.from({ length: 8 }, () => url));
    // 2 MiB, declared now: the final would be 16 MiB, twice MAX_SIZE.
    expect(fin.res.status).toBe(201);
    const chunk = randomData(2 * MiB);
    expect((await patch(url, 0, chunk, { 'Upload-Length': String(2 * MiB) })).status).toBe(460);
    const look = await head(fin.url);
    expect(look.status).toBe(460);
    expect(look.headers.get('tessera-error')).toMatch(/MAX_SIZE/);
    expect((await fs.stat(path.join(server.dataDir, idOf(fin.url)))).size).toBe(0);
  });
});
