import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../support/bytes.js';
import { patchTolerant } from '../support/fault-http.js';
import { mountSmallDisk, type SmallDisk } from '../support/fault-tmpfs.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { final } from '../support/concat.js';
import { create, head, offsetOf, patch, randomData } from '../support/tus-http.js';

const MiB = 1024 * 1024;
let disk: SmallDisk;
let server: RunningTessera;

beforeAll(async () => {
  // A real 8 MiB file system as the data dir: writes fail with ENOSPC when it is full.
  disk = await mountSmallDisk('8m');
  server = await startTessera({ dataDir: disk.dir });
});
afterAll(async () => {
  await server?.stop();
  await disk?.unmount();
});

const stored = (url: string) => fs.readFile(path.join(disk.dir, new URL(url).pathname.split('/').pop() as string));
const sha1 = (data: Buffer) => `sha1 ${createHash('sha1').update(data).digest('base64')}`;

describe('disk full during a write', () => {
  it('answers 507 with a clear message, keeps exactly the bytes stored, and resumes once space is freed', async () => {
    const data = randomData(4 * MiB);
    const { res, url } = await create(server.endpoint, { length: data.length });
    expect(res.status).toBe(201);
    const filler = await disk.fill(MiB);

    const full = await patchTolerant(url, 0, data);
    expect(full.status).toBe(507);
    expect(full.body).toMatch(/Insufficient storage; retry once space is freed/);
    expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(503);

    const offset = await offsetOf(url);
    expect(offset).toBeGreaterThan(0);
    expect(offset).toBeLessThan(data.length);
    const kept = await stored(url);
    expect(kept.length).toBe(offset);
    expect(digestOf(kept)).toBe(digestOf(data.subarray(0, offset)));

    await fs.rm(filler);
    expect((await patch(url, offset, data.subarray(offset))).status).toBe(204);
    expect(digestOf(await stored(url))).toBe(digestOf(data));
    expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
    await fs.rm(path.join(disk.dir, new URL(url).pathname.split('/').pop() as string));
  });

  it('with Upload-Checksum: 507, the unverifiable chunk is rolled back to the last verified offset', async () => {
    const data = randomData(3 * MiB);
    const first = data.subarray(0, MiB);
    const rest = data.subarray(MiB);
    const { url } = await create(server.endpoint, { length: data.length });
    expect((await patch(url, 0, first, { 'Upload-Checksum': sha1(first) })).status).toBe(204);
    const filler = await disk.fill(MiB / 2);

    const full = await patchTolerant(url, MiB, rest, { 'Upload-Checksum': sha1(rest) });
    expect(full.status).toBe(507);
    expect(await offsetOf(url)).toBe(MiB);
    expect(digestOf(await stored(url))).toBe(digestOf(first));

    await fs.rm(filler);
    expect((await patch(url, MiB, rest, { 'Upload-Checksum': sha1(rest) })).status).toBe(204);
    expect(digestOf(await stored(url))).toBe(digestOf(data));
  });

  it('answers 507 to a creation when not even the upload record fits, and leaves no file behind', async () => {
    const filler = await disk.fill(0);
    const before = new Set(await fs.readdir(disk.dir));
    try {
      const { res } = await create(server.endpoint, { length: 100 });
      expect(res.status).toBe(507);
      expect(await res.text()).toMatch(/Insufficient storage/);
      expect((await fs.readdir(disk.dir)).filter((name) => !before.has(name))).toEqual([]);
    } finally {
      await fs.rm(filler);
    }
    const again = await create(server.endpoint, { length: 3, body: Buffer.from('abc') });
    expect(again.res.status).toBe(201);
    expect((await head(again.url)).headers.get('upload-offset')).toBe('3');
  });

  it('a final assembled onto a disk that fills up is never recorded done with fewer bytes', async () => {
    const parts = [randomData(MiB), randomData(MiB)];
    const urls: string[] = [];
    for (const data of parts) {
      const { url } = await create(server.endpoint, { length: MiB, headers: { 'Upload-Concat': 'partial' } });
      expect((await patch(url, 0, data)).status).toBe(204);
      urls.push(url);
    }
    const whole = Buffer.concat(parts);
    const metadata = { sha256: createHash('sha256').update(whole).digest('hex') };
    // Room for the first partial's bytes and half the second's: the last write is cut short.
    const filler = await disk.fill(1.5 * MiB);
    let location = '';
    try {
      const first = await final(server.endpoint, urls, metadata);
      expect(first.res.status).toBe(507);
      // The final exists: the 507 names it, and the retry returns that very final.
      location = first.url;
      expect(location).not.toBe('');
    } finally {
      await fs.rm(filler);
    }
    const retry = await final(server.endpoint, urls, metadata);
    expect(retry.res.status).toBe(201);
    expect(retry.url).toBe(location);
    const look = await head(retry.url);
    expect(look.headers.get('tessera-upload-status')).toBe('done');
    expect((await stored(retry.url)).equals(whole)).toBe(true);
  });
});
