import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { final, partial } from '../support/concat.js';
import { rawRequest } from '../support/raw-http.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, encodeMetadata, head, patch, randomData, TUS } from '../support/tus-http.js';

/**
 * Issue #14, finding 1: the upload a request addresses is decided once, from the path alone.
 * Every other spelling of a URL that ends in another upload's id (a query, a fragment, dot
 * segments, percent-escapes, empty segments) must neither read, change nor delete that upload.
 */
const secret = 'a-test-secret-that-is-at-least-32-characters-long';
const token = (sub: string) =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('5m').sign(new TextEncoder().encode(secret));

const idOf = (url: string) => new URL(url).pathname.split('/').pop() as string;

/** Request-targets that are not `/files/<victim>` but end in the victim's id one way or another. */
function spellings(victim: string, decoy: string): string[] {
  const escapedFirst = `%${victim.charCodeAt(0).toString(16)}${victim.slice(1)}`;
  return [
    `/files/${decoy}?/files/${victim}`,
    `/files/${decoy}?x=/${victim}`,
    `/files/${decoy}#/${victim}`,
    `/files/${decoy}?#/files/${victim}`,
    `/files/${decoy}/../${victim}`,
    `/files/${decoy}/%2e%2e/${victim}`,
    `/files/x/../../files/${victim}`,
    `/files/./${victim}`,
    `/files/../files/${victim}`,
    `/files//${victim}`,
    `/files/${victim}/`,
    `/files/${victim}/.`,
    `/files/${escapedFirst}`,
    `/files/${victim}%2F`,
    `/files/${victim}%00`,
    `/files/${victim};x`,
    `/x/../files/${victim}`,
  ];
}

describe('request resolution with authentication on', () => {
  let server: RunningTessera;
  let alice: Record<string, string>;
  let bob: Record<string, string>;
  let victimUrl: string;
  let victim: string;
  const data = randomData(100);

  beforeAll(async () => {
    server = await startTessera({ auth: { jwtSecret: secret } });
    alice = { Authorization: `Bearer ${await token('alice')}` };
    bob = { Authorization: `Bearer ${await token('bob')}` };
    const created = await create(server.endpoint, { length: 100, headers: alice, metadata: { filename: 'alice-secret.txt' } });
    victimUrl = created.url;
    victim = idOf(victimUrl);
    expect((await patch(victimUrl, 0, data.subarray(0, 40), alice)).status).toBe(204);
  });
  afterAll(() => server.stop());

  const victimIntact = async () => {
    const res = await head(victimUrl, alice);
    expect(res.status).toBe(200);
    expect(res.headers.get('upload-offset')).toBe('40');
    expect(await fs.readFile(path.join(server.dataDir, victim))).toEqual(data.subarray(0, 40));
  };

  it.each(['HEAD', 'GET', 'PATCH', 'DELETE'])('%s by another owner under any other spelling is a 404 and touches nothing', async (method) => {
    for (const target of spellings(victim, 'no-such-upload')) {
      const headers = { ...TUS, ...bob, ...(method === 'PATCH' ? { 'Upload-Offset': '40', 'Content-Type': 'application/offset+octet-stream' } : {}) };
      const res = await rawRequest(server.baseUrl, method, target, headers, method === 'PATCH' ? data.subarray(40, 50) : undefined);
      expect({ target, status: res.status }).toEqual({ target, status: 404 });
      expect(res.headers['upload-metadata']).toBeUndefined();
      expect(res.body.toString()).not.toContain('alice-secret');
    }
    await victimIntact();
  });

  it('a query that ends in another upload acts on the upload the path names, never on the other', async () => {
    const own = await create(server.endpoint, { length: 10, headers: bob, metadata: { filename: 'bob.txt' } });
    const target = `/files/${idOf(own.url)}?/files/${victim}`;
    const seen = await rawRequest(server.baseUrl, 'HEAD', target, { ...TUS, ...bob });
    expect(seen.status).toBe(200);
    expect(seen.headers['upload-metadata']).toBe(encodeMetadata({ filename: 'bob.txt' }));
    const written = await rawRequest(
      server.baseUrl,
      'PATCH',
      target,
      { ...TUS, ...bob, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      Buffer.from('0123456789'),
    );
    expect(written.status).toBe(204);
    expect(await fs.readFile(path.join(server.dataDir, idOf(own.url)), 'utf8')).toBe('0123456789');
    expect((await rawRequest(server.baseUrl, 'DELETE', target, { ...TUS, ...bob })).status).toBe(204);
    expect((await head(own.url, bob)).status).toBe(404);
    await victimIntact();
  });
});

describe('request resolution without authentication', () => {
  let server: RunningTessera;
  beforeAll(async () => {
    server = await startTessera();
  });
  afterAll(() => server.stop());

  it('no spelling PATCHes bytes into a pending final', async () => {
    const unfinished = await create(server.endpoint, { length: 10, headers: { 'Upload-Concat': 'partial' } });
    const other = await partial(server.endpoint, Buffer.from('abc'));
    const fin = await final(server.endpoint, [unfinished.url, other]);
    expect(fin.res.status).toBe(201);
    const finalId = idOf(fin.url);
    for (const target of [...spellings(finalId, idOf(unfinished.url)), `/files/${idOf(unfinished.url)}?/files/${finalId}`]) {
      await rawRequest(
        server.baseUrl,
        'PATCH',
        target,
        { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
        Buffer.from('x'),
      );
    }
    expect((await fs.stat(path.join(server.dataDir, finalId))).size).toBe(0);
    const state = await head(fin.url);
    expect(state.headers.get('tessera-upload-status')).toBe('pending');
  });

  it('answers 404 for every unresolvable path under the tus path, with Tus-Resumable', async () => {
    for (const target of ['/files/a/b', '/files/.hidden', '/files/a%20b', '/files/%2e%2e', '/files//', '/files/a/']) {
      const res = await rawRequest(server.baseUrl, 'HEAD', target, { ...TUS });
      expect({ target, status: res.status }).toEqual({ target, status: 404 });
      expect(res.headers['tus-resumable']).toBe('1.0.0');
    }
  });

  it('answers a path whose escapes do not decode with one plain 404 line, never a stack trace', async () => {
    for (const method of ['GET', 'PATCH', 'HEAD']) {
      const res = await rawRequest(server.baseUrl, method, '/files/%ZZ', { ...TUS, Origin: 'https://app.example' });
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^text\/plain/);
      expect(res.headers['tus-resumable']).toBe('1.0.0');
      expect(res.headers['access-control-allow-origin']).toBe('*');
      if (method !== 'HEAD') expect(res.body.toString()).toBe('Not found\n');
    }
  });

  it('answers an X-HTTP-Method-Override to HEAD framed for the method on the wire', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string, headers: Record<string, string>) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(`${server.baseUrl}${path}`, { agent, headers }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    // Two requests on one connection: the second is read right only if the first was framed right.
    const answers = [
      await get('/files/no-such-upload', { 'X-HTTP-Method-Override': 'HEAD' }),
      await get('/healthz', {}),
      await get('/files//x', { ...TUS, 'X-HTTP-Method-Override': 'HEAD' }),
      await get('/healthz', {}),
      await get('/files/no-such-upload', { ...TUS, 'X-HTTP-Method-Override': 'HEAD' }),
      await get('/healthz', {}),
    ];
    expect(answers.map((a) => a.status)).toEqual([412, 200, 404, 200, 404, 200]);
    expect(answers[0]?.body).toBe('Tus-Resumable header required\n');
    expect(answers[2]?.body).toBe('Not found\n');
    agent.destroy();
  });

  it('gives a foreign origin no Access-Control-Allow-Origin, also on @tus/server’s own header-validation 400', async () => {
    const listed = await startTessera({ corsOrigins: ['https://ok.example'] });
    try {
      const { url } = await create(listed.endpoint, { length: 10 });
      for (const origin of ['https://ok.example', 'https://evil.example']) {
        const res = await rawRequest(listed.baseUrl, 'PATCH', new URL(url).pathname, { ...TUS, Origin: origin, 'Upload-Offset': 'x', 'Content-Type': 'application/offset+octet-stream' }, Buffer.from('a'));
        expect(res.status).toBe(400);
        expect(res.headers['access-control-allow-origin']).toBe(origin === 'https://ok.example' ? origin : undefined);
      }
    } finally {
      await listed.stop();
    }
  });
});

describe('namingFunction', () => {
  it('must produce an upload id: anything else fails the creation and stores nothing', async () => {
    const server = await startTessera({}, { hooks: { namingFunction: async () => '.tessera-state/upload-x.json' } });
    try {
      const before = await fs.readdir(server.dataDir);
      const res = await create(server.endpoint, { length: 5, body: Buffer.from('hello') });
      expect(res.res.status).toBe(500);
      expect(await fs.readdir(server.dataDir)).toEqual(before);
    } finally {
      await server.stop();
    }
  });
});

describe('Upload-Concat URLs (finding 10)', () => {
  let server: RunningTessera;
  beforeAll(async () => {
    server = await startTessera();
  });
  afterAll(() => server.stop());

  it('refuses partial URLs on another host however they are written, and accepts this server’s own', async () => {
    const p = await partial(server.endpoint, Buffer.from('hello'));
    const id = idOf(p);
    const host = new URL(server.baseUrl).host;
    const foreign = [
      `//evil.example/files/${id}`,
      `\\\\evil.example/files/${id}`,
      `/\\evil.example/files/${id}`,
      `http://evil.example/files/${id}`,
      `https://${host}/files/${id}`,
      `http://user@${host.replace('127.0.0.1', 'evil.example')}/files/${id}`,
      `/files/${id}?x`,
      `/files/${id}#x`,
      `/other/${id}`,
      `/files/a/${id}`,
    ];
    for (const url of foreign) {
      const res = await final(server.endpoint, [url]);
      expect({ url, status: res.res.status }).toEqual({ url, status: 400 });
    }
    for (const url of [p, `/files/${id}`, `/x/../files/${id}`]) {
      const res = await final(server.endpoint, [url]);
      expect({ url, status: res.res.status }).toEqual({ url, status: 201 });
    }
  });
});

describe('Upload-Concat URLs behind a proxy', () => {
  it.each([true, false])('with TRUST_PROXY=%s: accepts the origin upload URLs were given out under, and no other', async (trustProxy) => {
    const server = await startTessera({ trustProxy });
    try {
      const forwarded = { 'X-Forwarded-Host': 'uploads.example', 'X-Forwarded-Proto': 'https' };
      const created = await create(server.endpoint, { length: 3, body: Buffer.from('abc'), headers: { ...forwarded, 'Upload-Concat': 'partial' } });
      const location = created.res.headers.get('location') ?? '';
      // The Location is what the client was given: the forwarded origin only when the proxy is trusted.
      expect(new URL(location).origin).toBe(trustProxy ? 'https://uploads.example' : new URL(server.baseUrl).origin);
      const id = new URL(location).pathname.split('/').pop() as string;
      const viaProxy = await final(server.endpoint, [`https://uploads.example/files/${id}`]).then((r) => r.res.status);
      expect(viaProxy).toBe(400); // this request itself came without forwarded headers
      const fin = await create(server.endpoint, { headers: { ...forwarded, 'Upload-Concat': `final;https://uploads.example/files/${id}` } });
      expect(fin.res.status).toBe(trustProxy ? 201 : 400);
      const spoofed = await create(server.endpoint, { headers: { ...forwarded, 'Upload-Concat': `final;https://evil.example/files/${id}` } });
      expect(spoofed.res.status).toBe(400);
    } finally {
      await server.stop();
    }
  });
});
