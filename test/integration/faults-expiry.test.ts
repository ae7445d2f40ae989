import fs from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/config.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { final, partial } from '../support/concat.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, head, randomData } from '../support/tus-http.js';

/**
 * Abandoned uploads — unfinished ones, and partials no final ever used, finished or not —
 * are removed by the periodic sweep, with their info and state, and then answer 404. What
 * is still wanted (finished files, finals, partials of a live final) stays.
 */

const EXPIRY_MS = 1500;
const idOf = (url: string) => url.split('/').pop() as string;
const exists = (file: string) => fs.stat(file).then(() => true, () => false);

interface Scene {
  readonly gone: Record<string, string>;
  readonly kept: Record<string, string>;
}

async function buildScene(endpoint: string): Promise<Scene> {
  const abandoned = await create(endpoint, { length: 100, body: randomData(10) });
  const deferred = await create(endpoint, { defer: true });
  const unfinishedPartial = await partial(endpoint, randomData(10), false);
  const unusedPartial = await partial(endpoint, randomData(10));
  const usedPartial = await partial(endpoint, randomData(10));
  const done = await final(endpoint, [usedPartial]);
  // A final over a partial that was never finished: both are abandoned.
  const waitingPartial = await partial(endpoint, randomData(10), false);
  const waiting = await final(endpoint, [waitingPartial]);
  const finished = await create(endpoint, { length: 4, body: Buffer.from('kept') });
  for (const res of [abandoned.res, deferred.res, done.res, waiting.res, finished.res]) expect(res.status).toBe(201);
  return {
    gone: {
      abandoned: abandoned.url,
      deferred: deferred.url,
      unfinishedPartial,
      unusedPartial,
      // Its final is done and holds its own copy: the partial goes like any other.
      usedPartial,
      waitingPartial,
      waitingFinal: waiting.url,
    },
    kept: { final: done.url, finished: finished.url },
  };
}

async function expectSwept(server: RunningTessera, scene: Scene, infoGone: (id: string) => Promise<boolean>): Promise<void> {
  // The sweep runs on its own timer; wait (bounded) for its effect: the data, then the info
  // (removed after the data; in between HEAD answers 410).
  for (const url of Object.values(scene.gone)) {
    await expect.poll(() => exists(path.join(server.dataDir, idOf(url))), { timeout: 10_000, interval: 50 }).toBe(false);
    await expect.poll(() => infoGone(idOf(url)), { timeout: 10_000, interval: 50 }).toBe(true);
  }
  for (const [name, url] of Object.entries(scene.gone)) {
    expect((await head(url)).status, name).toBe(404);
    expect(await infoGone(idOf(url)), `${name} info`).toBe(true);
    expect(await exists(path.join(server.dataDir, '.tessera-state', `upload-${idOf(url)}.json`)), `${name} state`).toBe(false);
  }
  for (const [name, url] of Object.entries(scene.kept)) {
    expect((await head(url)).status, name).toBe(200);
    expect(await exists(path.join(server.dataDir, idOf(url))), name).toBe(true);
  }
  expect((await fetch(scene.kept.final as string)).status).toBe(200);
}

describe('expiry on schedule, embedded (file store, state on disk)', () => {
  let server: RunningTessera;
  beforeAll(async () => {
    server = await startTessera({ uploadExpiryMs: EXPIRY_MS, expirySweepIntervalMs: 100 });
  });
  afterAll(() => server.stop());

  it('removes abandoned uploads and unused partials, keeps what is finished or used', async () => {
    const scene = await buildScene(server.endpoint);
    await expectSwept(server, scene, async (id) => !(await exists(path.join(server.dataDir, `${id}.json`))));
  });
});

describe('expiry on schedule, shared mode (Redis for locks; info and state beside the data)', () => {
  let redis: RedisProcess;
  let client: Redis;
  let server: RunningTessera;
  const prefix = 'expiry-test:';
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
    const shared: Config['redis'] = { url: redis.url, lockUrls: [redis.url], prefix };
    server = await startTessera({ uploadExpiryMs: EXPIRY_MS, expirySweepIntervalMs: 100, redis: shared });
  });
  afterAll(async () => {
    await server?.stop();
    client?.disconnect();
    await redis?.stop();
  });

  it('removes the same uploads, and leaves no key of theirs in Redis', async () => {
    const scene = await buildScene(server.endpoint);
    await expectSwept(server, scene, async (id) => !(await exists(path.join(server.dataDir, `${id}.json`))));
    const left = await client.keys(`${prefix}*`);
    for (const url of Object.values(scene.gone)) expect(left.filter((k) => k.includes(idOf(url)))).toEqual([]);
  });
});
