import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HOOK_EVENTS, type HttpHooksConfig } from '../../src/config/config.js';
import type { HookRequestBody, HookResponseBody } from '../../src/hooks/http/hook-payload.js';
import { signHookRequest, verifyHookSignature } from '../../src/hooks/http/hook-signature.js';
import { final, partial } from '../support/concat.js';
import { freePort } from '../support/ports.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, del, encodeMetadata, head, patch, patchStream } from '../support/tus-http.js';

const SECRET = 'a-hook-secret-of-some-length';

interface Received {
  readonly body: HookRequestBody;
  readonly raw: string;
  readonly headers: http.IncomingHttpHeaders;
}

/**
 * Issue #15 (first part): HTTP hooks as tusd v2 sends them, to a real HTTP receiver. pre-create
 * blocks the POST (reject with the receiver's own answer, choose id and metadata, fail closed
 * when the receiver cannot be asked); post-create, post-receive, post-finish and post-terminate
 * follow the facts; every request is signed.
 */
describe('HTTP hooks (HOOKS_HTTP_URL)', () => {
  let receiver: http.Server;
  let receiverUrl: string;
  let received: Received[] = [];
  let answer: (body: HookRequestBody) => { status: number; body: HookResponseBody | string } = () => ({ status: 200, body: {} });
  let server: RunningTessera;
  const waiting = new Set<() => void>();

  const hooksConfig = (url: string, overrides: Partial<HttpHooksConfig> = {}): HttpHooksConfig => ({
    url,
    events: new Set(HOOK_EVENTS),
    forwardHeaders: ['authorization', 'x-request-id'],
    timeoutMs: 2000,
    retries: 1,
    backoffMs: 50,
    progressIntervalMs: 100,
    secret: SECRET,
    retryForMs: 60_000,
    ...overrides,
  });

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk: Buffer) => {
        raw += chunk.toString();
      });
      req.on('end', () => {
        const body = JSON.parse(raw) as HookRequestBody;
        received.push({ body, raw, headers: req.headers });
        for (const wake of waiting) wake();
        const reply = answer(body);
        const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
        res.writeHead(reply.status, { 'Content-Type': 'application/json' }).end(text);
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    server = await startTessera({ hooksHttp: hooksConfig(receiverUrl) });
  });
  afterEach(() => {
    received = [];
    answer = () => ({ status: 200, body: {} });
  });
  afterAll(async () => {
    await server.stop();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
  });

  /** Resolves once a hook of `type` for `id` arrived (bounded). */
  const hookFor = (type: string, id: string) =>
    new Promise<Received>((resolve, reject) => {
      const check = () => {
        const found = received.find((r) => r.body.Type === type && r.body.Event.Upload.ID === id);
        if (!found) return;
        waiting.delete(check);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        waiting.delete(check);
        reject(new Error(`no ${type} hook for ${id}`));
      }, 10_000);
      waiting.add(check);
      check();
    });
  const idOf = (url: string) => url.split('/').pop() as string;

  it('sends pre-create, post-create, post-finish and post-terminate in tusd v2 shape, signed; HOOKS_HTTP_FORWARD_HEADERS go on the hook request', async () => {
    const data = randomBytes(3000);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const { res, url } = await create(server.endpoint, {
      length: data.length,
      metadata: { filename: 'a.bin', sha256 },
      headers: { Authorization: 'Bearer t', 'X-Request-Id': 'r-1', Cookie: 'secret=1' },
    });
    expect(res.status).toBe(201);
    const id = idOf(url);
    const pre = received.find((r) => r.body.Type === 'pre-create');
    expect(pre?.body).toEqual({
      Type: 'pre-create',
      Event: {
        Upload: { ID: '', Size: 3000, SizeIsDeferred: false, Offset: 0, MetaData: { filename: 'a.bin', sha256 }, IsPartial: false, IsFinal: false, PartialUploads: null, Storage: null },
        // As tusd: every request header, Go's canonical spelling, a list each; RemoteAddr ip:port.
        HTTPRequest: { Method: 'POST', URI: '/files', RemoteAddr: expect.stringMatching(/^127\.0\.0\.1:\d+$/), Header: expect.objectContaining({ Authorization: ['Bearer t'], 'X-Request-Id': ['r-1'], Cookie: ['secret=1'], 'Tus-Resumable': ['1.0.0'] }) },
      },
      Tessera: { EventId: expect.stringMatching(/^pre-create::[0-9a-f-]{36}$/) },
    });
    // Forwarded onto the hook request itself: only the listed ones.
    expect(pre?.headers.authorization).toBe('Bearer t');
    expect(pre?.headers['x-request-id']).toBe('r-1');
    expect(pre?.headers.cookie).toBeUndefined();
    expect(verifyHookSignature({ secret: SECRET, timestamp: pre?.headers['tessera-timestamp'] as string, signature: pre?.headers['tessera-signature'] as string, body: pre?.raw ?? '' })).toBe(true);

    const postCreate = await hookFor('post-create', id);
    expect(postCreate.body.Event.Upload).toMatchObject({ ID: id, Size: 3000, Offset: 0, MetaData: { filename: 'a.bin', sha256 }, Storage: { Type: 'filestore' } });
    expect(postCreate.body.Event.HTTPRequest).toMatchObject({ Method: 'POST', URI: '/files' });

    expect((await patch(url, 0, data)).status).toBe(204);
    const finish = await hookFor('post-finish', id);
    expect(finish.body.Event.Upload).toMatchObject({ ID: id, Size: 3000, Offset: 3000, IsFinal: false });
    expect(finish.body.Tessera).toEqual({ Sha256: sha256, Status: 'done', EventId: `post-finish:${id}:3000:${sha256}` });
    expect(received.filter((r) => r.body.Type === 'post-finish' && r.body.Event.Upload.ID === id)).toHaveLength(1);

    expect((await del(url)).status).toBe(204);
    const terminate = await hookFor('post-terminate', id);
    expect(terminate.body.Event.HTTPRequest.Method).toBe('DELETE');
  });

  it('pre-create may reject the upload with its own status, body and headers: nothing is created', async () => {
    answer = (body) => (body.Type === 'pre-create' ? { status: 200, body: { RejectUpload: true, HTTPResponse: { StatusCode: 403, Body: 'quota exceeded', Header: { 'X-Reason': 'quota' } } } } : { status: 200, body: {} });
    const { res, url } = await create(server.endpoint, { length: 10 });
    expect(res.status).toBe(403);
    expect(await res.text()).toBe('quota exceeded\n');
    expect(res.headers.get('x-reason')).toBe('quota');
    expect(url).toBe('');
    expect(received.filter((r) => r.body.Type === 'post-create')).toEqual([]);
  });

  it('pre-create may choose the upload id and its metadata', async () => {
    const chosen = `chosen-${randomBytes(4).toString('hex')}`;
    answer = (body) => (body.Type === 'pre-create' ? { status: 200, body: { ChangeFileInfo: { ID: chosen, MetaData: { filename: 'renamed.bin', project: 'q3' } } } } : { status: 200, body: {} });
    const { res, url } = await create(server.endpoint, { length: 10, metadata: { filename: 'original.bin' } });
    expect(res.status).toBe(201);
    expect(idOf(url)).toBe(chosen);
    const status = await head(url);
    expect(status.headers.get('upload-metadata')?.split(',').sort()).toEqual(encodeMetadata({ filename: 'renamed.bin', project: 'q3' }).split(',').sort());
  });

  it('an id from pre-create that is no upload id fails the POST (500), nothing created', async () => {
    answer = (body) => (body.Type === 'pre-create' ? { status: 200, body: { ChangeFileInfo: { ID: '../../etc/passwd' } } } : { status: 200, body: {} });
    const { res } = await create(server.endpoint, { length: 10 });
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('The pre-create hook chose an invalid upload id\n');
  });

  it('a receiver that answers 5xx or cannot be reached fails the POST closed: 503 with Retry-After, one line, nothing created', async () => {
    answer = () => ({ status: 502, body: 'bad gateway' });
    const failing = await create(server.endpoint, { length: 10 });
    expect(failing.res.status).toBe(503);
    expect(failing.res.headers.get('retry-after')).toBe('5');
    expect(await failing.res.text()).toBe('The pre-create hook could not be reached; retry shortly\n');
    // Tried twice (HOOKS_HTTP_RETRY=1).
    expect(received.filter((r) => r.body.Type === 'pre-create')).toHaveLength(2);

    const unreachable = await startTessera({ hooksHttp: hooksConfig(`http://127.0.0.1:${await freePort()}/hooks`, { retries: 0 }) });
    try {
      const refused = await create(unreachable.endpoint, { length: 10 });
      expect(refused.res.status).toBe(503);
      expect(refused.url).toBe('');
    } finally {
      await unreachable.stop();
    }
  });

  it("a partial's completion is no post-finish; the final's is, once, with its partials", async () => {
    const p1 = await partial(server.endpoint, randomBytes(100));
    const p2 = await partial(server.endpoint, randomBytes(200));
    const done = await final(server.endpoint, [p1, p2]);
    expect(done.res.status).toBe(201);
    const finish = await hookFor('post-finish', idOf(done.url));
    expect(finish.body.Event.Upload).toMatchObject({ IsFinal: true, PartialUploads: [idOf(p1), idOf(p2)], Offset: 300 });
    expect(received.filter((r) => r.body.Type === 'post-finish' && [idOf(p1), idOf(p2)].includes(r.body.Event.Upload.ID))).toEqual([]);
    expect(received.filter((r) => r.body.Type === 'post-create' && r.body.Event.Upload.ID === idOf(p1))[0]?.body.Event.Upload.IsPartial).toBe(true);
  });

  it('the receiver check refuses a forged signature and a replayed (old) request: verifyHookSignature and the README snippet alike', async () => {
    // The README's Node snippet, run as written.
    const readme = await fs.readFile(path.join(process.cwd(), 'README.md'), 'utf8');
    const snippet = /```js\n(import \{ createHmac[\s\S]*?function isFromTessera[\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet).toBeDefined();
    const module = path.join(os.tmpdir(), `tessera-readme-hook-check-${randomBytes(4).toString('hex')}.mjs`);
    await fs.writeFile(module, `${snippet}\nexport { isFromTessera };\n`);
    const { isFromTessera } = (await import(module)) as { isFromTessera(headers: Record<string, string>, raw: string, secret: string): boolean };
    await fs.rm(module);
    const checks = [
      (timestamp: string, signature: string, body: string) => verifyHookSignature({ secret: SECRET, timestamp, signature, body }),
      (timestamp: string, signature: string, body: string) => isFromTessera({ 'tessera-timestamp': timestamp, 'tessera-signature': signature }, body, SECRET),
    ];
    const body = JSON.stringify({ Type: 'post-finish' });
    const timestamp = String(Date.now());
    const old = String(Date.now() - 10 * 60_000);
    for (const check of checks) {
      expect(check(timestamp, signHookRequest(SECRET, timestamp, body), body)).toBe(true);
      expect(check(timestamp, signHookRequest('another-secret-of-length', timestamp, body), body)).toBe(false);
      expect(check(timestamp, signHookRequest(SECRET, timestamp, body), `${body} `)).toBe(false);
      expect(check(old, signHookRequest(SECRET, old, body), body)).toBe(false);
    }
  });

  it('sends post-receive while a body arrives (at most once per interval per upload)', async () => {
    const { url } = await create(server.endpoint, { length: 4 * 1024 * 1024 });
    let pieces = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        // 16 pieces 20 ms apart (a paced sender, not a wait for anything): the body takes a few progress intervals.
        controller.enqueue(randomBytes(256 * 1024));
        pieces += 1;
        if (pieces === 16) controller.close();
        else await new Promise((resolve) => setTimeout(resolve, 20));
      },
    });
    expect((await patchStream(url, 0, body)).status).toBe(204);
    const progress = await hookFor('post-receive', idOf(url));
    expect(progress.body.Event.Upload.Offset).toBeGreaterThan(0);
  });

  it('pre-create cannot hand out the id of an existing upload, nor one that names another upload\'s files: 500, the existing upload untouched', async () => {
    const existing = await create(server.endpoint, { length: 5, metadata: { filename: 'mine.bin' } });
    expect((await patch(existing.url, 0, Buffer.from('hello'))).status).toBe(204);
    const before = await head(existing.url);
    for (const id of [idOf(existing.url), `${idOf(existing.url)}.json`, 'x.part']) {
      answer = (body) => (body.Type === 'pre-create' ? { status: 200, body: { ChangeFileInfo: { ID: id } } } : { status: 200, body: {} });
      const { res } = await create(server.endpoint, { length: 20 });
      expect(res.status, id).toBe(500);
    }
    const after = await head(existing.url);
    expect(after.headers.get('upload-offset')).toBe(before.headers.get('upload-offset'));
    expect(after.headers.get('tessera-upload-status')).toBe('done');
    expect(Buffer.from(await (await fetch(existing.url)).arrayBuffer()).toString()).toBe('hello');
  });

  it('a rejection with a status that is no error (2xx, 1xx, 1000) is answered 400; metadata that is no tus metadata fails the POST', async () => {
    for (const status of [201, 101, 1000]) {
      answer = (body) => (body.Type === 'pre-create' ? { status: 200, body: { RejectUpload: true, HTTPResponse: { StatusCode: status, Header: { Location: 'http://elsewhere/x' } } } } : { status: 200, body: {} });
      const { res } = await create(server.endpoint, { length: 10 });
      expect(res.status, String(status)).toBe(400);
    }
    answer = (body) => (body.Type === 'pre-create' ? { status: 200, body: { ChangeFileInfo: { MetaData: ['a', 'b'] as unknown as Record<string, string> } } } : { status: 200, body: {} });
    const bad = await create(server.endpoint, { length: 10 });
    expect(bad.res.status).toBe(500);
    expect(await bad.res.text()).toMatch(/^The pre-create hook gave an unusable answer/);
  });

  it('a receiver answering with a redirect is no answer: the POST fails closed (503)', async () => {
    answer = () => ({ status: 302, body: {} });
    const { res, url } = await create(server.endpoint, { length: 10 });
    expect(res.status).toBe(503);
    expect(url).toBe('');
  });

  it('every pre-create has its own EventId (a receiver dropping repeats by it drops no real event)', async () => {
    await create(server.endpoint, { length: 1 });
    await create(server.endpoint, { length: 1 });
    const ids = received.filter((r) => r.body.Type === 'pre-create').map((r) => r.body.Tessera.EventId);
    expect(ids).toHaveLength(2);
    expect(new Set(ids).size).toBe(2);
  });

  it('says who and from where on every event, authentication on: Owner and RemoteAddr on post-finish (a PATCH and a final) and post-receive too', async () => {
    const authed = await startTessera(
      { hooksHttp: hooksConfig(receiverUrl, { events: new Set(['post-finish', 'post-receive'] as const), progressIntervalMs: 1 }) },
      { authenticate: async (req) => (req.headers.get('x-user') ? { owner: req.headers.get('x-user') as string } : undefined) },
    );
    try {
      const as = { 'X-User': 'alice' };
      const data = randomBytes(2 * 1024 * 1024);
      const { url } = await create(authed.endpoint, { length: data.length, headers: as });
      expect((await patch(url, 0, data, as)).status).toBe(204);
      const finish = await hookFor('post-finish', idOf(url));
      expect(finish.body.Tessera.Owner).toBe('alice');
      expect(finish.body.Event.HTTPRequest).toMatchObject({ Method: 'PATCH', RemoteAddr: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
      // A 2 MiB body with a 1 ms progress interval reports progress at least once.
      const progress = await hookFor('post-receive', idOf(url));
      expect(progress.body).toMatchObject({ Tessera: { Owner: 'alice' }, Event: { HTTPRequest: { Method: 'PATCH' } } });

      const p1 = await partial(authed.endpoint, randomBytes(100), true, as);
      const done = await final(authed.endpoint, [p1], undefined, as);
      const finalFinish = await hookFor('post-finish', idOf(done.url));
      expect(finalFinish.body.Tessera.Owner).toBe('alice');
      expect(finalFinish.body.Event.HTTPRequest.Method).toBe('POST');
    } finally {
      await authed.stop();
    }
  });

  it('pre-terminate (when enabled) may refuse a DELETE with its own answer; unreachable, the DELETE is refused (503); the upload stays either way', async () => {
    const guarded = await startTessera({ hooksHttp: hooksConfig(receiverUrl, { events: new Set(['pre-terminate', 'post-terminate'] as const), retries: 0 }) });
    try {
      const { url } = await create(guarded.endpoint, { length: 10 });
      answer = (body) => (body.Type === 'pre-terminate' ? { status: 200, body: { RejectTermination: true, HTTPResponse: { StatusCode: 403, Body: 'keep it', Header: { 'X-Why': 'legal hold' } } } } : { status: 200, body: {} });
      const refused = await del(url);
      expect(refused.status).toBe(403);
      expect(await refused.text()).toBe('keep it\n');
      expect(refused.headers.get('x-why')).toBe('legal hold');
      const asked = received.find((r) => r.body.Type === 'pre-terminate' && r.body.Event.Upload.ID === idOf(url));
      expect(asked?.body.Event.Upload).toMatchObject({ ID: idOf(url), Size: 10, Offset: 0 });
      expect(asked?.body.Event.HTTPRequest.Method).toBe('DELETE');
      expect((await head(url)).status).toBe(200);

      answer = (body) => (body.Type === 'pre-terminate' ? { status: 500, body: 'down' } : { status: 200, body: {} });
      const unavailable = await del(url);
      expect(unavailable.status).toBe(503);
      expect((await head(url)).status).toBe(200);

      answer = () => ({ status: 200, body: {} });
      expect((await del(url)).status).toBe(204);
      expect((await head(url)).status).toBe(404);
      await hookFor('post-terminate', idOf(url));
    } finally {
      await guarded.stop();
    }
  });

  it('pre-terminate is asked for the upload a DELETE addresses however it is spelled: a query changes nothing; dot-segments or escapes name no upload (404, no hook)', async () => {
    const guarded = await startTessera({ hooksHttp: hooksConfig(receiverUrl, { events: new Set(['pre-terminate'] as const), retries: 0 }) });
    try {
      const { url } = await create(guarded.endpoint, { length: 10 });
      answer = (body) => (body.Type === 'pre-terminate' ? { status: 200, body: { RejectTermination: true, HTTPResponse: { StatusCode: 423, Body: 'held' } } } : { status: 200, body: {} });
      const withQuery = await del(`${url}?force=1#fragment`);
      expect(withQuery.status).toBe(423);
      const asked = received.filter((r) => r.body.Type === 'pre-terminate');
      expect(asked.map((r) => r.body.Event.Upload.ID)).toEqual([idOf(url)]);
      // Other spellings of the same path: answered 404 before any hook (sent raw: fetch would normalise them).
      const { port } = new URL(guarded.baseUrl);
      for (const target of [`/files/./${idOf(url)}`, `/files/x/../${idOf(url)}`, `/files/%2e/${idOf(url)}`, `/files/${idOf(url)}/`]) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = http.request({ host: '127.0.0.1', port, method: 'DELETE', path: target, headers: { 'Tus-Resumable': '1.0.0' } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        });
        expect(status, target).toBe(404);
      }
      expect(received.filter((r) => r.body.Type === 'pre-terminate')).toHaveLength(1);
      expect((await head(url)).status).toBe(200);
    } finally {
      await guarded.stop();
    }
  });
  it('pre-finish approves a verified file before it is done: it sees the SHA-256, its headers reach the completing PATCH (never the protocol\'s own), post-finish follows', async () => {
    const data = randomBytes(5000);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const { url } = await create(server.endpoint, { length: data.length, metadata: { sha256 } });
    answer = (body) =>
      body.Type === 'pre-finish' ? { status: 200, body: { HTTPResponse: { Header: { 'X-Processed': 'yes', 'Upload-Offset': '0', 'Tus-Resumable': '0.1' } } } } : { status: 200, body: {} };
    const res = await patch(url, 0, data);
    expect(res.status).toBe(204);
    expect(res.headers.get('x-processed')).toBe('yes');
    expect(res.headers.get('upload-offset')).toBe('5000');
    expect(res.headers.get('tus-resumable')).toBe('1.0.0');
    const asked = await hookFor('pre-finish', idOf(url));
    expect(asked.body.Event.Upload).toMatchObject({ ID: idOf(url), Size: 5000, Offset: 5000 });
    expect(asked.body.Tessera).toMatchObject({ Sha256: sha256, Status: 'verifying' });
    await hookFor('post-finish', idOf(url));
    expect(received.findIndex((r) => r.body.Type === 'pre-finish')).toBeLessThan(received.findIndex((r) => r.body.Type === 'post-finish'));
    expect((await head(url)).headers.get('tessera-upload-status')).toBe('done');
  });

  it('pre-finish may refuse the file: the completing PATCH gets its answer, HEAD says failed and why, nothing is served, no post-finish', async () => {
    const data = randomBytes(3000);
    const { url } = await create(server.endpoint, { length: data.length });
    answer = (body) =>
      body.Type === 'pre-finish' ? { status: 200, body: { HTTPResponse: { StatusCode: 422, Body: '{"message":"not a PDF"}', Header: { 'Content-Type': 'application/json' } } } } : { status: 200, body: {} };
    const res = await patch(url, 0, data);
    expect(res.status).toBe(422);
    expect(await res.text()).toBe('{"message":"not a PDF"}\n');
    const status = await head(url);
    expect(status.status).toBe(460);
    expect(status.headers.get('tessera-upload-status')).toBe('failed');
    expect(status.headers.get('tessera-error')).toBe('refused by the pre-finish hook: {"message":"not a PDF"}');
    expect((await fetch(url)).status).toBe(404);
    // A resumed client learns the outcome too; RejectUpload alone refuses as well (460 then).
    expect((await patch(url, 3000, Buffer.alloc(0))).status).toBe(460);
    const other = await create(server.endpoint, { length: 10 });
    answer = (body) => (body.Type === 'pre-finish' ? { status: 200, body: { RejectUpload: true } } : { status: 200, body: {} });
    const rejected = await patch(other.url, 0, randomBytes(10));
    expect(rejected.status).toBe(400);
    expect((await head(other.url)).headers.get('tessera-error')).toBe('refused by the pre-finish hook');
    expect(received.filter((r) => r.body.Type === 'post-finish' && [idOf(url), idOf(other.url)].includes(r.body.Event.Upload.ID))).toEqual([]);
  });

  it('pre-finish unreachable: the completing PATCH fails closed (503), the file waits verified (not served); the next touch asks again and finishes it', async () => {
    const data = randomBytes(4000);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const { url } = await create(server.endpoint, { length: data.length, metadata: { sha256 } });
    answer = (body) => (body.Type === 'pre-finish' ? { status: 503, body: 'busy' } : { status: 200, body: {} });
    const res = await patch(url, 0, data);
    expect(res.status).toBe(503);
    expect(await res.text()).toBe('The pre-finish hook could not be reached; retry shortly\n');
    const waiting = await head(url);
    expect(waiting.status).toBe(200);
    expect(waiting.headers.get('tessera-upload-status')).toBe('verifying');
    expect((await fetch(url)).status).toBe(404);

    answer = () => ({ status: 200, body: {} });
    expect((await patch(url, 4000, Buffer.alloc(0))).status).toBe(204);
    expect((await head(url)).headers.get('tessera-upload-status')).toBe('done');
    expect(Buffer.from(await (await fetch(url)).arrayBuffer()).equals(data)).toBe(true);
    const finished = await hookFor('post-finish', idOf(url));
    expect(finished.body.Tessera.Sha256).toBe(sha256);
  });

  it('pre-finish is asked for a final once assembled; a refusal fails the final (460 on HEAD), its answer goes to the final POST', async () => {
    const p1 = await partial(server.endpoint, randomBytes(100));
    const p2 = await partial(server.endpoint, randomBytes(50));
    answer = (body) => (body.Type === 'pre-finish' ? { status: 200, body: { HTTPResponse: { StatusCode: 409, Body: 'duplicate file' } } } : { status: 200, body: {} });
    const refused = await final(server.endpoint, [p1, p2]);
    expect(refused.res.status).toBe(409);
    expect(refused.url).not.toBe('');
    const asked = await hookFor('pre-finish', idOf(refused.url));
    expect(asked.body.Event.Upload).toMatchObject({ IsFinal: true, PartialUploads: [idOf(p1), idOf(p2)], Size: 150 });
    const status = await head(refused.url);
    expect(status.status).toBe(460);
    expect(status.headers.get('tessera-error')).toBe('refused by the pre-finish hook: duplicate file');
  });

  it('pre-create sees a final\'s partials and summed length, and its HTTPResponse headers reach a created upload\'s 201 (never its Location)', async () => {
    const p1 = await partial(server.endpoint, randomBytes(100));
    const p2 = await partial(server.endpoint, randomBytes(250));
    answer = (body) =>
      body.Type === 'pre-create' ? { status: 200, body: { HTTPResponse: { Header: { 'X-Upload-Ticket': 't-42', Location: 'http://elsewhere/x' } } } } : { status: 200, body: {} };
    const done = await final(server.endpoint, [p1, p2]);
    expect(done.res.status).toBe(201);
    expect(done.res.headers.get('x-upload-ticket')).toBe('t-42');
    const asked = received.filter((r) => r.body.Type === 'pre-create').at(-1);
    expect(asked?.body.Event.Upload).toMatchObject({ ID: '', Size: 350, SizeIsDeferred: false, IsFinal: true, PartialUploads: [idOf(p1), idOf(p2)] });
    const single = await create(server.endpoint, { length: 10 });
    expect(single.res.status).toBe(201);
    expect(single.res.headers.get('x-upload-ticket')).toBe('t-42');
    expect(single.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/[0-9a-f]{32}$/);
  });

  it('post-receive may stop a running upload (StopUpload): the PATCH stops with the hook\'s answer, the upload is terminated, post-terminate says what it was', async () => {
    const { url } = await create(server.endpoint, { length: 64 * 1024 * 1024, metadata: { filename: 'big.bin' } });
    answer = (body) =>
      body.Type === 'post-receive' && body.Event.Upload.ID === idOf(url)
        ? { status: 200, body: { StopUpload: true, HTTPResponse: { StatusCode: 403, Body: 'quota exceeded' } } }
        : { status: 200, body: {} };
    let sent = 0;
    // A body that keeps coming until the server answers (paced, so progress is reported meanwhile).
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        controller.enqueue(randomBytes(256 * 1024));
        sent += 256 * 1024;
        if (sent >= 64 * 1024 * 1024) controller.close();
        else await new Promise((resolve) => setTimeout(resolve, 20));
      },
    });
    // The server answers, then closes without reading the rest of the body: a client still writing
    // may see that close (fetch failed) before the answer; when the answer is read, it is the hook's.
    const res = await patchStream(url, 0, body).catch((error: unknown) => error as Error);
    if (res instanceof Response) expect([res.status, await res.text()]).toEqual([403, 'quota exceeded\n']);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    expect((await head(url)).status).toBe(404);
    const terminated = await hookFor('post-terminate', idOf(url));
    expect(terminated.body.Event.Upload).toMatchObject({ ID: idOf(url), Size: 64 * 1024 * 1024, MetaData: { filename: 'big.bin' } });
    expect(terminated.body.Event.HTTPRequest.Method).toBe('PATCH');
  });

  it('post-terminate tells what the upload was (size, offset, metadata, role), not just its id', async () => {
    const { url } = await create(server.endpoint, { length: 100, metadata: { filename: 'gone.bin' } });
    expect((await patch(url, 0, randomBytes(40))).status).toBe(204);
    expect((await del(url)).status).toBe(204);
    const terminated = await hookFor('post-terminate', idOf(url));
    expect(terminated.body.Event.Upload).toMatchObject({ ID: idOf(url), Size: 100, Offset: 40, MetaData: { filename: 'gone.bin' }, IsPartial: false, Storage: { Type: 'filestore' } });
    const p = await partial(server.endpoint, randomBytes(10));
    expect((await del(p)).status).toBe(204);
    expect((await hookFor('post-terminate', idOf(p))).body.Event.Upload.IsPartial).toBe(true);
  });
});
