import { createHash } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { absolute, RawConnection, send } from '../support/draft-http.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';

const sfBinary = (text: string) => `:${createHash('sha256').update(text).digest('base64')}:`;
const append = (version: string, offset: number, complete: boolean) => ({
  'Upload-Draft-Interop-Version': version,
  'Upload-Offset': String(offset),
  'Upload-Complete': complete ? '?1' : '?0',
  'Content-Type': 'application/partial-upload',
});

/**
 * Issue #17, found by an adversarial pass over the IETF draft adapter; each was a failing test
 * first. The draft's sections are named per test (the versions' texts differ).
 */
describe('IETF resumable uploads at their edges', () => {
  let server: RunningTessera;
  beforeAll(async () => {
    server = await startTessera();
  });
  afterAll(() => server.stop());
  const create = async (version: string, fields: Record<string, string> = {}, body = Buffer.from('abc')) =>
    absolute(server.endpoint, (await send(server.endpoint, 'POST', { 'Upload-Draft-Interop-Version': version, 'Upload-Complete': '?0', ...fields }, body)).headers.location);

  it.each(['4', '6', '7', '8'])('%s: the append that completes an upload of a known length is answered complete (-06 §Upload Append: Upload-Complete true)', async (v) => {
    const url = await create(v, { 'Upload-Length': '6' });
    const last = await send(url, 'PATCH', append(v, 3, true), Buffer.from('def'));
    expect(last.status).toBeLessThan(300);
    expect(last.headers['upload-complete']).toBe('?1');
  });

  it.each(['7', '8'])('%s (-06 §Upload Append): the explicit empty final append after the content reached the known length completes it (204, true)', async (v) => {
    const url = await create(v, { 'Upload-Length': '6' }, Buffer.alloc(0));
    const body = await send(url, 'PATCH', append(v, 0, false), Buffer.from('abcdef'));
    expect(body.status).toBe(204);
    const last = await send(url, 'PATCH', append(v, 6, true), Buffer.alloc(0));
    expect([last.status, last.headers['upload-complete']]).toEqual([204, '?1']);
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).toString()).toBe('abcdef');
  });

  it('a request that completes an upload of unknown length sent chunked is refused (411), nothing created or appended', async () => {
    const created = await send(server.endpoint, 'POST', { 'Upload-Draft-Interop-Version': '8', 'Upload-Complete': '?1' }, [Buffer.from('hello '), Buffer.from('world')]);
    expect([created.status, created.headers.location, created.interim]).toEqual([411, undefined, []]);
    const v3 = await send(server.endpoint, 'POST', { 'Upload-Draft-Interop-Version': '3' }, [Buffer.from('abc')]);
    expect(v3.status).toBe(411);
    const url = await create('7');
    const chunked = await send(url, 'PATCH', append('7', 3, true), [Buffer.from('de')]);
    expect(chunked.status).toBe(411);
    expect((await send(url, 'HEAD', { 'Upload-Draft-Interop-Version': '7' })).headers['upload-offset']).toBe('3');
  });

  it("the adapter's own field is never taken from a client: a tus PATCH naming Tessera-Draft-Ends-At declares no length", async () => {
    const created = await fetch(server.endpoint, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Defer-Length': '1' } });
    const url = absolute(server.endpoint, created.headers.get('location') ?? '');
    const res = await fetch(url, { method: 'PATCH', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Tessera-Draft-Ends-At': '3' }, body: 'abc' });
    expect(res.status).toBe(204);
    const status = await fetch(url, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
    expect([status.headers.get('upload-offset'), status.headers.get('upload-defer-length'), status.headers.get('upload-length')]).toEqual(['3', '1', null]);
  });

  it('no 104 to an HTTP/1.0 client (RFC 9110 §15.2)', async () => {
    const connection = new RawConnection(server.baseUrl);
    connection.write('POST /files HTTP/1.0\r\nHost: x\r\nUpload-Draft-Interop-Version: 8\r\nUpload-Complete: ?1\r\nContent-Length: 3\r\n\r\nabc');
    const text = await connection.until((t) => t.includes('\r\n\r\n') && !t.startsWith('HTTP/1.1 104'));
    connection.close();
    expect(text).not.toContain('104 Upload Resumption Supported');
    expect(text).toMatch(/^HTTP\/1\.1 201 Created/);
  });

  it('every answer to an append that did not complete the upload says so, errors too, without tus fields; a 460 keeps its reason phrase', async () => {
    const url = await create('7');
    const bad = await send(url, 'PATCH', { ...append('7', 3, false), 'Content-Digest': `sha-256=${sfBinary('def')}` }, Buffer.from('deX'));
    expect([bad.status, bad.headers['upload-complete'], bad.headers['tus-resumable']]).toEqual([460, '?0', undefined]);
    const connection = new RawConnection(server.baseUrl);
    connection.write(`PATCH ${new URL(url).pathname} HTTP/1.1\r\nHost: x\r\nUpload-Draft-Interop-Version: 8\r\nUpload-Offset: 3\r\nUpload-Complete: ?0\r\nContent-Type: application/partial-upload\r\nContent-Digest: sha-256=${sfBinary('x')}\r\nContent-Length: 1\r\nConnection: close\r\n\r\ny`);
    const text = await connection.until((t) => t.includes('\r\n\r\n'));
    connection.close();
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 460 Checksum Mismatch');
  });

  it('4 (-02 §Offset Retrieval, §Upload Cancellation): a HEAD or DELETE carrying Upload-Offset or Upload-Complete is 400, nothing removed', async () => {
    const url = await create('4');
    expect((await send(url, 'HEAD', { 'Upload-Draft-Interop-Version': '4', 'Upload-Offset': '3' })).status).toBe(400);
    expect((await send(url, 'DELETE', { 'Upload-Draft-Interop-Version': '4', 'Upload-Complete': '?1' })).status).toBe(400);
    expect((await send(url, 'HEAD', { 'Upload-Draft-Interop-Version': '4' })).status).toBe(204);
  });

  it('an append sent as POST with X-HTTP-Method-Override: PATCH (tus-js-client overridePatchMethod) is an append', async () => {
    const url = await create('6');
    const res = await send(url, 'POST', { ...append('6', 3, true), 'X-HTTP-Method-Override': 'PATCH' }, Buffer.from('def'));
    expect([res.status, res.headers['upload-offset'], res.headers['upload-complete']]).toEqual([201, '6', '?1']);
  });

  it('an upload whose Repr-Digest failed is not offered a resume from 0: appends keep getting its failure (460)', async () => {
    const url = await create('8', { 'Repr-Digest': `sha-256=${sfBinary('not this')}` });
    expect((await send(url, 'PATCH', append('8', 3, true), Buffer.from('def'))).status).toBe(460);
    expect((await send(url, 'PATCH', append('8', 6, true), Buffer.alloc(0))).status).toBe(460);
    expect((await send(url, 'PATCH', append('8', 0, true), Buffer.from('abcdef'))).status).toBe(460);
  });
});

describe('IETF resumable uploads: the tus path decides, for every caller', () => {
  const secret = 'a-test-secret-that-is-at-least-32-characters-long';
  const token = async (sub: string) => `Bearer ${await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('5m').sign(new TextEncoder().encode(secret))}`;
  let server: RunningTessera;
  const seen: number[] = [];
  let hold: (() => void) | undefined;
  let held: Promise<void> | undefined;
  beforeAll(async () => {
    server = await startTessera({ auth: { jwtSecret: secret }, rateLimitPerMinute: 12 }, {
      hooks: {
        onIncomingRequest: async (req) => {
          seen.push(Number(req.headers.get('upload-offset')));
          // The first append of the race test waits here, before the upload's lock.
          if (req.headers.get('x-test') === 'hold' && held) await held;
        },
      },
    });
  });
  afterAll(() => server.stop());

  it('without credentials or as another owner, an append learns nothing of an upload (401 / 404, no Upload-Offset); draft requests count in the rate limit', async () => {
    const alice = await token('alice');
    const created = await send(server.endpoint, 'POST', { Authorization: alice, 'Upload-Draft-Interop-Version': '8', 'Upload-Complete': '?0' }, Buffer.from('secret-bytes'));
    expect(created.status).toBe(201);
    const url = absolute(server.endpoint, created.headers.location);
    const anonymous = await send(url, 'PATCH', append('8', 0, false), Buffer.from('x'));
    expect([anonymous.status, anonymous.headers['upload-offset']]).toEqual([401, undefined]);
    const bob = await send(url, 'PATCH', { ...append('8', 0, false), Authorization: await token('bob') }, Buffer.from('x'));
    expect([bob.status, bob.headers['upload-offset']]).toEqual([404, undefined]);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i += 1) statuses.push((await send(url, 'PATCH', { ...append('8', 0, false), Authorization: alice }, Buffer.from('x'))).status);
    expect(statuses).toContain(429);
  });

  it('8 (-09 §Concurrency): of two appends at one offset, the one that loses under the lock gets 409 with the offset, Upload-Complete false and the problem', async () => {
    const carol = await token('carol');
    const created = await send(server.endpoint, 'POST', { Authorization: carol, 'Upload-Draft-Interop-Version': '8', 'Upload-Complete': '?0' }, Buffer.from('abc'));
    const url = absolute(server.endpoint, created.headers.location);
    let release!: () => void;
    held = new Promise<void>((resolve) => (release = resolve));
    let reached!: () => void;
    const arrived = new Promise<void>((resolve) => (reached = resolve));
    hold = reached;
    seen.length = 0;
    const first = send(url, 'PATCH', { ...append('8', 3, false), Authorization: carol, 'X-Test': 'hold' }, Buffer.from('def'));
    await expect.poll(() => seen.length).toBe(1);
    hold();
    await arrived;
    expect((await send(url, 'PATCH', { ...append('8', 3, false), Authorization: carol }, Buffer.from('DEF'))).status).toBe(204);
    release();
    const loser = await first;
    expect(loser.status).toBe(409);
    expect([loser.headers['upload-offset'], loser.headers['upload-complete'], loser.headers['content-type']]).toEqual(['6', '?0', 'application/problem+json']);
    expect(JSON.parse(loser.body)).toMatchObject({ 'expected-offset': 6, 'provided-offset': 3 });
  });
});
