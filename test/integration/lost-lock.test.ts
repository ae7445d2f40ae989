import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Upload, type Lock, type Locker } from '@tus/utils';
import pLimit, { type LimitFunction } from 'p-limit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logging/logger.js';
import { FileStoreAdapter } from '../../src/stores/file/file-store-adapter.js';
import { TesseraEvents, type FinishedUpload } from '../../src/tus/completion/tessera-events.js';
import { UploadCompletion } from '../../src/tus/completion/upload-completion.js';
import { FinalAssembler } from '../../src/tus/extensions/concatenation/final-assembler.js';
import { FileUploadStateStore } from '../../src/tus/state/file-upload-state-store.js';
import { TesseraDataStore } from '../../src/tus/tessera-datastore.js';

/**
 * Settling and announcing must hold even when the upload's lock did not (a Redis without
 * persistence that restarts empty forgets the locks of work in progress; another instance then
 * takes them). The fault is real (tests/integration/redis-loss.test.ts empties Redis) but not at
 * a chosen instant, so here the locker is a stand-in that never excludes anyone: every lock is
 * "lost" from the start. Everything else is the real store, state and completion on a real disk.
 */
const nobodyExcluded: Locker = {
  newLock: (): Lock => ({ lock: async () => undefined, unlock: async () => undefined }),
};

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('with locks that exclude no one (lost with Redis)', () => {
  let dir: string;
  let store: TesseraDataStore;
  let state: FileUploadStateStore;
  let events: TesseraEvents;
  const ready: string[] = [];
  const assembled: string[] = [];

  const build = (heavyWork: LimitFunction = pLimit(4)) => {
    const log = createLogger('silent');
    const assembler = new FinalAssembler(store, state, nobodyExcluded, log, { maxSize: 0, heavyWork });
    return new UploadCompletion(store, state, nobodyExcluded, assembler, events, {}, log, heavyWork);
  };

  const upload = async (id: string, data: Buffer, metadata: Record<string, string> = {}, partial = false) => {
    await store.create(new Upload({ id, size: data.length, offset: 0, metadata }));
    await state.update(id, () => (partial ? { kind: 'partial' } : { kind: 'single', status: 'receiving' }));
    await store.adapter.datastore.write(Readable.from([data]), id, 0);
  };

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-lost-lock-'));
    store = new TesseraDataStore(new FileStoreAdapter({ directory: dir, expiryMs: 0, soleWriter: false }));
    state = new FileUploadStateStore({ directory: path.join(dir, '.tessera-state'), soleWriter: false });
    events = new TesseraEvents();
    ready.length = 0;
    assembled.length = 0;
    events.on('file-ready', (u: FinishedUpload) => ready.push(u.id));
    events.on('final-assembled', ({ id }) => assembled.push(id));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('two instances settling one upload at once: verified and announced once', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    await upload('single', data, { sha256: sha256(data) });
    const [a, b] = [build(), build()];
    await Promise.all([a.finish(undefined, 'single'), b.finish(undefined, 'single')]);
    expect(ready).toEqual(['single']);
    expect(await state.get('single')).toMatchObject({ status: 'done', sha256: sha256(data), notified: true });
  });

  it('a DELETE that gets in while the upload is verified: nothing announced, no record back', async () => {
    const data = randomBytes(1024 * 1024);
    await upload('deleted', data, { sha256: sha256(data) });
    // The hash is done, then the upload is removed, before the outcome is recorded.
    const deleteAfterHashing: LimitFunction = Object.assign(
      async <T>(work: () => Promise<T>) => {
        const result = await work();
        await store.remove('deleted');
        return result;
      },
      pLimit(1),
    ) as unknown as LimitFunction;
    await build(deleteAfterHashing).finish(undefined, 'deleted');
    expect(ready).toEqual([]);
    expect(await state.get('deleted')).toBeUndefined();
  });

  it('two instances assembling one final at once: assembled and announced once, never served partly', async () => {
    const parts = [randomBytes(3 * 1024 * 1024), randomBytes(3 * 1024 * 1024)];
    await upload('p1', parts[0] as Buffer, {}, true);
    await upload('p2', parts[1] as Buffer, {}, true);
    const whole = Buffer.concat(parts);
    await state.update('fin', () => ({ kind: 'final', partials: ['p1', 'p2'], status: 'pending', requestKey: 'k' }));
    await store.create(new Upload({ id: 'fin', size: whole.length, offset: 0, metadata: { sha256: sha256(whole) } }));
    const [a, b] = [build(), build()];
    // While both run, whatever the final's file holds is never a part of it: empty, or all of it.
    let watching = true;
    const seen: number[] = [];
    const watch = (async () => {
      while (watching) {
        seen.push((await fs.stat(path.join(dir, 'fin'))).size);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await Promise.all([a.completeFinal(undefined, 'fin'), b.completeFinal(undefined, 'fin')]);
    watching = false;
    await watch;
    expect(assembled).toEqual(['fin']);
    expect(ready).toEqual(['fin']);
    expect(new Set(seen.filter((size) => size !== 0 && size !== whole.length))).toEqual(new Set());
    expect(sha256(await fs.readFile(path.join(dir, 'fin')))).toBe(sha256(whole));
  });
});
