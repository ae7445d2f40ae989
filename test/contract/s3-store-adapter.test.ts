import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline, Readable, Transform } from 'node:stream';
import { ERRORS, Upload } from '@tus/utils';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStoreAdapter } from '../../src/stores/file/file-store-adapter.js';
import { S3StoreAdapter } from '../../src/stores/s3/s3-store-adapter.js';
import type { StoreAdapter } from '../../src/stores/store-adapter.js';
import { TesseraDataStore, type WriteGuard } from '../../src/tus/tessera-datastore.js';
import { storeLevelRequest } from '../support/tus-request.js';
import { digestOf } from '../support/bytes.js';
import { bucketContents, newBucket, s3ClientFor, s3ConfigFor, startS3Server, type S3ServerProcess } from '../support/s3.js';

const MiB = 1024 * 1024;

interface Subject {
  readonly adapter: StoreAdapter;
  /** Whatever the store still holds (files, objects, multipart uploads). */
  leftovers(): Promise<string[]>;
  close(): Promise<void>;
}

let s3: S3ServerProcess;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(() => s3.stop());

const subjects: Record<string, () => Promise<Subject>> = {
  async file() {
    const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-contract-'));
    return {
      adapter: new FileStoreAdapter({ directory, expiryMs: 60_000, soleWriter: true }),
      leftovers: async () => fs.readdir(directory),
      close: () => fs.rm(directory, { recursive: true, force: true }),
    };
  },
  async s3() {
    const client = s3ClientFor(s3);
    const bucket = await newBucket(client, 'contract');
    return {
      adapter: new S3StoreAdapter({ s3: s3ConfigFor(s3, bucket), expiryMs: 60_000, cacheInfo: true, log: pino({ level: 'silent' }) }),
      leftovers: async () => {
        const { objects, uploads } = await bucketContents(client, bucket);
        return [...objects, ...uploads.map((u) => `multipart:${u}`)];
      },
      close: async () => undefined,
    };
  },
};

/** Fails the body at its very end, as the checksum guard does for a mismatching body. */
function rejectAtEnd(discard: (id: string, offset: number) => Promise<void>): WriteGuard {
  return async (write, stream, upload) => {
    const verdict = new Error('rejected at the end');
    const gate = new Transform({
      transform: (chunk: Buffer, _e, callback) => callback(null, chunk),
      flush: (callback) => callback(verdict),
    });
    pipeline(stream, gate, () => {});
    try {
      return await write(gate, { allOrNothing: true });
    } catch {
      // The store may wrap the stream's error (the file store answers FILE_WRITE_ERROR).
      await discard(upload.id, upload.offset);
      throw verdict;
    }
  };
}

const readAll = async (adapter: StoreAdapter, id: string) => {
  const chunks: Buffer[] = [];
  for await (const chunk of await adapter.read(id)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
};

/**
 * What the extensions rely on from a StoreAdapter, run against the file store (the
 * reference) and the S3 store on a real S3-compatible server process.
 */
describe.each(Object.keys(subjects))('StoreAdapter contract: %s', (kind) => {
  let subject: Subject;
  let store: TesseraDataStore;

  beforeAll(async () => {
    subject = await (subjects[kind] as () => Promise<Subject>)();
    store = new TesseraDataStore(subject.adapter);
  });
  afterAll(() => subject.close());

  const newUpload = (size: number) => store.create(new Upload({ id: randomUUID().replace(/-/g, ''), size, offset: 0, metadata: {} }));

  it('appends writes of any size and reads the whole file back once complete', async () => {
    const data = randomBytes(13 * MiB + 17);
    const { id } = await newUpload(data.length);
    // Below and above S3's 5 MiB minimum part size, so S3 goes through its `.part` tail.
    const cuts = [0, 6 * MiB, 7 * MiB, 11 * MiB + 3, data.length];
    for (let i = 0; i + 1 < cuts.length; i += 1) {
      const offset = await store.writeRequestBody(Readable.from([data.subarray(cuts[i], cuts[i + 1])]), id, cuts[i] as number, storeLevelRequest(id));
      expect(offset).toBe(cuts[i + 1]);
      expect((await store.getUpload(id)).offset).toBe(cuts[i + 1]);
    }
    expect(digestOf(await readAll(subject.adapter, id))).toBe(digestOf(data));
  });

  it('truncate to the current offset changes nothing; to 0 empties the upload for a fresh start', async () => {
    const data = randomBytes(8 * MiB);
    const { id } = await newUpload(data.length);
    await store.writeRequestBody(Readable.from([data.subarray(0, 6 * MiB)]), id, 0, storeLevelRequest(id));
    await subject.adapter.truncate(id, 6 * MiB);
    expect((await store.getUpload(id)).offset).toBe(6 * MiB);
    await subject.adapter.truncate(id, 0);
    expect((await store.getUpload(id)).offset).toBe(0);
    await store.writeRequestBody(Readable.from([data]), id, 0, storeLevelRequest(id));
    expect(digestOf(await readAll(subject.adapter, id))).toBe(digestOf(data));
  });

  it('truncate to 0 empties a completed upload (failed whole-file verification)', async () => {
    const data = randomBytes(2 * MiB);
    const { id } = await newUpload(data.length);
    await store.writeRequestBody(Readable.from([data]), id, 0, storeLevelRequest(id));
    await subject.adapter.truncate(id, 0);
    const upload = await store.getUpload(id);
    expect(upload.offset).toBe(0);
    expect(upload.size).toBe(data.length);
    const again = randomBytes(2 * MiB);
    await store.writeRequestBody(Readable.from([again]), id, 0, storeLevelRequest(id));
    expect(digestOf(await readAll(subject.adapter, id))).toBe(digestOf(again));
  });

  it('a body failed at its end (all-or-nothing write, then truncate) leaves offset and bytes as they were', async () => {
    const guarded = new TesseraDataStore(subject.adapter);
    guarded.use({ names: [], writeGuards: [rejectAtEnd((id, offset) => subject.adapter.truncate(id, offset))] });
    const data = randomBytes(16 * MiB);
    const { id } = await newUpload(data.length);
    await store.writeRequestBody(Readable.from([data.subarray(0, 7 * MiB)]), id, 0, storeLevelRequest(id));
    // 8 MiB: one full part and a new tail on S3, were it kept.
    await expect(guarded.writeRequestBody(Readable.from([randomBytes(8 * MiB)]), id, 7 * MiB, storeLevelRequest(id))).rejects.toThrow('rejected at the end');
    expect((await store.getUpload(id)).offset).toBe(7 * MiB);
    await store.writeRequestBody(Readable.from([data.subarray(7 * MiB)]), id, 7 * MiB, storeLevelRequest(id));
    expect(digestOf(await readAll(subject.adapter, id))).toBe(digestOf(data));
  });

  it('lists unfinished uploads for expiry sweeps', async () => {
    const { id } = await newUpload(10);
    expect(await subject.adapter.listUploadIds()).toContain(id);
  });

  it('remove leaves nothing of the upload behind', async () => {
    const { id } = await newUpload(9 * MiB);
    await store.writeRequestBody(Readable.from([randomBytes(7 * MiB)]), id, 0, storeLevelRequest(id));
    await store.remove(id);
    await expect(store.getUpload(id)).rejects.toBe(ERRORS.FILE_NOT_FOUND);
    expect((await subject.leftovers()).filter((name) => name.includes(id))).toEqual([]);
  });

  it('passes its readiness check', async () => {
    await expect(subject.adapter.checkWritable()).resolves.toBeUndefined();
  });
});
