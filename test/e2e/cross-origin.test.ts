import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type HeadlessChromium } from '../support/browser.js';
import { servePage, type PageServer } from '../support/browser-page-server.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';

const MiB = 1024 * 1024;

interface PageResult {
  readonly url?: string;
  readonly error?: string;
  /** The HTTP status behind an error, when the page could read it. */
  readonly status?: number;
  readonly statuses: number[];
}

/**
 * Issue #14, finding 11: the usual deployment serves the app from one origin and uploads to
 * another. Every answer Tessera gives, successes, the final POST's 201 and errors alike, must
 * be readable by a page on another origin, or tus-js-client and Uppy fail with a bare
 * ProgressEvent. Real Chromium, a page served by its own HTTP server on another port.
 */
describe.each([
  { name: 'any origin allowed (default)', allowList: false },
  { name: 'an allow-list naming the page origin', allowList: true },
])('a page on another origin, $name', ({ allowList }) => {
  let server: RunningTessera;
  let pageServer: PageServer;
  let browser: HeadlessChromium;
  let page: Page;
  const data = randomBytes(6 * MiB + 123);
  const sha256 = createHash('sha256').update(data).digest('hex');

  beforeAll(async () => {
    pageServer = await servePage(
      `import * as tus from 'tus-js-client';
       import { withChecksum } from './src/client/index.ts';
       globalThis.crossOrigin = { tus, withChecksum };`,
      data,
    );
    const pageOrigin = pageServer.origin;
    server = await startTessera(allowList ? { corsOrigins: ['https://app.example', pageOrigin] } : {});
    expect(new URL(server.baseUrl).origin).not.toBe(pageOrigin);
    browser = await launchChromium();
    page = browser.page;
    await page.goto(`${pageOrigin}/`);
    await page.waitForFunction(() => 'crossOrigin' in globalThis);
  });

  afterAll(async () => {
    await browser?.close();
    await pageServer?.close();
    await server?.stop();
  });

  function upload(options: { parallel?: number; checksum?: boolean; sha256?: string }): Promise<PageResult> {
    return page.evaluate(
      async ({ endpoint, parallel, checksum, sha256, chunkSize }) => {
        const { tus, withChecksum } = (globalThis as unknown as { crossOrigin: any }).crossOrigin;
        const blob = await (await fetch('/data.bin')).blob();
        const statuses: number[] = [];
        return new Promise<PageResult>((resolve) => {
          const upload = new tus.Upload(blob, {
            endpoint,
            chunkSize,
            retryDelays: null,
            parallelUploads: parallel,
            metadata: sha256 ? { filename: 'data.bin', sha256 } : { filename: 'data.bin' },
            ...(checksum ? { httpStack: withChecksum(new tus.DefaultHttpStack({}), { algorithm: 'sha256' }) } : {}),
            onAfterResponse: (_req: unknown, res: { getStatus(): number }) => {
              statuses.push(res.getStatus());
            },
            onSuccess: () => resolve({ url: upload.url, statuses }),
            onError: (error: Error & { originalResponse?: { getStatus(): number } | null }) =>
              resolve({ error: String(error), status: error.originalResponse?.getStatus(), statuses }),
          });
          upload.start();
        });
      },
      { endpoint: server.endpoint, chunkSize: MiB, ...options },
    );
  }

  const stored = (url: string) => fs.readFile(path.join(server.dataDir, url.split('/').pop() ?? ''));

  it('uploads in one go', async () => {
    const result = await upload({ sha256 });
    expect(result.error).toBeUndefined();
    expect((await stored(result.url ?? '')).equals(data)).toBe(true);
  });

  it('uploads with parallelUploads: 4 (partials, then the final POST the page must read)', async () => {
    const result = await upload({ parallel: 4, sha256 });
    expect(result.error).toBeUndefined();
    expect(result.statuses.filter((s) => s === 201)).toHaveLength(5);
    expect((await stored(result.url ?? '')).equals(data)).toBe(true);
  });

  it('uploads with parallelUploads: 4 and a sha256 Upload-Checksum on every PATCH', async () => {
    const result = await upload({ parallel: 4, checksum: true, sha256 });
    expect(result.error).toBeUndefined();
    expect((await stored(result.url ?? '')).equals(data)).toBe(true);
  });

  it('reads an error answer (460 for a wrong whole-file SHA-256) instead of a bare ProgressEvent', async () => {
    const result = await upload({ parallel: 4, sha256: '0'.repeat(64) });
    expect(result.status).toBe(460);
    const single = await upload({ sha256: '0'.repeat(64) });
    expect(single.status).toBe(460);
  });
});
