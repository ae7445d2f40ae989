import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, del, head, patch, randomData, TUS } from '../support/tus-http.js';

const secret = 'a-test-secret-that-is-at-least-32-characters-long';
const token = (sub: string, key = secret) =>
  new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('5m').sign(new TextEncoder().encode(key));

let server: RunningTessera;
let alice: Record<string, string>;
let bob: Record<string, string>;

beforeAll(async () => {
  server = await startTessera({ auth: { jwtSecret: secret } });
  alice = { Authorization: `Bearer ${await token('alice')}` };
  bob = { Authorization: `Bearer ${await token('bob')}` };
});
afterAll(() => server.stop());

const partialOf = async (who: Record<string, string>, data: Buffer) => {
  const p = await create(server.endpoint, { length: data.length, headers: { ...who, 'Upload-Concat': 'partial' } });
  expect((await patch(p.url, 0, data, who)).status).toBe(204);
  return p.url;
};

describe('bearer-token authentication', () => {
  it('answers 401 with WWW-Authenticate without a token or with a bad one, and creates nothing', async () => {
    const before = (await fs.readdir(server.dataDir)).length;
    const none = await create(server.endpoint, { length: 10 });
    expect(none.res.status).toBe(401);
    expect(none.res.headers.get('www-authenticate')).toBe('Bearer');
    const forged = await create(server.endpoint, { length: 10, headers: { Authorization: `Bearer ${await token('alice', 'x'.repeat(40))}` } });
    expect(forged.res.status).toBe(401);
    expect((await fs.readdir(server.dataDir)).length).toBe(before);
  });

  it('AUTH_JWT_REQUIRE_EXP refuses a token without exp (401); without it such a token is accepted', async () => {
    const forever = `Bearer ${await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('dora').sign(new TextEncoder().encode(secret))}`;
    const strict = await startTessera({ auth: { jwtSecret: secret, requireExp: true } });
    try {
      expect((await create(strict.endpoint, { length: 1, headers: { Authorization: forever } })).res.status).toBe(401);
      expect((await create(strict.endpoint, { length: 1, headers: alice })).res.status).toBe(201);
    } finally {
      await strict.stop();
    }
    expect((await create(server.endpoint, { length: 1, headers: { Authorization: forever } })).res.status).toBe(201);
  });

  it('lets OPTIONS through (browsers send preflights without credentials)', async () => {
    expect((await fetch(server.endpoint, { method: 'OPTIONS' })).status).toBe(204);
  });
});

describe('ownership', () => {
  it('hides an upload from anyone but its owner (404), for every method', async () => {
    const data = randomData(100);
    const { res, url } = await create(server.endpoint, { length: 100, headers: alice });
    expect(res.status).toBe(201);
    expect((await head(url, bob)).status).toBe(404);
    expect((await patch(url, 0, data, bob)).status).toBe(404);
    expect((await del(url, bob)).status).toBe(404);
    expect((await head(url, alice)).headers.get('upload-offset')).toBe('0');
    expect((await patch(url, 0, data, alice)).status).toBe(204);
    expect((await fetch(url, { headers: bob })).status).toBe(404);
    expect((await fetch(url, { headers: alice })).status).toBe(200);
    expect((await fs.stat(path.join(server.dataDir, new URL(url).pathname.split('/').pop() as string))).size).toBe(100);
  });

  it('lets a final join only partials of the same owner (403 otherwise)', async () => {
    const mine = await partialOf(alice, randomData(10));
    const theirs = await partialOf(bob, randomData(10));
    const refused = await create(server.endpoint, { headers: { ...alice, 'Upload-Concat': `final;${mine} ${theirs}` } });
    expect(refused.res.status).toBe(403);
    expect(await refused.res.text()).toMatch(/belongs to someone else/);
    const ok = await create(server.endpoint, { headers: { ...alice, 'Upload-Concat': `final;${mine}` } });
    expect(ok.res.status).toBe(201);
    expect((await head(ok.url, alice)).headers.get('tessera-upload-status')).toBe('done');
    expect((await head(ok.url, bob)).status).toBe(404);
  });
});

describe('JWKS', () => {
  it('verifies RS256 tokens with keys fetched from AUTH_JWKS_URL', async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256' };
    const jwks = http.createServer((_req, res) => res.setHeader('content-type', 'application/json').end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
    const withJwks = await startTessera({ auth: { jwksUrl, issuer: 'https://idp.test' } });
    try {
      const sign = (iss: string) =>
        new SignJWT({}).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setSubject('carol').setIssuer(iss).setExpirationTime('5m').sign(privateKey);
      const good = await create(withJwks.endpoint, { length: 1, headers: { Authorization: `Bearer ${await sign('https://idp.test')}` } });
      expect(good.res.status).toBe(201);
      const wrongIssuer = await create(withJwks.endpoint, { length: 1, headers: { Authorization: `Bearer ${await sign('https://evil.test')}` } });
      expect(wrongIssuer.res.status).toBe(401);
    } finally {
      await withJwks.stop();
      jwks.close();
    }
  });
});

describe('a custom authenticate hook', () => {
  it('replaces JWT authentication', async () => {
    const custom = await startTessera(
      {},
      { authenticate: async (req) => (req.headers.get('x-api-key') === 'k1' ? { owner: 'service-1' } : undefined) },
    );
    try {
      expect((await create(custom.endpoint, { length: 1 })).res.status).toBe(401);
      const { res, url } = await create(custom.endpoint, { length: 1, headers: { 'X-Api-Key': 'k1' } });
      expect(res.status).toBe(201);
      expect((await head(url, { 'X-Api-Key': 'k1' })).status).toBe(200);
    } finally {
      await custom.stop();
    }
  });
});

describe('limits', () => {
  it('refuses oversized metadata (400) and oversized headers (431)', async () => {
    const big = await create(server.endpoint, { length: 1, headers: alice, metadata: { note: 'x'.repeat(5000) } });
    expect(big.res.status).toBe(400);
    expect(await big.res.text()).toMatch(/Upload-Metadata is larger than 4096 bytes/);
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(server.endpoint);
      http
        .request({ host: '127.0.0.1', port: u.port, path: u.pathname, method: 'POST', headers: { ...TUS, 'X-Junk': 'y'.repeat(20_000) } })
        .on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(431);
  });

  it('limits the request rate per owner with 429 and Retry-After', async () => {
    const limited = await startTessera({ rateLimitPerMinute: 3 });
    try {
      const statuses: number[] = [];
      let retryAfter: string | null = null;
      for (let i = 0; i < 5; i++) {
        const { res } = await create(limited.endpoint, { length: 1 });
        statuses.push(res.status);
        retryAfter ??= res.headers.get('retry-after');
      }
      expect(statuses).toEqual([201, 201, 201, 429, 429]);
      expect(Number(retryAfter)).toBeGreaterThan(0);
    } finally {
      await limited.stop();
    }
  });

  it('behind a trusted proxy, counts the rate per address the proxy saw (the last X-Forwarded-For / Forwarded entry)', async () => {
    const statusesFor = async (server: RunningTessera, forwarded: readonly Record<string, string>[]) => {
      const statuses: number[] = [];
      for (const headers of forwarded) statuses.push((await create(server.endpoint, { length: 1, headers })).res.status);
      return statuses;
    };
    // Two clients behind one proxy; what a client puts in front of the proxy's entry is not trusted.
    const traffic: Record<string, string>[] = [
      { 'X-Forwarded-For': '203.0.113.7' },
      { 'X-Forwarded-For': '203.0.113.7' },
      { 'X-Forwarded-For': '198.51.100.1, 203.0.113.7' },
      { 'X-Forwarded-For': '203.0.113.8' },
      { Forwarded: 'for=192.0.2.60;proto=http, for="[2001:db8::1]"' },
    ];
    const trusted = await startTessera({ rateLimitPerMinute: 2, trustProxy: true });
    try {
      expect(await statusesFor(trusted, traffic)).toEqual([201, 201, 429, 201, 201]);
    } finally {
      await trusted.stop();
    }
    const direct = await startTessera({ rateLimitPerMinute: 2 });
    try {
      // Without TRUST_PROXY the headers mean nothing: one client, one key.
      expect(await statusesFor(direct, traffic)).toEqual([201, 201, 429, 429, 429]);
    } finally {
      await direct.stop();
    }
  });

  it('limits uploads sending data at once per owner with 429', async () => {
    const limited = await startTessera({ maxConcurrentUploads: 1 });
    try {
      const a = await create(limited.endpoint, { length: 1000 });
      const b = await create(limited.endpoint, { length: 1000 });
      const u = new URL(a.url);
      const slow = http.request({
        host: '127.0.0.1',
        port: u.port,
        path: u.pathname,
        method: 'PATCH',
        headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': 1000 },
      });
      const slowDone = new Promise<number>((resolve) => slow.on('response', (r) => (r.resume(), resolve(r.statusCode ?? 0))));
      slow.write(randomData(10));
      await new Promise((r) => setTimeout(r, 200));
      const second = await patch(b.url, 0, randomData(1000));
      expect(second.status).toBe(429);
      expect(second.headers.get('retry-after')).toBe('1');
      slow.end(randomData(990));
      expect(await slowDone).toBe(204);
      expect((await patch(b.url, 0, randomData(1000))).status).toBe(204);
    } finally {
      await limited.stop();
    }
  });
});
