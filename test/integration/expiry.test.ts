import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, head, patch, randomData } from '../support/tus-http.js';

const HOUR = 60 * 60 * 1000;
const idOf = (url: string) => decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
const exists = (file: string) => fs.stat(file).then(() => true, () => false);

describe('Upload-Expires', () => {
  let server: RunningTessera;
  beforeAll(async () => {
    server = await startTessera({ uploadExpiryMs: HOUR, expirySweepIntervalMs: HOUR });
  });
  afterAll(async () => {
    await server.stop();
  });

  /** Asserts an RFC 7231 date one expiry period after a creation made between `from` and `to`. */
  function expectExpiry(value: string | null, from: number, to: number): void {
    expect(value).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    const at = Date.parse(value ?? '');
    // The header has whole seconds.
    expect(at).toBeGreaterThanOrEqual(from + HOUR - 1000);
    expect(at).toBeLessThanOrEqual(to + HOUR + 1000);
  }

  it('is sent on creation and on PATCH of an unfinished upload, and no longer once it is finished', async () => {
    const from = Date.now();
    const { res, url } = await create(server.endpoint, { length: 20 });
    const to = Date.now();
    expectExpiry(res.headers.get('upload-expires'), from, to);

    const partial = await patch(url, 0, randomData(10));
    expect(partial.status).toBe(204);
    expectExpiry(partial.headers.get('upload-expires'), from, to);

    const last = await patch(url, 10, randomData(10));
    expect(last.status).toBe(204);
    expect(last.headers.get('upload-expires')).toBeNull();
  });

  it('is sent for a deferred-length upload, and not for one finished at creation', async () => {
    const from = Date.now();
    const deferred = await create(server.endpoint, { defer: true });
    expectExpiry(deferred.res.headers.get('upload-expires'), from, Date.now());

    const whole = await create(server.endpoint, { length: 4, body: randomData(4) });
    expect(whole.res.status).toBe(201);
    expect(whole.res.headers.get('upload-expires')).toBeNull();
  });
});

describe('expiration of unfinished uploads', () => {
  const EXPIRY_MS = 300;
  let server: RunningTessera;
  beforeAll(async () => {
    // The sweep timer is out of the way: these tests sweep by hand.
    server = await startTessera({ uploadExpiryMs: EXPIRY_MS, expirySweepIntervalMs: HOUR });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('answers 410 once expired but not yet swept; a finished upload never expires; the sweep removes only the expired', async () => {
    const unfinished = await create(server.endpoint, { length: 100, body: randomData(40) });
    const deferred = await create(server.endpoint, { defer: true });
    const finished = await create(server.endpoint, { length: 32, body: randomData(32) });
    expect([unfinished.res.status, deferred.res.status, finished.res.status]).toEqual([201, 201, 201]);
    expect(finished.res.headers.get('upload-offset')).toBe('32');

    await sleep(EXPIRY_MS + 100);

    expect((await head(unfinished.url)).status).toBe(410);
    expect((await head(deferred.url)).status).toBe(410);
    expect((await patch(unfinished.url, 40, randomData(10))).status).toBe(410);
    // Still on disk: only the sweep deletes.
    expect(await exists(path.join(server.dataDir, idOf(unfinished.url)))).toBe(true);

    const done = await head(finished.url);
    expect(done.status).toBe(200);
    expect(done.headers.get('upload-offset')).toBe('32');
    expect((await fetch(finished.url)).status).toBe(200);

    const removed = await server.tessera.sweeper.sweep();
    expect(removed).toBe(2);

    for (const { url } of [unfinished, deferred]) {
      expect((await head(url)).status).toBe(404);
      expect(await exists(path.join(server.dataDir, idOf(url)))).toBe(false);
      expect(await exists(path.join(server.dataDir, `${idOf(url)}.json`))).toBe(false);
    }
    expect((await head(finished.url)).status).toBe(200);
    expect(await exists(path.join(server.dataDir, idOf(finished.url)))).toBe(true);
    expect(await server.tessera.sweeper.sweep()).toBe(0);
  });

  it('keeps an upload that has not expired yet', async () => {
    const young = await startTessera({ uploadExpiryMs: HOUR, expirySweepIntervalMs: HOUR });
    try {
      const { url } = await create(young.endpoint, { length: 10, body: randomData(3) });
      expect(await young.tessera.sweeper.sweep()).toBe(0);
      expect((await head(url)).status).toBe(200);
    } finally {
      await young.stop();
    }
  });
});

describe('the periodic sweep', () => {
  it('removes expired uploads on its own', async () => {
    const server = await startTessera({ uploadExpiryMs: 200, expirySweepIntervalMs: 100 });
    try {
      const { url } = await create(server.endpoint, { length: 10, body: randomData(3) });
      const file = path.join(server.dataDir, idOf(url));
      await expect.poll(() => exists(file), { timeout: 5_000, interval: 50 }).toBe(false);
      expect((await head(url)).status).toBe(404);
    } finally {
      await server.stop();
    }
  });

  it('does not run when expiry is disabled', async () => {
    const server = await startTessera({ uploadExpiryMs: 0, expirySweepIntervalMs: 50 });
    try {
      const { res, url } = await create(server.endpoint, { length: 10, body: randomData(3) });
      expect(res.headers.get('upload-expires')).toBeNull();
      await sleep(200);
      expect(await server.tessera.sweeper.sweep()).toBe(0);
      expect((await head(url)).status).toBe(200);
    } finally {
      await server.stop();
    }
  });
});
