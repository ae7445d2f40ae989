import http from 'node:http';
import { describe, expect, it } from 'vitest';
import { memoryLog } from '../support/memory-log.js';
import { rawRequest } from '../support/raw-http.js';
import { startTessera } from '../support/tessera.js';
import { create, del, head, patch, randomData } from '../support/tus-http.js';

describe('structured logs', () => {
  it('are JSON lines, and every line about an upload carries its uploadId', async () => {
    const { logger, lines } = memoryLog('info');
    // A nested tus path: the collection's last segment must not pass for an upload id.
    const server = await startTessera({ tusPath: '/api/files' }, { logger });
    let id = '';
    try {
      const { res, url } = await create(server.endpoint, { length: 10, metadata: { filename: 'x' } });
      expect(res.status).toBe(201);
      id = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
      expect((await patch(url, 0, randomData(4))).status).toBe(204);
      expect((await patch(url, 0, randomData(4))).status).toBe(409);
      expect((await head(url)).status).toBe(200);
      expect((await patch(url, 4, randomData(6))).status).toBe(204);
      // A client that closes its connection as soon as it has every byte (Content-Length): the
      // server has ended the response by then (it ends with its stream), so the line says completed.
      const download = await rawRequest(server.baseUrl, 'GET', new URL(url).pathname);
      expect(download.status).toBe(200);
      expect(download.body.length).toBe(10);
      expect((await del(url)).status).toBe(204);
      expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
    } finally {
      await server.stop();
    }

    for (const line of lines) {
      expect(line).toMatchObject({ level: expect.any(Number), time: expect.any(Number), msg: expect.any(String) });
    }
    const requestLines = lines.filter((l) => l.msg === 'request completed');
    const seen = requestLines.map((l) => {
      const req = l.req as { method: string; url: string };
      const res = l.res as { statusCode: number };
      return `${req.method} ${res.statusCode}`;
    });
    expect(seen).toEqual(['POST 201', 'PATCH 204', 'PATCH 409', 'HEAD 200', 'PATCH 204', 'GET 200', 'DELETE 204']);
    for (const line of requestLines) expect(line.uploadId).toBe(id);

    for (const msg of ['upload created', 'upload finished', 'upload terminated']) {
      const line = lines.find((l) => l.msg === msg);
      expect(line, msg).toBeDefined();
      expect(line?.uploadId).toBe(id);
    }
    // Probes stay out of the log.
    expect(lines.some((l) => (l.req as { url?: string } | undefined)?.url === '/healthz')).toBe(false);
  });

  it('puts no uploadId on requests that concern no upload', async () => {
    const { logger, lines } = memoryLog('info');
    const server = await startTessera({}, { logger });
    try {
      expect((await fetch(server.endpoint, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0' } })).status).toBe(400);
      expect((await fetch(server.endpoint, { method: 'OPTIONS' })).status).toBe(204);
    } finally {
      await server.stop();
    }
    const requestLines = lines.filter((l) => l.msg === 'request completed');
    expect(requestLines).toHaveLength(2);
    for (const line of requestLines) expect(line).not.toHaveProperty('uploadId');
  });
});

describe('unexpected errors', () => {
  it('answer 500 with a fixed line, never the internal message, and log the request as errored', async () => {
    const { logger, lines } = memoryLog('info');
    const server = await startTessera(
      {},
      {
        logger,
        hooks: {
          onIncomingRequest: async () => {
            throw new Error('secret internal detail at /srv/data/x');
          },
        },
      },
    );
    try {
      const res = await fetch(`${server.endpoint}/${'a'.repeat(32)}`, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' } });
      expect(res.status).toBe(500);
      const del = await fetch(`${server.endpoint}/${'a'.repeat(32)}`, { method: 'DELETE', headers: { 'Tus-Resumable': '1.0.0' } });
      expect(del.status).toBe(500);
      expect(await del.text()).toBe('Internal server error\n');
    } finally {
      await server.stop();
    }
    const errored = lines.filter((l) => l.msg === 'request errored');
    expect(errored.map((l) => [l.level, (l.req as { method: string }).method, (l.res as { statusCode: number }).statusCode, l.uploadId])).toEqual([
      [50, 'HEAD', 500, 'a'.repeat(32)],
      [50, 'DELETE', 500, 'a'.repeat(32)],
    ]);
  });

  it('a request whose client goes away mid-body is logged as aborted', async () => {
    const { logger, lines } = memoryLog('info');
    const server = await startTessera({}, { logger });
    try {
      const { url } = await create(server.endpoint, { length: 1024 * 1024 });
      await new Promise<void>((resolve) => {
        const req = http.request(url, {
          method: 'PATCH',
          headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': String(1024 * 1024) },
        });
        req.on('error', () => resolve());
        req.write(randomData(1000), () => setTimeout(() => req.destroy(), 100));
      });
      for (let i = 0; i < 100 && !lines.some((l) => l.msg === 'request aborted'); i += 1) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await server.stop();
    }
    const aborted = lines.find((l) => l.msg === 'request aborted');
    expect(aborted).toMatchObject({ level: 40, req: { method: 'PATCH' } });
    expect(typeof aborted?.responseTime).toBe('number');
  });
});
