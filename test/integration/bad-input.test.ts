import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, type RawAnswer } from '../support/fault-http.js';
import { snapshotDir } from '../support/fault-snapshot.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, encodeMetadata } from '../support/tus-http.js';

/**
 * A catalogue of malformed and hostile requests against every tus endpoint. Each row
 * states the exact status (and, where it matters, the message) and the test checks that
 * nothing stored — upload bytes, upload info, upload state — changed because of it.
 */

type Header = readonly [string, string];
const MiB = 1024 * 1024;
const HOUR = 60 * 60 * 1000;
const TUS: Header = ['Tus-Resumable', '1.0.0'];
const ALICE: Header = ['X-User', 'alice'];
const BOB: Header = ['X-User', 'bob'];
const OCTETS: Header = ['Content-Type', 'application/offset+octet-stream'];
const b64 = (text: string) => Buffer.from(text).toString('base64');

/** Ids of the uploads the rows aim at, all made by alice unless named otherwise. */
interface Fixtures {
  /** 100 bytes long, 10 received. */
  readonly single: string;
  readonly complete: string;
  readonly partial: string;
  readonly unfinishedPartial: string;
  readonly final: string;
  readonly bobsPartial: string;
  /** An unfinished partial past its expiry, not yet swept. */
  readonly expired: string;
}

interface Row {
  readonly name: string;
  readonly method: string;
  readonly path: string | ((f: Fixtures) => string);
  readonly headers?: readonly Header[] | ((f: Fixtures) => readonly Header[]);
  readonly body?: string;
  readonly status: number;
  readonly message?: RegExp;
}

const up = (id: string) => `/files/${id}`;
const concat = (value: string | ((f: Fixtures) => string)): ((f: Fixtures) => readonly Header[]) => (f) => [
  TUS,
  ALICE,
  ['Upload-Concat', typeof value === 'string' ? value : value(f)],
];
const patchHeaders = (offset: string, extra: readonly Header[] = []): readonly Header[] => [
  TUS,
  ALICE,
  OCTETS,
  ['Upload-Offset', offset],
  ...extra,
];

const creation: Row[] = [
  { name: 'no Tus-Resumable', method: 'POST', path: '/files', headers: [ALICE, ['Upload-Length', '10']], status: 412 },
  { name: 'unsupported Tus-Resumable', method: 'POST', path: '/files', headers: [['Tus-Resumable', '0.2.2'], ALICE, ['Upload-Length', '10']], status: 412 },
  { name: 'Tus-Resumable sent twice', method: 'POST', path: '/files', headers: [TUS, TUS, ALICE, ['Upload-Length', '10']], status: 412 },
  { name: 'no credentials', method: 'POST', path: '/files', headers: [TUS, ['Upload-Length', '10']], status: 401 },
  { name: 'negative Upload-Length', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '-1']], status: 400 },
  { name: 'non-numeric Upload-Length', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', 'abc']], status: 400 },
  { name: 'exponent Upload-Length', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '1e3']], status: 400 },
  { name: 'fractional Upload-Length', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '10.5']], status: 400 },
  { name: 'hexadecimal Upload-Length', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '0x10']], status: 400 },
  { name: 'Upload-Length beyond 2^53', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '99999999999999999999']], status: 400 },
  { name: 'Upload-Length sent twice', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '5'], ['Upload-Length', '6']], status: 400 },
  { name: 'Upload-Length above MAX_SIZE', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', String(2 * MiB)]], status: 413 },
  { name: 'both Upload-Length and Upload-Defer-Length', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '5'], ['Upload-Defer-Length', '1']], status: 400 },
  { name: 'neither Upload-Length nor Upload-Defer-Length', method: 'POST', path: '/files', headers: [TUS, ALICE], status: 400 },
  { name: 'Upload-Defer-Length other than 1', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Defer-Length', '2']], status: 400 },
  { name: 'body longer than Upload-Length (creation-with-upload)', method: 'POST', path: '/files', headers: [TUS, ALICE, OCTETS, ['Upload-Length', '5']], body: 'x'.repeat(10), status: 413 },
  { name: 'metadata value not base64', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '5'], ['Upload-Metadata', 'name !!!']], status: 400 },
  { name: 'metadata key repeated', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '5'], ['Upload-Metadata', `a ${b64('1')},a ${b64('2')}`]], status: 400 },
  { name: 'metadata with an empty key', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '5'], ['Upload-Metadata', `a ${b64('1')}, ${b64('x')}`]], status: 400 },
  { name: 'metadata larger than MAX_METADATA_SIZE', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '5'], ['Upload-Metadata', encodeMetadata({ note: 'x'.repeat(5000) })]], status: 400, message: /Upload-Metadata is larger than 4096 bytes/ },
  { name: 'metadata sha256 that is no SHA-256', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '5'], ['Upload-Metadata', `sha256 ${b64('nope')}`]], status: 400, message: /sha256 must be the SHA-256/ },
  { name: 'a 20 KB header', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '5'], ['X-Junk', 'y'.repeat(20_000)]], status: 431 },
  { name: 'a NUL byte in a header value', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '5\0']], status: 400 },
  { name: 'a header name with a space', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload Length', '5']], status: 400 },
  { name: 'Content-Length and Transfer-Encoding together (smuggling)', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Length', '5'], ['Content-Length', '3'], ['Transfer-Encoding', 'chunked']], body: '0\r\n\r\n', status: 400 },
];

const concatenation: Row[] = [
  { name: 'Upload-Concat neither partial nor final', method: 'POST', path: '/files', headers: concat('bogus'), status: 400 },
  { name: 'Upload-Concat final listing nothing', method: 'POST', path: '/files', headers: concat('final;'), status: 400 },
  { name: 'final pointing at another host', method: 'POST', path: '/files', headers: concat((f) => `final;http://evil.example${up(f.partial)}`), status: 400, message: /another server/ },
  { name: 'final pointing at the endpoint itself', method: 'POST', path: '/files', headers: concat('final;/files'), status: 400, message: /not an upload of this server/ },
  { name: 'final pointing at the endpoint with a slash', method: 'POST', path: '/files', headers: concat('final;/files/'), status: 400 },
  { name: 'final pointing outside the tus path', method: 'POST', path: '/files', headers: concat((f) => `final;/other/${f.partial}`), status: 400 },
  { name: 'final pointing at a URL with a query', method: 'POST', path: '/files', headers: concat((f) => `final;${up(f.partial)}?x=1`), status: 400 },
  { name: 'final pointing through an encoded slash', method: 'POST', path: '/files', headers: concat((f) => `final;/files/..%2f${f.partial}`), status: 400 },
  { name: 'final pointing at a final', method: 'POST', path: '/files', headers: concat((f) => `final;${up(f.final)}`), status: 400, message: /not a partial upload/ },
  { name: 'final pointing at an ordinary upload', method: 'POST', path: '/files', headers: concat((f) => `final;${up(f.complete)}`), status: 400, message: /not a partial upload/ },
  { name: "final pointing at someone else's partial", method: 'POST', path: '/files', headers: concat((f) => `final;${up(f.partial)} ${up(f.bobsPartial)}`), status: 403, message: /belongs to someone else/ },
  { name: 'final pointing at an expired partial', method: 'POST', path: '/files', headers: concat((f) => `final;${up(f.expired)}`), status: 410 },
  { name: 'final pointing at an unknown upload', method: 'POST', path: '/files', headers: concat('final;/files/0123456789abcdef0123456789abcdef'), status: 404 },
  { name: 'final with more partials than MAX_PARTIALS', method: 'POST', path: '/files', headers: concat((f) => `final;${Array(5).fill(up(f.partial)).join(' ')}`), status: 400, message: /more than 4 partial/ },
  { name: 'final carrying Upload-Length', method: 'POST', path: '/files', headers: (f) => [...concat(`final;${up(f.partial)}`)(f), ['Upload-Length', '10']], status: 400 },
  { name: 'partial above MAX_SIZE', method: 'POST', path: '/files', headers: [TUS, ALICE, ['Upload-Concat', 'partial'], ['Upload-Length', String(2 * MiB)]], status: 413 },
];

const patching: Row[] = [
  { name: 'negative Upload-Offset', method: 'PATCH', path: (f) => up(f.single), headers: patchHeaders('-1'), body: 'x', status: 400 },
  { name: 'non-numeric Upload-Offset', method: 'PATCH', path: (f) => up(f.single), headers: patchHeaders('abc'), body: 'x', status: 400 },
  { name: 'fractional Upload-Offset', method: 'PATCH', path: (f) => up(f.single), headers: patchHeaders('10.5'), body: 'x', status: 400 },
  { name: 'hexadecimal Upload-Offset', method: 'PATCH', path: (f) => up(f.single), headers: patchHeaders('0xa'), body: 'x', status: 400 },
  { name: 'no Upload-Offset', method: 'PATCH', path: (f) => up(f.single), headers: [TUS, ALICE, OCTETS], body: 'x', status: 400 },
  { name: 'Upload-Offset behind the upload', method: 'PATCH', path: (f) => up(f.single), headers: patchHeaders('0'), body: 'x', status: 409 },
  { name: 'Upload-Offset ahead of the upload', method: 'PATCH', path: (f) => up(f.single), headers: patchHeaders('11'), body: 'x', status: 409 },
  { name: 'wrong Content-Type', method: 'PATCH', path: (f) => up(f.single), headers: [TUS, ALICE, ['Content-Type', 'text/plain'], ['Upload-Offset', '10']], body: 'x', status: 415 },
  { name: 'no Content-Type', method: 'PATCH', path: (f) => up(f.single), headers: [TUS, ALICE, ['Upload-Offset', '10']], body: 'x', status: 415 },
  { name: 'body beyond Upload-Length', method: 'PATCH', path: (f) => up(f.single), headers: patchHeaders('10'), body: 'x'.repeat(91), status: 413 },
  { name: 'a byte past the end of a complete upload', method: 'PATCH', path: (f) => up(f.complete), headers: patchHeaders('4'), body: 'x', status: 413 },
  { name: 'Upload-Length on an upload whose length is known', method: 'PATCH', path: (f) => up(f.single), headers: patchHeaders('10', [['Upload-Length', '100']]), body: 'x', status: 400 },
  { name: 'unsupported checksum algorithm', method: 'PATCH', path: (f) => up(f.single), headers: patchHeaders('10', [['Upload-Checksum', `md4 ${b64('x')}`]]), body: 'x', status: 400, message: /Unsupported checksum algorithm/ },
  { name: 'checksum that is not base64', method: 'PATCH', path: (f) => up(f.single), headers: patchHeaders('10', [['Upload-Checksum', 'sha1 !!!']]), body: 'x', status: 400, message: /Malformed Upload-Checksum/ },
  { name: 'checksum that does not match', method: 'PATCH', path: (f) => up(f.single), headers: patchHeaders('10', [['Upload-Checksum', `sha1 ${createHash('sha1').update('y').digest('base64')}`]]), body: 'x', status: 460 },
  { name: 'a final upload', method: 'PATCH', path: (f) => up(f.final), headers: patchHeaders('0'), body: 'x', status: 403 },
  { name: "someone else's upload", method: 'PATCH', path: (f) => up(f.bobsPartial), headers: patchHeaders('0'), body: 'x', status: 404 },
  { name: 'an expired upload', method: 'PATCH', path: (f) => up(f.expired), headers: patchHeaders('0'), body: 'x', status: 410 },
  { name: 'an unknown upload', method: 'PATCH', path: '/files/0123456789abcdef0123456789abcdef', headers: patchHeaders('0'), body: 'x', status: 404 },
  { name: 'no credentials', method: 'PATCH', path: (f) => up(f.single), headers: [TUS, OCTETS, ['Upload-Offset', '10']], body: 'x', status: 401 },
];

const otherMethods: Row[] = [
  { name: "HEAD someone else's upload", method: 'HEAD', path: (f) => up(f.bobsPartial), headers: [TUS, ALICE], status: 404 },
  { name: 'HEAD an expired upload', method: 'HEAD', path: (f) => up(f.expired), headers: [TUS, ALICE], status: 410 },
  { name: 'HEAD an unknown upload', method: 'HEAD', path: '/files/0123456789abcdef0123456789abcdef', headers: [TUS, ALICE], status: 404 },
  { name: 'HEAD without credentials', method: 'HEAD', path: (f) => up(f.single), headers: [TUS], status: 401 },
  { name: "DELETE someone else's upload", method: 'DELETE', path: (f) => up(f.bobsPartial), headers: [TUS, ALICE], status: 404 },
  { name: "DELETE someone else's upload via X-HTTP-Method-Override", method: 'POST', path: (f) => up(f.bobsPartial), headers: [TUS, ALICE, ['X-HTTP-Method-Override', 'DELETE']], status: 404 },
  { name: 'DELETE an unknown upload', method: 'DELETE', path: '/files/0123456789abcdef0123456789abcdef', headers: [TUS, ALICE], status: 404 },
  { name: 'DELETE without credentials', method: 'DELETE', path: (f) => up(f.single), headers: [TUS], status: 401 },
  { name: "GET someone else's upload", method: 'GET', path: (f) => up(f.bobsPartial), headers: [ALICE], status: 404 },
  { name: 'GET an unfinished upload', method: 'GET', path: (f) => up(f.single), headers: [ALICE], status: 404 },
  { name: 'PUT on the collection', method: 'PUT', path: '/files', headers: [TUS, ALICE], status: 405 },
  { name: 'PUT on an upload', method: 'PUT', path: (f) => up(f.single), headers: [TUS, ALICE], body: 'x', status: 405 },
  { name: 'TRACE', method: 'TRACE', path: '/files', headers: [TUS, ALICE], status: 405 },
  { name: 'PROPFIND', method: 'PROPFIND', path: '/files', headers: [TUS, ALICE], status: 405 },
  { name: 'HEAD on the collection', method: 'HEAD', path: '/files', headers: [TUS, ALICE], status: 404 },
  { name: 'PATCH on the collection', method: 'PATCH', path: '/files', headers: patchHeaders('0'), body: 'x', status: 404 },
  { name: 'DELETE on the collection', method: 'DELETE', path: '/files', headers: [TUS, ALICE], status: 404 },
];

/** Names under the tus path that must never reach a file (run with and without authentication). */
const trickyIds: { readonly name: string; readonly path: (f: Fixtures) => string; readonly status?: number }[] = [
  { name: 'dot-dot', path: () => '/files/..' },
  { name: 'encoded dot-dot', path: () => '/files/%2e%2e' },
  { name: 'encoded traversal to /etc/passwd', path: () => '/files/..%2f..%2f..%2fetc%2fpasswd' },
  { name: 'encoded backslash traversal', path: () => '/files/..%5c..%5cetc' },
  { name: 'a hidden directory of the data dir', path: () => '/files/.tessera-state' },
  { name: 'a state file through an encoded slash', path: (f) => `/files/.tessera-state%2fupload-${f.single}.json` },
  { name: "another upload's info file", path: (f) => `/files/${f.single}.json` },
  { name: 'one upload through another', path: (f) => `/files/${f.partial}%2f..%2f${f.single}` },
  { name: 'a NUL byte', path: (f) => `/files/${f.single}%00` },
  { name: 'a space', path: () => '/files/a%20b' },
  { name: 'non-ASCII', path: () => '/files/%C3%A9t%C3%A9' },
  { name: 'a colon (Redis key separator)', path: () => '/files/info:x' },
  { name: 'a 300-character id', path: () => `/files/${'a'.repeat(300)}` },
  { name: 'a 12 000-character id', path: () => `/files/${'a'.repeat(12_000)}` },
  { name: 'a 20 000-character id (over the header limit)', path: () => `/files/${'a'.repeat(20_000)}`, status: 431 },
  { name: 'a broken percent-escape', path: () => '/files/%', status: 404 },
];

const idRequests = (method: string): readonly Header[] =>
  method === 'PATCH' ? patchHeaders('0') : method === 'GET' ? [ALICE] : [TUS, ALICE];

const ID_METHODS = ['HEAD', 'PATCH', 'DELETE', 'GET'] as const;

async function withServer(auth: boolean): Promise<{ server: RunningTessera; fixtures: Fixtures }> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-bad-input-'));
  const start = () =>
    startTessera(
      { dataDir, maxSize: MiB, maxPartials: 4, uploadExpiryMs: HOUR, expirySweepIntervalMs: HOUR },
      auth ? { authenticate: async (req) => { const owner = req.headers.get('x-user'); return owner ? { owner } : undefined; } } : {},
    );
  const server = await start();
  const as = (who: Header) => ({ [who[0]]: who[1] });
  const id = (url: string) => url.split('/').pop() as string;
  const make = async (who: Header, length: number, extra: Record<string, string> = {}, body?: Buffer) => {
    const { res, url } = await create(server.endpoint, { length, headers: { ...as(who), ...extra }, body });
    if (res.status !== 201) throw new Error(`fixture creation answered ${res.status}`);
    return url;
  };
  const single = await make(ALICE, 100, {}, Buffer.alloc(10, 1));
  const complete = await make(ALICE, 4, {}, Buffer.from('done'));
  const partial = await make(ALICE, 3, { 'Upload-Concat': 'partial' }, Buffer.from('abc'));
  const unfinishedPartial = await make(ALICE, 3, { 'Upload-Concat': 'partial' });
  const bobsPartial = await make(BOB, 3, { 'Upload-Concat': 'partial' }, Buffer.from('xyz'));
  const expired = await make(ALICE, 3, { 'Upload-Concat': 'partial' });
  const finalRes = await create(server.endpoint, { headers: { ...as(ALICE), 'Upload-Concat': `final;${up(id(partial))}` } });
  if (finalRes.res.status !== 201) throw new Error(`final fixture answered ${finalRes.res.status}`);
  // Expired without waiting: its creation date moved two hours back.
  const infoFile = path.join(server.dataDir, `${id(expired)}.json`);
  const info = JSON.parse(await fs.readFile(infoFile, 'utf8')) as { creation_date: string };
  info.creation_date = new Date(Date.now() - 2 * HOUR).toISOString();
  await fs.writeFile(infoFile, JSON.stringify(info));
  // The server reads an info file only when the upload's info is not in its memory: restart it.
  await server.stop();
  const restarted = await start();
  const fixtures: Fixtures = {
    single: id(single),
    complete: id(complete),
    partial: id(partial),
    unfinishedPartial: id(unfinishedPartial),
    final: id(finalRes.url),
    bobsPartial: id(bobsPartial),
    expired: id(expired),
  };
  const stop = async () => {
    await restarted.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  };
  return { server: { ...restarted, stop }, fixtures };
}

async function expectUnchanged(server: RunningTessera, send: () => Promise<RawAnswer>): Promise<RawAnswer> {
  const before = await snapshotDir(server.dataDir);
  const answer = await send();
  expect(await snapshotDir(server.dataDir)).toEqual(before);
  return answer;
}

describe('hostile requests with authentication on', () => {
  let server: RunningTessera;
  let fixtures: Fixtures;
  let port: number;
  beforeAll(async () => {
    ({ server, fixtures } = await withServer(true));
    port = Number(new URL(server.baseUrl).port);
  });
  afterAll(() => server.stop());

  const run = (row: Row) => async () => {
    const answer = await expectUnchanged(server, () =>
      rawRequest(port, {
        method: row.method,
        path: typeof row.path === 'function' ? row.path(fixtures) : row.path,
        headers: typeof row.headers === 'function' ? row.headers(fixtures) : row.headers,
        body: row.body,
      }),
    );
    expect(answer.status, answer.body).toBe(row.status);
    if (row.message) expect(answer.body).toMatch(row.message);
  };

  describe('creation', () => {
    for (const row of creation) it(`${row.name} → ${row.status}`, run(row));
  });
  describe('concatenation', () => {
    for (const row of concatenation) it(`${row.name} → ${row.status}`, run(row));
  });
  describe('PATCH', () => {
    for (const row of patching) it(`${row.name} → ${row.status}`, run(row));
  });
  describe('other methods', () => {
    for (const row of otherMethods) it(`${row.name} → ${row.status}`, run(row));
  });
  describe('ids that are no upload', () => {
    for (const trick of trickyIds) {
      it(`${trick.name} → ${trick.status ?? 404} for ${ID_METHODS.join(', ')}`, async () => {
        for (const method of ID_METHODS) {
          const answer = await expectUnchanged(server, () =>
            rawRequest(port, { method, path: trick.path(fixtures), headers: idRequests(method), body: method === 'PATCH' ? 'x' : undefined }),
          );
          expect(answer.status, `${method}: ${answer.body}`).toBe(trick.status ?? 404);
          // A 500 would echo internal paths; nothing here may mention the data dir.
          expect(answer.body).not.toContain(server.dataDir);
        }
      });
    }
  });
  it('leaves the fixtures themselves intact', async () => {
    const head = await rawRequest(port, { method: 'HEAD', path: up(fixtures.single), headers: [TUS, ALICE] });
    expect(head.status).toBe(200);
    expect(head.headers['upload-offset']).toBe('10');
  });
});

describe('hostile ids with authentication off (the embedded default)', () => {
  let server: RunningTessera;
  let fixtures: Fixtures;
  let port: number;
  beforeAll(async () => {
    ({ server, fixtures } = await withServer(false));
    port = Number(new URL(server.baseUrl).port);
  });
  afterAll(() => server.stop());

  for (const trick of trickyIds) {
    it(`${trick.name} → ${trick.status ?? 404} for ${ID_METHODS.join(', ')}`, async () => {
      for (const method of ID_METHODS) {
        const answer = await expectUnchanged(server, () =>
          rawRequest(port, { method, path: trick.path(fixtures), headers: idRequests(method), body: method === 'PATCH' ? 'x' : undefined }),
        );
        expect(answer.status, `${method}: ${answer.body}`).toBe(trick.status ?? 404);
        expect(answer.body).not.toContain(server.dataDir);
      }
    });
  }
});
