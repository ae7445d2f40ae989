import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { final, partial } from '../support/concat.js';
import { gate, hookReceiver, testHooks } from '../support/hook-receiver.js';
import { memoryLog } from '../support/memory-log.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, head, patch } from '../support/tus-http.js';

const idOf = (url: string) => url.split('/').pop() as string;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * Issue #15, found by an adversarial pass over pre-finish, StopUpload and pre-create's answers:
 * each was a failing test first. The receivers are real HTTP servers whose answers are held by
 * gates to order events.
 */
describe('HTTP hooks at their edges', () => {
  const started: { stop(): Promise<void> }[] = [];
  afterEach(async () => {
    for (const s of started.splice(0).reverse()) await s.stop();
  });
  const setup = async (overrides: Parameters<typeof testHooks>[1] = {}, options: Parameters<typeof startTessera>[1] = {}) => {
    const rx = await hookReceiver();
    started.push(rx);
    const server: RunningTessera = await startTessera({ hooksHttp: testHooks(rx.url, overrides) }, options);
    started.push(server);
    return { rx, server };
  };

  it('a StopUpload that arrives while the last PATCH completes the file comes too late: the file stays, approved and announced once, never also terminated', async () => {
    const log = memoryLog('debug');
    const { rx, server } = await setup({ progressIntervalMs: 1, timeoutMs: 10_000 }, { logger: log.logger });
    const data = randomBytes(4 * 1024 * 1024);
    const { url } = await create(server.endpoint, { length: data.length });
    const id = idOf(url);
    const preFinishAsked = gate();
    const stopHandled = gate();
    rx.answerWith(async (body) => {
      if (body.Event.Upload.ID !== id) return { status: 200, body: {} };
      if (body.Type === 'post-receive') {
        // Answered StopUpload only once every byte is stored and pre-finish is being asked.
        await preFinishAsked.opened;
        return { status: 200, body: { StopUpload: true, HTTPResponse: { StatusCode: 403, Body: 'quota exceeded' } } };
      }
      if (body.Type === 'pre-finish') {
        preFinishAsked.open();
        await stopHandled.opened;
      }
      return { status: 200, body: {} };
    });
    const patching = patch(url, 0, data);
    await rx.hookFor('pre-finish', id);
    await expect
      .poll(() => log.lines.some((l) => l.msg === 'hook delivered' && l.hook === 'post-receive' && l.uploadId === id && (l.answer as { StopUpload?: boolean } | undefined)?.StopUpload === true), { timeout: 10_000 })
      .toBe(true);
    stopHandled.open();
    expect((await patching).status).toBe(204);
    const outbox = path.join(server.dataDir, '.tessera-hooks', 'outbox');
    await expect.poll(async () => (await fs.readdir(outbox)).filter((n) => n.endsWith('.json')).length, { timeout: 10_000 }).toBe(0);
    expect(rx.of('post-finish', id)).toHaveLength(1);
    expect(rx.of('post-terminate', id)).toEqual([]);
    expect((await head(url)).headers.get('tessera-upload-status')).toBe('done');
  });

  it('post-receive may stop a body sent in the creating POST too (creation-with-upload), as tusd does: the POST is answered with the hook\'s answer, the upload terminated', async () => {
    const { rx, server } = await setup({ progressIntervalMs: 1 });
    const total = 64 * 1024 * 1024;
    rx.answerWith((body) => (body.Type === 'post-receive' ? { status: 200, body: { StopUpload: true, HTTPResponse: { StatusCode: 403, Body: 'quota exceeded' } } } : { status: 200, body: {} }));
    // node:http, which reports the answer as soon as it arrives, whether or not the rest of the
    // body could still be written (fetch may report the server closing mid-body instead).
    let sent = 0;
    // The server answers and then closes the connection without reading the rest of the body, as
    // for any refused body: a client still writing may see the close (EPIPE) before the answer.
    const res = await new Promise<{ status: number; text: string; location: string | undefined } | 'closed'>((resolve) => {
      const req = http.request(server.endpoint, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': String(total), 'Content-Type': 'application/offset+octet-stream' } }, (answer) => {
        let text = '';
        answer.on('data', (chunk: Buffer) => (text += chunk.toString()));
        answer.on('end', () => resolve({ status: answer.statusCode ?? 0, text, location: answer.headers.location }));
      });
      let answered = false;
      req.on('response', () => (answered = true));
      req.on('error', () => (answered ? undefined : resolve('closed')));
      const pump = () => {
        if (answered || sent >= total) return void req.end();
        sent += 256 * 1024;
        // A paced sender (not a wait for anything): the body takes longer than its first progress report.
        if (req.write(randomBytes(256 * 1024))) setTimeout(pump, 5);
        else req.once('drain', () => setTimeout(pump, 5));
      };
      pump();
    });
    if (res !== 'closed') expect([res.status, res.text, res.location]).toEqual([403, 'quota exceeded\n', undefined]);
    expect(sent).toBeLessThan(total);
    const stoppedId = rx.received.find((r) => r.Type === 'post-receive')?.Event.Upload.ID as string;
    await rx.hookFor('post-terminate', stoppedId);
    expect((await head(`${server.endpoint}/${stoppedId}`)).status).toBe(404);
  });

  it('pre-finish gives headers only: a creation-with-upload POST it approves with a 2xx status of its own is still 201 with its Location', async () => {
    const { rx, server } = await setup();
    rx.answerWith((body) => (body.Type === 'pre-finish' ? { status: 200, body: { HTTPResponse: { StatusCode: 200, Body: '{"ok":true}', Header: { 'X-Processed': 'yes' } } } } : { status: 200, body: {} }));
    const data = randomBytes(1000);
    const { res, url } = await create(server.endpoint, { length: data.length, body: data });
    expect(res.status).toBe(201);
    expect(url).not.toBe('');
    expect(res.headers.get('x-processed')).toBe('yes');
    expect((await head(url)).headers.get('tessera-upload-status')).toBe('done');
  });

  it('an id pre-create chose is free again as soon as its POST failed: the retried POST creates it', async () => {
    const { rx, server } = await setup();
    const chosen = `doc-${randomBytes(4).toString('hex')}`;
    const good = randomBytes(1000);
    rx.answerWith((body) => (body.Type === 'pre-create' ? { status: 200, body: { ChangeFileInfo: { ID: chosen } } } : { status: 200, body: {} }));
    const damaged = Buffer.from(good);
    damaged[0] = (damaged[0] as number) ^ 0xff;
    const first = await create(server.endpoint, { length: good.length, metadata: { sha256: sha256(good) }, body: damaged });
    expect(first.res.status).toBe(460);
    expect((await head(`${server.endpoint}/${chosen}`)).status).toBe(404);
    const retry = await create(server.endpoint, { length: good.length, metadata: { sha256: sha256(good) }, body: good });
    expect(retry.res.status).toBe(201);
    expect(idOf(retry.url)).toBe(chosen);
  });

  it('headers HTTP cannot carry (a CR/LF in a value, a space in a name) are left out of a hook\'s answer, never a failed request or an upload nobody was told of', async () => {
    const { rx, server } = await setup();
    rx.answerWith((body) =>
      body.Type === 'pre-create' || body.Type === 'pre-finish'
        ? { status: 200, body: { HTTPResponse: { Header: { 'X-Note': 'a\r\nSet-Cookie: s=1', 'X Note': 'b', 'X-Fine': 'ok' } } } }
        : { status: 200, body: {} },
    );
    const data = randomBytes(100);
    const { res, url } = await create(server.endpoint, { length: data.length });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-fine')).toBe('ok');
    expect(res.headers.get('set-cookie')).toBeNull();
    const completed = await patch(url, 0, data);
    expect(completed.status).toBe(204);
    expect(completed.headers.get('x-fine')).toBe('ok');
    rx.answerWith((body) => (body.Type === 'pre-create' ? { status: 200, body: { RejectUpload: true, HTTPResponse: { StatusCode: 403, Body: 'no', Header: { 'X Bad': 'x', 'X-Why': 'quota' } } } } : { status: 200, body: {} }));
    const refused = await create(server.endpoint, { length: 10 });
    expect([refused.res.status, refused.res.headers.get('x-why')]).toEqual([403, 'quota']);
  });

  it("a final refused by pre-finish is named by its answer's Location, whatever Location the hook's headers give", async () => {
    const { rx, server } = await setup();
    const p1 = await partial(server.endpoint, randomBytes(10));
    rx.answerWith((body) => (body.Type === 'pre-finish' ? { status: 200, body: { HTTPResponse: { StatusCode: 409, Header: { Location: 'http://elsewhere.example/x' } } } } : { status: 200, body: {} }));
    const refused = await final(server.endpoint, [p1]);
    expect(refused.res.status).toBe(409);
    const finalId = rx.received.find((r) => r.Type === 'pre-finish')?.Event.Upload.ID as string;
    expect(refused.res.headers.get('location')).toBe(`${server.endpoint}/${finalId}`);
  });

  it("a retried final POST gets its own pre-create answer's headers, not those given to the earlier POST", async () => {
    const { rx, server } = await setup();
    const p1 = await partial(server.endpoint, randomBytes(10));
    const p2 = await partial(server.endpoint, randomBytes(10));
    let tickets = 0;
    let approving = false;
    rx.answerWith((body) =>
      body.Type === 'pre-create'
        ? { status: 200, body: { HTTPResponse: { Header: { 'X-Ticket': `t-${++tickets}` } } } }
        : body.Type === 'pre-finish' && !approving
          ? { status: 503, body: 'busy' }
          : { status: 200, body: {} },
    );
    const first = await final(server.endpoint, [p1, p2]);
    expect(first.res.status).toBe(503);
    approving = true;
    const retried = await final(server.endpoint, [p1, p2]);
    expect(retried.res.status).toBe(201);
    expect(retried.url).toBe(first.url);
    expect(retried.res.headers.get('x-ticket')).toBe('t-2');
  });

  it('a final its last partial completed, whose pre-finish could not be asked, is asked again when that partial\'s empty last PATCH is re-sent', async () => {
    const { rx, server } = await setup();
    let receiverUp = false;
    rx.answerWith((body) => (body.Type === 'pre-finish' && !receiverUp ? { status: 503, body: 'busy' } : { status: 200, body: {} }));
    const rest = randomBytes(20);
    const p1 = await partial(server.endpoint, randomBytes(10));
    const p2 = await partial(server.endpoint, rest, false);
    const created = await final(server.endpoint, [p1, p2]);
    expect(created.res.status).toBe(201);
    expect((await patch(p2, 0, rest)).status).toBe(503);
    expect((await head(created.url)).headers.get('tessera-upload-status')).toBe('verifying');
    receiverUp = true;
    expect((await patch(p2, rest.length, Buffer.alloc(0))).status).toBe(204);
    expect((await head(created.url)).headers.get('tessera-upload-status')).toBe('done');
    await rx.hookFor('post-finish', idOf(created.url));
  });

  it("pre-create's metadata with a sha256 that is no SHA-256 fails the POST (500), not an upload that could never finish", async () => {
    const { rx, server } = await setup();
    rx.answerWith((body) => (body.Type === 'pre-create' ? { status: 200, body: { ChangeFileInfo: { MetaData: { sha256: 'md5:abc' } } } } : { status: 200, body: {} }));
    const { res, url } = await create(server.endpoint, { length: 100 });
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('The pre-create hook gave an unusable answer: ChangeFileInfo.MetaData has a sha256 that is no SHA-256 (64 hex digits)\n');
    expect(url).toBe('');
  });
});
