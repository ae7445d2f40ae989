import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { sendWholeParts, type DirectPartOptions } from '../../src/stores/s3/direct-parts.js';
import { digestOf } from '../support/bytes.js';

/** A body as network chunks of uneven sizes, optionally failing after them. */
async function* chunked(data: Buffer, sizes: readonly number[], failure?: Error): AsyncGenerator<Buffer> {
  for (let at = 0, i = 0; at < data.length; i += 1) {
    const size = sizes[i % sizes.length] as number;
    yield data.subarray(at, at + size);
    at += size;
    await new Promise((resolve) => setImmediate(resolve));
  }
  if (failure) throw failure;
}

/** An S3 stand-in that reads each part body to its end and keeps what it read, as UploadPart does. */
function receiver(options: { failPart?: number } = {}) {
  const parts = new Map<number, Buffer>();
  const aborted: number[] = [];
  const tracked: Promise<number>[] = [];
  let slots = 0;
  const options_: Omit<DirectPartOptions, 'partSize' | 'expectedBytes'> = {
    acquire: async () => {
      slots += 1;
      return { release: async () => void (slots -= 1) };
    },
    uploadPart: (body, partNumber, size, signal) =>
      new Promise((resolve, reject) => {
        signal.addEventListener('abort', () => {
          aborted.push(partNumber);
          reject(new DOMException('aborted', 'AbortError'));
        });
        if (partNumber === options.failPart) return reject(new Error('S3 said no'));
        buffer(body).then((bytes) => {
          if (signal.aborted) return;
          if (bytes.length !== size) return reject(new Error(`part ${partNumber}: ${bytes.length} of ${size} bytes`));
          parts.set(partNumber, bytes);
          resolve(undefined);
        }, reject);
      }),
    track: (upload) => {
      upload.catch(() => undefined);
      tracked.push(upload);
    },
  };
  return { parts, aborted, tracked, options: options_, slots: () => slots };
}

describe('sendWholeParts (S3 parts without temp files)', () => {
  it('sends the whole parts the declared length allows, in order, and leaves the rest byte-exact', async () => {
    const data = randomBytes(1_000_003);
    const s3 = receiver();
    const result = await sendWholeParts(Readable.from(chunked(data, [65_536, 7, 300_001])), 4, {
      ...s3.options,
      partSize: 250_000,
      expectedBytes: data.length,
    });
    const rest = await buffer(result.rest);
    expect(await Promise.all(s3.tracked)).toEqual([250_000, 250_000, 250_000, 250_000]);
    expect([...s3.parts.keys()]).toEqual([4, 5, 6, 7]);
    expect(result).toMatchObject({ nextPartNumber: 8, sent: 1_000_000 });
    expect(rest.length).toBe(3);
    expect(digestOf(Buffer.concat([...s3.parts.values(), rest]))).toBe(digestOf(data));
    expect(s3.slots()).toBe(0);
  });

  it('sends nothing directly when the declared length is below one part', async () => {
    const data = randomBytes(200_000);
    const s3 = receiver();
    const result = await sendWholeParts(Readable.from(chunked(data, [65_536])), 1, { ...s3.options, partSize: 250_000, expectedBytes: data.length });
    expect(s3.tracked).toHaveLength(0);
    expect(digestOf(await buffer(result.rest))).toBe(digestOf(data));
  });

  it('aborts the part in flight when the body ends short of its declared length, keeping the parts before it', async () => {
    const data = randomBytes(600_000);
    const s3 = receiver();
    // Declared 1,000,000 bytes, sent 600,000 (a lock handover ends a body early like this).
    const result = await sendWholeParts(Readable.from(chunked(data, [65_536])), 1, { ...s3.options, partSize: 250_000, expectedBytes: 1_000_000 });
    expect(await Promise.all(s3.tracked)).toEqual([250_000, 250_000, 0]);
    expect(s3.aborted).toEqual([3]);
    expect(digestOf(Buffer.concat([...s3.parts.values()]))).toBe(digestOf(data.subarray(0, 500_000)));
    expect((await buffer(result.rest)).length).toBe(0);
  });

  it('aborts the part in flight and throws when the body fails', async () => {
    const data = randomBytes(400_000);
    const s3 = receiver();
    await expect(
      sendWholeParts(Readable.from(chunked(data, [65_536], new Error('client went away'))), 1, {
        ...s3.options,
        partSize: 250_000,
        expectedBytes: 1_000_000,
      }),
    ).rejects.toThrow('client went away');
    expect(await Promise.all(s3.tracked)).toEqual([250_000, 0]);
    expect(s3.aborted).toEqual([2]);
    expect(s3.slots()).toBe(0);
  });

  it('stops at a part S3 refuses and reports its error', async () => {
    const data = randomBytes(1_000_000);
    const s3 = receiver({ failPart: 2 });
    await expect(
      sendWholeParts(Readable.from(chunked(data, [65_536])), 1, { ...s3.options, partSize: 250_000, expectedBytes: data.length }),
    ).rejects.toThrow();
    const outcomes = await Promise.allSettled(s3.tracked);
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected']);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ message: 'S3 said no' });
  });
});
