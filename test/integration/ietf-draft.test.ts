import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { head } from '../support/tus-http.js';
import { send } from '../support/draft-http.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest();
const sfBinary = (digest: Buffer) => `:${digest.toString('base64')}:`;

/**
 * Issue #17: "Resumable Uploads for HTTP" (draft-ietf-httpbis-resumable-upload) on the tus
 * endpoint, written from the draft's examples per interop version (the section is named in each
 * test). The same uploads are then ordinary tus uploads (HEAD with Tus-Resumable, GET).
 */
describe('IETF resumable uploads beside tus 1.0', () => {
  let server: RunningTessera;
  beforeAll(async () => {
    server = await startTessera({ maxSize: 1024 * 1024 * 1024, uploadExpiryMs: 24 * 3600 * 1000 });
  });
  afterAll(() => server.stop());

  it('8 (-09 §Upload Creation, §Status Code 104): a complete creation gets 104 with its Location before the body, and is then an ordinary verified upload', async () => {
    const data = randomBytes(100_000);
    const res = await send(server.endpoint, 'POST', {
      'Upload-Draft-Interop-Version': '8',
      'Upload-Complete': '?1',
      'Content-Type': 'text/plain',
      'Content-Disposition': 'attachment; filename="notes.txt"',
      'Repr-Digest': `sha-256=${sfBinary(sha256(data))}`,
    }, data);
    expect(res.interim).toHaveLength(1);
    expect(res.interim[0]?.status).toBe(104);
    const location = res.interim[0]?.headers.location ?? '';
    expect(location).toMatch(/\/files\/[0-9a-f]{32}$/);
    expect(res.interim[0]?.headers['upload-draft-interop-version']).toBe('8');
    expect(res.interim[0]?.headers['upload-limit']).toBe('max-size=1073741824, max-age=86400');
    expect(res.status).toBe(201);
    expect(res.headers.location).toBe(location);
    expect(res.headers['upload-complete']).toBe('?1');
    // The completing answer carries the digest the server verified (RFC 9530), as HEAD does.
    expect(res.headers['repr-digest']).toBe(`sha-256=${sfBinary(sha256(data))}`);
    const url = new URL(location, server.endpoint).href;
    // RFC 9530 (-05 §Representation Digests): the digest the server verified, on request.
    const offset = await send(url, 'HEAD', { 'Upload-Draft-Interop-Version': '8', 'Want-Repr-Digest': 'sha-256=10' });
    expect([offset.status, offset.headers['upload-complete'], offset.headers['repr-digest']]).toEqual([204, '?1', `sha-256=${sfBinary(sha256(data))}`]);
    const tus = await head(url);
    expect(tus.headers.get('tessera-upload-status')).toBe('done');
    expect(tus.headers.get('tessera-sha256')).toBe(sha256(data).toString('hex'));
    const got = await fetch(url);
    expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
    expect(got.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(got.headers.get('content-disposition')).toContain('notes.txt');
  });

  it('7 (-06 §Upload Creation, §Offset Retrieval, §Upload Append): created incomplete, resumed from HEAD\'s offset, completed by an append of application/partial-upload', async () => {
    const data = randomBytes(50_000);
    const created = await send(server.endpoint, 'POST', { 'Upload-Draft-Interop-Version': '7', 'Upload-Complete': '?0' }, data.subarray(0, 20_000));
    expect(created.status).toBe(201);
    expect(created.headers['upload-complete']).toBe('?0');
    expect(created.headers['upload-offset']).toBe('20000');
    expect(created.interim.map((i) => i.status)).toEqual([104]);
    const url = new URL(created.headers.location ?? '', server.endpoint).href;

    const offset = await send(url, 'HEAD', { 'Upload-Draft-Interop-Version': '7' });
    expect(offset.status).toBe(204);
    expect(offset.headers['upload-offset']).toBe('20000');
    expect(offset.headers['upload-complete']).toBe('?0');
    expect(offset.headers['cache-control']).toBe('no-store');
    expect(offset.headers['upload-length']).toBeUndefined();

    const middle = await send(url, 'PATCH', { 'Upload-Draft-Interop-Version': '7', 'Upload-Offset': '20000', 'Upload-Complete': '?0', 'Content-Type': 'application/partial-upload' }, data.subarray(20_000, 30_000));
    expect(middle.status).toBe(204);
    expect(middle.headers['upload-complete']).toBe('?0');
    const last = await send(url, 'PATCH', { 'Upload-Draft-Interop-Version': '7', 'Upload-Offset': '30000', 'Upload-Complete': '?1', 'Content-Type': 'application/partial-upload' }, data.subarray(30_000));
    expect(last.status).toBe(204);
    expect(last.headers['upload-complete']).toBe('?1');
    const done = await send(url, 'HEAD', { 'Upload-Draft-Interop-Version': '7' });
    expect([done.headers['upload-offset'], done.headers['upload-complete'], done.headers['upload-length']]).toEqual(['50000', '?1', '50000']);
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(data)).toBe(true);
  });

  it('6 and on (-04 §Problem Types): a mismatching offset is 409 with the offset and the problem; an append of another media type is 415; nothing changes', async () => {
    const created = await send(server.endpoint, 'POST', { 'Upload-Draft-Interop-Version': '6', 'Upload-Complete': '?0' }, Buffer.from('hello'));
    const url = new URL(created.headers.location ?? '', server.endpoint).href;
    const wrong = await send(url, 'PATCH', { 'Upload-Draft-Interop-Version': '6', 'Upload-Offset': '3', 'Upload-Complete': '?0', 'Content-Type': 'application/partial-upload' }, Buffer.from('xx'));
    expect(wrong.status).toBe(409);
    expect(wrong.headers['content-type']).toBe('application/problem+json');
    expect(wrong.headers['upload-offset']).toBe('5');
    expect(JSON.parse(wrong.body)).toEqual({ type: 'https://iana.org/assignments/http-problem-types#mismatching-upload-offset', title: 'offset from request does not match offset of resource', 'expected-offset': 5, 'provided-offset': 3 });
    const untyped = await send(url, 'PATCH', { 'Upload-Draft-Interop-Version': '6', 'Upload-Offset': '5', 'Upload-Complete': '?0', 'Content-Type': 'application/offset+octet-stream' }, Buffer.from('xx'));
    expect(untyped.status).toBe(415);
    expect((await send(url, 'HEAD', { 'Upload-Draft-Interop-Version': '6' })).headers['upload-offset']).toBe('5');
    // 6 still answers an append with 201 and its offset (-04 §Upload Append).
    const appended = await send(url, 'PATCH', { 'Upload-Draft-Interop-Version': '6', 'Upload-Offset': '5', 'Upload-Complete': '?1', 'Content-Type': 'application/partial-upload' }, Buffer.from(' world'));
    expect([appended.status, appended.headers['upload-offset'], appended.headers['upload-complete']]).toEqual([201, '11', '?1']);
  });

  it('7, 8 (-06 §Upload Append): an empty append that completes an upload the server already holds whole is answered as complete; one with content changes nothing (400, inconsistent length)', async () => {
    const created = await send(server.endpoint, 'POST', { 'Upload-Draft-Interop-Version': '8', 'Upload-Complete': '?1' }, Buffer.from('whole'));
    const url = new URL(created.headers.location ?? '', server.endpoint).href;
    const empty = await send(url, 'PATCH', { 'Upload-Draft-Interop-Version': '8', 'Upload-Offset': '5', 'Upload-Complete': '?1', 'Content-Type': 'application/partial-upload' }, Buffer.alloc(0));
    expect([empty.status, empty.headers['upload-complete']]).toEqual([204, '?1']);
    const more = await send(url, 'PATCH', { 'Upload-Draft-Interop-Version': '8', 'Upload-Offset': '5', 'Upload-Complete': '?1', 'Content-Type': 'application/partial-upload' }, Buffer.from('more'));
    expect(more.status).toBe(400);
    expect(more.headers['upload-complete']).toBe('?0');
    expect(JSON.parse(more.body).type).toBe('https://iana.org/assignments/http-problem-types#inconsistent-upload-length');
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).toString()).toBe('whole');
  });

  it('tus too: the PATCH that completes a file answers with its outcome, as HEAD tells it (Tessera-Upload-Status, Tessera-Sha256)', async () => {
    const data = randomBytes(1000);
    const created = await fetch(server.endpoint, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '1000', 'Upload-Metadata': `sha256 ${Buffer.from(sha256(data).toString('hex')).toString('base64')}` } });
    const url = new URL(created.headers.get('location') ?? '', server.endpoint).href;
    const res = await fetch(url, { method: 'PATCH', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, body: data });
    expect([res.status, res.headers.get('tessera-upload-status'), res.headers.get('tessera-sha256')]).toEqual([204, 'done', sha256(data).toString('hex')]);
  });

  it('3 (-01 §Upload Appending Procedure): Upload-Incomplete, appends answered 201 with the offset', async () => {
    const created = await send(server.endpoint, 'POST', { 'Upload-Draft-Interop-Version': '3', 'Upload-Incomplete': '?1' }, Buffer.from('abc'));
    expect([created.status, created.headers['upload-incomplete'], created.headers['upload-offset']]).toEqual([201, '?1', '3']);
    expect(created.interim[0]?.headers['upload-draft-interop-version']).toBe('3');
    const url = new URL(created.headers.location ?? '', server.endpoint).href;
    const last = await send(url, 'PATCH', { 'Upload-Draft-Interop-Version': '3', 'Upload-Offset': '3' }, Buffer.from('def'));
    expect([last.status, last.headers['upload-incomplete'], last.headers['upload-offset']]).toEqual([201, '?0', '6']);
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).toString()).toBe('abcdef');
  });

  it('OPTIONS (-05 on) announces the limits, min-size=0 included, and Accept-Patch; DELETE cancels (-06: 204); an unknown version is 400', async () => {
    const options = await send(server.endpoint, 'OPTIONS', { 'Upload-Draft-Interop-Version': '8' });
    expect(options.status).toBe(204);
    expect(options.headers['upload-limit']).toBe('max-size=1073741824, min-size=0, max-age=86400');
    expect(options.headers['accept-patch']).toBe('application/partial-upload');
    const created = await send(server.endpoint, 'POST', { 'Upload-Draft-Interop-Version': '8', 'Upload-Complete': '?0' }, Buffer.from('x'));
    const url = new URL(created.headers.location ?? '', server.endpoint).href;
    expect((await send(url, 'DELETE', { 'Upload-Draft-Interop-Version': '8' })).status).toBe(204);
    expect((await send(url, 'HEAD', { 'Upload-Draft-Interop-Version': '8' })).status).toBe(404);
    expect((await send(server.endpoint, 'POST', { 'Upload-Draft-Interop-Version': '9', 'Upload-Complete': '?1' }, Buffer.from('x'))).status).toBe(400);
  });

  it('digests (-04 §Integrity Digests): a Repr-Digest the file does not have fails it visibly; a Content-Digest its content does not have keeps nothing of it', async () => {
    const data = Buffer.from('the real content');
    const failed = await send(server.endpoint, 'POST', { 'Upload-Draft-Interop-Version': '8', 'Upload-Complete': '?0', 'Repr-Digest': `sha-256=${sfBinary(sha256(Buffer.from('other')))}` }, data.subarray(0, 4));
    const url = new URL(failed.headers.location ?? '', server.endpoint).href;
    const last = await send(url, 'PATCH', { 'Upload-Draft-Interop-Version': '8', 'Upload-Offset': '4', 'Upload-Complete': '?1', 'Content-Type': 'application/partial-upload' }, data.subarray(4));
    expect(last.status).toBe(460);
    expect((await head(url)).headers.get('tessera-upload-status')).toBe('failed');

    const checked = await send(server.endpoint, 'POST', { 'Upload-Draft-Interop-Version': '8', 'Upload-Complete': '?0' }, Buffer.from('abc'));
    const checkedUrl = new URL(checked.headers.location ?? '', server.endpoint).href;
    const damaged = await send(checkedUrl, 'PATCH', { 'Upload-Draft-Interop-Version': '8', 'Upload-Offset': '3', 'Upload-Complete': '?0', 'Content-Type': 'application/partial-upload', 'Content-Digest': `sha-256=${sfBinary(sha256(Buffer.from('def')))}` }, Buffer.from('deX'));
    expect(damaged.status).toBe(460);
    expect((await send(checkedUrl, 'HEAD', { 'Upload-Draft-Interop-Version': '8' })).headers['upload-offset']).toBe('3');
    const good = await send(checkedUrl, 'PATCH', { 'Upload-Draft-Interop-Version': '8', 'Upload-Offset': '3', 'Upload-Complete': '?1', 'Content-Type': 'application/partial-upload', 'Content-Digest': `sha-256=${sfBinary(sha256(Buffer.from('def')))}` }, Buffer.from('def'));
    expect(good.status).toBe(204);
    expect(Buffer.from(await (await fetch(checkedUrl)).arrayBuffer()).toString()).toBe('abcdef');
  });
});

describe('IETF resumable uploads from tus-js-client (Node)', () => {
  let server: RunningTessera;
  const patchOffsets: number[] = [];
  beforeAll(async () => {
    server = await startTessera({}, {
      hooks: {
        onIncomingRequest: async (req) => {
          if (req.method === 'PATCH') patchOffsets.push(Number(req.headers.get('upload-offset')));
        },
      },
    });
  });
  afterAll(() => server.stop());

  it.each([
    ['ietf-draft-03', 5],
    ['ietf-draft-05', 6],
  ] as const)("protocol '%s' (interop %i): an upload interrupted after its first chunks resumes from the server's offset and ends byte-identical", async (protocol, _version) => {
    const tus = await import('tus-js-client');
    const data = randomBytes(600 * 1024);
    patchOffsets.length = 0;
    const chunkSize = 100 * 1024;
    // The first run stops itself once two chunks are stored.
    const firstUrl = await new Promise<string>((resolve, reject) => {
      // tus-js-client 4's types do not name `protocol` yet; its code does (lib/upload.js, openRequest).
      const upload = new tus.Upload(data, {
        endpoint: server.endpoint,
        ...({ protocol } as object),
        chunkSize,
        retryDelays: [],
        metadata: { filename: 'draft.bin' },
        onChunkComplete: (_size, accepted) => {
          if (accepted >= 2 * chunkSize) void upload.abort().then(() => resolve(upload.url ?? ''));
        },
        onError: reject,
        onSuccess: () => reject(new Error('finished before it was interrupted')),
      });
      upload.start();
    });
    expect(firstUrl).toMatch(/\/files\/[0-9a-f]{32}$/);
    const stored = patchOffsets.length;
    const url = await new Promise<string>((resolve, reject) => {
      const upload = new tus.Upload(data, { endpoint: server.endpoint, uploadUrl: firstUrl, ...({ protocol } as object), chunkSize, retryDelays: [], onError: reject, onSuccess: () => resolve(upload.url ?? '') });
      upload.start();
    });
    expect(url).toBe(firstUrl);
    // Resumed where the server was: no chunk sent twice, none skipped.
    expect(patchOffsets.slice(stored)[0]).toBe(2 * chunkSize);
    expect(patchOffsets).toEqual([...new Set(patchOffsets)]);
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(data)).toBe(true);
    const status = await head(url);
    expect(status.headers.get('tessera-upload-status')).toBe('done');
    expect(status.headers.get('upload-metadata')).toContain(`filename ${Buffer.from('draft.bin').toString('base64')}`);
  });
});
