import { createHash, randomBytes } from 'node:crypto';
import type { S3 } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../support/bytes.js';
import { idOf, S3_BACKENDS, s3ClientFor, startS3WithTessera, type S3ServerProcess } from '../support/s3.js';
import type { RunningTessera } from '../support/tessera.js';
import { create, head, offsetOf, patch } from '../support/tus-http.js';

const MiB = 1024 * 1024;
/** The test server's part size (see s3ConfigFor): every whole part is this long. */
const PART = 5 * MiB;
const sha1Checksum = (data: Buffer) => `sha1 ${createHash('sha1').update(data).digest('base64')}`;

/**
 * Issue #22, items 1 and 5: S3 must never count bytes it does not hold, in order, and what
 * Tessera received must be what S3 stores. Against the S3 test server and against Ceph's RGW (a
 * real S3 implementation), each with the same faults: a part answered 500 after its body arrived
 * (so later parts, sent meanwhile, are stored after a hole), and a byte flipped on the way in (the
 * damage a bad link does: by a proxy in front of RGW; inside the test server, at the point the
 * wire would hand it over).
 */
describe.each(S3_BACKENDS)('S3 (%s): parts count only in order, and what S3 stores is what was sent', (backend) => {
  let s3: S3ServerProcess;
  let server: RunningTessera;
  let stop: () => Promise<void>;
  let client: S3;
  let bucket: string;
  beforeAll(async () => {
    ({ s3, server, stop } = await startS3WithTessera('parts', {}, backend));
    client = s3ClientFor(s3);
    bucket = server.tessera.config.s3?.bucket ?? '';
  }, 180_000);
  afterAll(() => stop());

  /** The multipart upload the `.info` object names (@tus/s3-store keeps it in the object's metadata). */
  const uploadIdOf = async (url: string) => (await client.headObject({ Bucket: bucket, Key: `${idOf(url)}.info` })).Metadata?.['upload-id'] ?? '';
  const listedParts = async (url: string) =>
    ((await client.listParts({ Bucket: bucket, Key: idOf(url), UploadId: await uploadIdOf(url) })).Parts ?? []).map((p) => ({ number: p.PartNumber, size: p.Size }));
  const served = async (url: string) => digestOf(Buffer.from(await (await fetch(url)).arrayBuffer()));

  it('a part that fails after later ones were stored: only the parts before the hole count, and the resume gives the exact file', async () => {
    const data = randomBytes(4 * PART + 100);
    const { url } = await create(server.endpoint, { length: data.length });
    // Part 2's body arrives, then S3 answers 500; parts 3.. were streaming meanwhile.
    await s3.failNext('UploadPart', 1, { mode: 'after-body', part: 2 });
    const failed = await patch(url, 0, data);
    expect(failed.status).toBe(503);
    expect((await listedParts(url)).map((p) => p.number)).toContain(3);
    // Before: every listed part counted (offset 20971620 of 20971620, part 2's bytes missing).
    expect(await offsetOf(url)).toBe(PART);
    expect((await patch(url, PART, data.subarray(PART))).status).toBe(204);
    expect(await served(url)).toBe(digestOf(data));
  });

  it('a leftover part after a hole is voided before the hole is filled, so it never joins the counted run', async () => {
    const data = randomBytes(3 * PART + 10);
    const { url } = await create(server.endpoint, { length: data.length });
    expect((await patch(url, 0, data.subarray(0, PART))).status).toBe(204);
    // What a crashed write leaves: part 3 stored with other bytes, part 2 missing.
    await client.uploadPart({ Bucket: bucket, Key: idOf(url), UploadId: await uploadIdOf(url), PartNumber: 3, Body: randomBytes(PART) });
    expect(await offsetOf(url)).toBe(PART);
    // Part 2 and a 10-byte tail tagged for part 3: the leftover part 3 must not make the tail look stale.
    expect((await patch(url, PART, data.subarray(PART, 2 * PART + 10))).status).toBe(204);
    expect(await listedParts(url)).toEqual([
      { number: 1, size: PART },
      { number: 2, size: PART },
      { number: 3, size: 0 },
    ]);
    expect(await offsetOf(url)).toBe(2 * PART + 10);
    expect((await patch(url, 2 * PART + 10, data.subarray(2 * PART + 10))).status).toBe(204);
    expect(await served(url)).toBe(digestOf(data));
  });

  it('a streamed part damaged on the way is caught by its ETag and voided: 503, the offset stays, the resume gives the exact file', async () => {
    const data = randomBytes(2 * PART + 100);
    const { url } = await create(server.endpoint, { length: data.length });
    expect((await patch(url, 0, data.subarray(0, PART))).status).toBe(204);
    await s3.failNext('UploadPart', 1, { mode: 'flip', part: 2 });
    const failed = await patch(url, PART, data.subarray(PART));
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).not.toBeNull();
    // Before: the damaged part counted and was served (offset 10485860, wrong bytes).
    expect(await offsetOf(url)).toBe(PART);
    expect((await patch(url, PART, data.subarray(PART))).status).toBe(204);
    expect(await served(url)).toBe(digestOf(data));
  });

  it.each([
    // Two whole parts and a 100-byte tail; the first part is damaged.
    ['a part from a temp file (checksummed PATCH)', 'UploadPart', 2 * PART + 100, 2],
    ['the .part tail', 'PutObject', 100, 1],
  ])('%s damaged on the way: S3 refuses it by its Content-MD5, Tessera sends it again, and the file is exact', async (_name, operation, length, sends) => {
    const data = randomBytes(length);
    const { url } = await create(server.endpoint, { length: data.length + 1 });
    const before = (await s3.stats())[operation]?.requests ?? 0;
    await s3.failNext(operation, 1, { mode: 'flip' });
    expect((await patch(url, 0, data, { 'Upload-Checksum': sha1Checksum(data) })).status).toBe(204);
    expect(((await s3.stats())[operation]?.requests ?? 0) - before).toBe(sends + 1);
    const last = randomBytes(1);
    expect((await patch(url, data.length, last)).status).toBe(204);
    expect(await served(url)).toBe(digestOf(Buffer.concat([data, last])));
  });

  it.each([
    ['part 1 fails after its body arrived', { mode: 'after-body', part: 1 }],
    ['part 1 arrives damaged (its ETag tells)', { mode: 'flip', part: 1 }],
  ] as const)('%s while part 2 and the tail are stored: neither counts, the offset stays 0, the resume gives the exact file', async (_name, fault) => {
    const data = randomBytes(2 * PART + 101);
    const { url } = await create(server.endpoint, { length: data.length });
    await s3.failNext('UploadPart', 1, fault);
    expect((await patch(url, 0, data.subarray(0, 2 * PART + 100))).status).toBe(503);
    // Before: part 2 stored, then a tail tagged for part 3 counted after nothing (offset 100).
    expect(await offsetOf(url)).toBe(0);
    expect((await patch(url, 0, data)).status).toBe(204);
    expect(await served(url)).toBe(digestOf(data));
  });

  it('an acknowledged tail is not replaced when the part that was to carry its bytes failed', async () => {
    const data = randomBytes(2 * PART + 201);
    const { url } = await create(server.endpoint, { length: data.length });
    expect((await patch(url, 0, data.subarray(0, 100))).status).toBe(204);
    await s3.failNext('UploadPart', 1, { mode: 'after-body', part: 1 });
    expect((await patch(url, 100, data.subarray(100, 2 * PART + 200))).status).toBe(503);
    // Before: the new tail (the body's end) replaced the acknowledged one; the offset still said 100.
    expect(await offsetOf(url)).toBe(100);
    expect((await patch(url, 100, data.subarray(100))).status).toBe(204);
    expect(await served(url)).toBe(digestOf(data));
  });

  it('a damaged streamed part that cannot be voided (S3 refusing the empty part) stays uncounted, by the unverified mark', async () => {
    const data = randomBytes(2 * PART + 10);
    const { url } = await create(server.endpoint, { length: data.length });
    expect((await patch(url, 0, data.subarray(0, PART))).status).toBe(204);
    await s3.failNext('UploadPart', 1, { mode: 'flip', part: 2 });
    // The void: 3 sends by Tessera, each tried 3 times by the SDK (an empty body it can resend).
    await s3.failNext('UploadPart', 9, { mode: 'error', part: 2 });
    expect((await patch(url, PART, data.subarray(PART, 2 * PART))).status).toBe(503);
    expect((await listedParts(url)).find((p) => p.number === 2)?.size).toBe(PART);
    // Before: the damaged part 2 counted (offset 10485760).
    expect(await offsetOf(url)).toBe(PART);
    expect((await patch(url, PART, data.subarray(PART))).status).toBe(204);
    expect(await served(url)).toBe(digestOf(data));
    expect((await client.listObjectsV2({ Bucket: bucket, Prefix: `${idOf(url)}.unverified` })).KeyCount).toBe(0);
  });

  it('what a process killed between S3 storing a streamed part and checking it leaves (the mark, the part unchecked) counts nothing from that part on', async () => {
    const data = randomBytes(2 * PART + 10);
    const { url } = await create(server.endpoint, { length: data.length });
    expect((await patch(url, 0, data.subarray(0, PART))).status).toBe(204);
    // The state as the dead write left it: its mark, then part 2 stored with damaged bytes.
    await client.putObject({ Bucket: bucket, Key: `${idOf(url)}.unverified`, Body: '', Metadata: { 'tessera-unverified-from': '2' } });
    await client.uploadPart({ Bucket: bucket, Key: idOf(url), UploadId: await uploadIdOf(url), PartNumber: 2, Body: randomBytes(PART) });
    expect(await offsetOf(url)).toBe(PART);
    expect((await patch(url, PART, data.subarray(PART))).status).toBe(204);
    expect(await served(url)).toBe(digestOf(data));
  });

  it('S3 refusing a part as damaged on every attempt: 503 with Retry-After, nothing changed', async () => {
    const data = randomBytes(PART + 10);
    const { url } = await create(server.endpoint, { length: data.length + 1 });
    await s3.failNext('UploadPart', 3, { mode: 'flip' });
    const refused = await patch(url, 0, data, { 'Upload-Checksum': sha1Checksum(data) });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).not.toBeNull();
    expect(await offsetOf(url)).toBe(0);
  });

  it('HEAD after a failed part takes no more than the parts in order, on the next PATCH too (no hole ever counted)', async () => {
    const data = randomBytes(3 * PART);
    const { url } = await create(server.endpoint, { length: data.length });
    await s3.failNext('UploadPart', 1, { mode: 'after-body', part: 1 });
    expect((await patch(url, 0, data)).status).toBe(503);
    expect(Number((await head(url)).headers.get('upload-offset'))).toBe(0);
    expect((await patch(url, 0, data)).status).toBe(204);
    expect(await served(url)).toBe(digestOf(data));
  });

  it('a part of a final assembled through this server, damaged on the way back to S3: the final fails without being served, and creating it again gives the exact file', async () => {
    const pieces = [randomBytes(100), randomBytes(200)];
    const partials: string[] = [];
    for (const piece of pieces) {
      const { url } = await create(server.endpoint, { length: piece.length, headers: { 'Upload-Concat': 'partial' } });
      expect((await patch(url, 0, piece)).status).toBe(204);
      partials.push(new URL(url).pathname);
    }
    const concat = { 'Upload-Concat': `final;${partials.join(' ')}` };
    await s3.failNext('UploadPart', 1, { mode: 'flip' });
    const damaged = await create(server.endpoint, { headers: concat });
    expect(damaged.res.status).toBe(503);
    if (damaged.url) expect((await fetch(damaged.url)).status).not.toBe(200);
    const { res, url } = await create(server.endpoint, { headers: concat });
    expect(res.status).toBe(201);
    expect(await served(url)).toBe(digestOf(Buffer.concat(pieces)));
  });
});
