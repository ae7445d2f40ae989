import http from 'node:http';
import { EVENTS, type Upload } from '@tus/utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, head, patch, randomData } from '../support/tus-http.js';

/**
 * Tessera's own PATCH step (src/tus/patch-handler.ts) keeps what @tus/server's PatchHandler
 * promised its listeners: POST_FINISH once, for the PATCH that stored the last byte, and
 * POST_RECEIVE progress while a body arrives.
 */
describe('the PATCH step and @tus/server events', () => {
  let server: RunningTessera;
  beforeEach(async () => {
    server = await startTessera();
  });
  afterEach(() => server.stop());

  it('POST_FINISH fires once, for the PATCH that stored the last byte; not for a re-sent empty last PATCH', async () => {
    const finished: string[] = [];
    server.tessera.tus.on(EVENTS.POST_FINISH, (_req: Request, _res: Response, upload: Upload) => finished.push(upload.id));
    const { url } = await create(server.endpoint, { length: 6 });
    const id = new URL(url).pathname.split('/').pop();
    expect((await patch(url, 0, randomData(3))).status).toBe(204);
    expect(finished).toEqual([]);
    expect((await patch(url, 3, randomData(3))).status).toBe(204);
    expect((await patch(url, 6, Buffer.alloc(0))).status).toBe(204);
    expect(finished).toEqual([id]);
  });

  it('POST_RECEIVE reports the offset while a slow body arrives (at most once per second)', async () => {
    const progress: number[] = [];
    let reported: () => void = () => {};
    const firstReport = new Promise<void>((resolve) => (reported = resolve));
    server.tessera.tus.on(EVENTS.POST_RECEIVE, (_source: unknown, upload: Upload) => {
      progress.push(upload.offset);
      reported();
    });
    const { url } = await create(server.endpoint, { length: 1000 });
    const req = http.request(url, {
      method: 'PATCH',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': '1000' },
    });
    const answered = new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
    // One byte at a time until the server reports progress (it does once a second has passed),
    // bounded: 10 bytes a second for at most 30 s.
    let sent = 0;
    let done = false;
    void firstReport.then(() => (done = true));
    while (!done && sent < 300) {
      req.write(Buffer.alloc(1));
      sent += 1;
      await Promise.race([firstReport, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
    req.end(Buffer.alloc(1000 - sent));
    expect((await answered).statusCode).toBe(204);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toBeGreaterThan(0);
    expect(progress[0]).toBeLessThanOrEqual(sent);
    expect((await head(url)).headers.get('upload-offset')).toBe('1000');
  });
});
