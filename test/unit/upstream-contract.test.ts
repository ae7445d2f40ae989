import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import { DataStore, EVENTS, type Lock, type Locker, type Upload } from '@tus/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeRequestOf } from '../../src/tus/upstream/node-request.js';
import { nodeStreamResponse } from '../../src/tus/upstream/node-stream-response.js';
import { PINNED_VERSIONS, UPSTREAM_CONCATENATION_NAME } from '../../src/tus/upstream/tus-server.js';

/**
 * What src/tus/upstream/ relies on in @tus/server and its stores. Each check names one fact;
 * when an upgrade breaks one, this file fails before anything quietly misbehaves.
 */
describe('@tus/* versions', () => {
  it.each(Object.entries(PINNED_VERSIONS))('%s is exactly the pinned %s', async (name, version) => {
    // Their `exports` hide package.json from require(); read the installed file itself.
    const installed = JSON.parse(await fs.readFile(path.resolve('node_modules', name, 'package.json'), 'utf8')) as { version: string };
    expect(installed.version).toBe(version);
    const declared = (JSON.parse(await fs.readFile(path.resolve('package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies[name];
    expect(declared, 'package.json pins it exactly').toBe(version);
  });
});

describe('@tus/server shapes', () => {
  const server = new Server({ path: '/files', datastore: new DataStore() });
  type Internal = Record<string, unknown> & { send: unknown; writeToStore?: unknown; generateUrl?: unknown; getFileIdFromRequest?: unknown };

  it('handlers is a plain object of six replaceable handlers', () => {
    expect(Object.keys(server.handlers).sort()).toEqual(['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST']);
    for (const handler of Object.values(server.handlers)) expect(typeof (handler as unknown as Internal).send).toBe('function');
  });

  it('POST writes bodies through writeToStore(body, upload, maxFileSize, context)', () => {
    for (const method of ['POST'] as const) {
      const writeToStore = (server.handlers[method] as unknown as Internal).writeToStore;
      expect(typeof writeToStore).toBe('function');
      expect((writeToStore as (...args: unknown[]) => unknown).length).toBe(4);
    }
    expect(typeof (server.handlers.POST as unknown as Internal).generateUrl).toBe('function');
  });

  it('every upload id comes from the getFileIdFromRequest option, however the URL looks', () => {
    const withOption = new Server({ path: '/files', datastore: new DataStore(), getFileIdFromRequest: () => 'decided-elsewhere' });
    const getId = (withOption.handlers.HEAD as unknown as { getFileIdFromRequest(req: Request): string | undefined }).getFileIdFromRequest.bind(
      withOption.handlers.HEAD,
    );
    expect(getId(new Request('http://h/files/abc?x=/files/other'))).toBe('decided-elsewhere');
    expect(getId(new Request('http://h/files/'))).toBe('decided-elsewhere');
  });

  it(`POST asks the store for the extension spelled '${UPSTREAM_CONCATENATION_NAME}' before it allows Upload-Concat`, async () => {
    const asked: string[] = [];
    const store = new DataStore();
    store.hasExtension = (name: string) => (asked.push(name), false);
    const res = await new Server({ path: '/files', datastore: store }).handleWeb(
      new Request('http://h/files', { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '1', 'Upload-Concat': 'partial' } }),
    );
    expect(res.status).toBe(501);
    expect(asked).toContain(UPSTREAM_CONCATENATION_NAME);
  });
});

describe('@tus/server at run time', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-upstream-'));
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  async function serve(server: Server): Promise<{ url: string; close(): Promise<void> }> {
    const httpServer = http.createServer((req, res) => void server.handle(req, res));
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}/files`,
      close: () => new Promise<void>((resolve) => httpServer.close(() => resolve())),
    };
  }

  it('hands handlers a web Request that carries the Node request on runtime.node.req', async () => {
    const server = new Server({ path: '/files', datastore: new DataStore() });
    let seen: IncomingMessage | undefined;
    server.handlers.GET.send = async (req: Request) => {
      seen = nodeRequestOf(req);
      return new Response('ok');
    };
    const running = await serve(server);
    try {
      await (await fetch(`${running.url}/x`)).text();
      expect(seen).toBeInstanceOf(http.IncomingMessage);
      expect(seen?.url).toBe('/files/x');
    } finally {
      await running.close();
    }
  });

  it('POST calls onUploadFinish after it released the upload lock (UploadCompletion locks again)', async () => {
    const order: string[] = [];
    const locker: Locker = {
      newLock: (): Lock => ({
        lock: async () => void order.push('lock'),
        unlock: async () => void order.push('unlock'),
      }),
    };
    const server = new Server({
      path: '/files',
      datastore: new FileStore({ directory: dir }),
      locker,
      onUploadFinish: async () => (order.push('finish'), {}),
    });
    const running = await serve(server);
    try {
      // A creation-with-upload whose body completes the upload.
      const res = await fetch(running.url, {
        method: 'POST',
        headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '1', 'Content-Type': 'application/offset+octet-stream' },
        body: 'x',
      });
      expect(res.status).toBe(201);
      expect(order).toEqual(['lock', 'unlock', 'finish']);
    } finally {
      await running.close();
    }
  });

  it('POST hands the Upload object it gave onUploadCreate to the store\'s create (creation records ride on it)', async () => {
    const given: Upload[] = [];
    const created: Upload[] = [];
    const store = new FileStore({ directory: dir });
    const create = store.create.bind(store);
    store.create = async (upload) => (created.push(upload), create(upload));
    const server = new Server({ path: '/files', datastore: store, onUploadCreate: async (_req, upload) => (given.push(upload), {}) });
    const running = await serve(server);
    try {
      const res = await fetch(running.url, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '3' } });
      expect(res.status).toBe(201);
      expect(given).toHaveLength(1);
      expect(created[0]).toBe(given[0]);
    } finally {
      await running.close();
    }
  });

  it('srvx pipes a FastResponse whose body is a Node stream (downloads end with their stream)', () => {
    const body = Readable.from([Buffer.from('bytes')]);
    const prepared = (nodeStreamResponse(body, { status: 200, headers: new Headers({ 'Content-Length': '5' }) }) as unknown as {
      _toNodeResponse(): { body: unknown; status: number };
    })._toNodeResponse();
    expect(prepared.status).toBe(200);
    expect(prepared.body).toBe(body);
  });

  it('forwards events a handler emits to the server\'s listeners (Tessera\'s PATCH step emits POST_FINISH)', () => {
    const server = new Server({ path: '/files', datastore: new DataStore() });
    const seen: unknown[] = [];
    server.on(EVENTS.POST_FINISH, (...args: unknown[]) => seen.push(args[2]));
    const upload = { id: 'x' };
    server.handlers.PATCH.emit(EVENTS.POST_FINISH, new Request('http://127.0.0.1/files/x'), new Response(null), upload);
    expect(seen).toEqual([upload]);
  });
});
