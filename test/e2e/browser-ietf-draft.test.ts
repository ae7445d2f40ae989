import { createHash, randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, type HeadlessChromium } from '../support/browser.js';
import { servePage, type PageServer } from '../support/browser-page-server.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { head } from '../support/tus-http.js';

const MiB = 1024 * 1024;

interface PageResult {
  readonly url?: string;
  readonly error?: string;
  readonly offsets: number[];
}

/**
 * Issue #17: tus-js-client's IETF draft modes (`ietf-draft-03` = interop 5, `ietf-draft-05` =
 * interop 6) in a real Chromium, from a page on another origin: every draft answer (201, 204,
 * the completion fields, Upload-Offset) must be readable across origins, and an upload
 * interrupted in the browser resumes from the server's offset.
 */
describe('IETF draft uploads from a browser on another origin (Chromium, tus-js-client)', () => {
  let server: RunningTessera;
  let pageServer: PageServer;
  let browser: HeadlessChromium;
  let page: Page;
  const data = randomBytes(3 * MiB + 77);
  const sha256 = createHash('sha256').update(data).digest('hex');

  beforeAll(async () => {
    pageServer = await servePage(`import * as tus from 'tus-js-client'; globalThis.draft = { tus };`, data);
    server = await startTessera({ corsOrigins: [pageServer.origin] });
    browser = await launchChromium();
    page = browser.page;
    await page.goto(`${pageServer.origin}/`);
    await page.waitForFunction(() => 'draft' in globalThis);
  });
  afterAll(async () => {
    await browser?.close();
    await pageServer?.close();
    await server?.stop();
  });

  /** Uploads the page's data with `protocol`, stopping after `stopAfter` bytes when given; resumes `uploadUrl`. */
  const upload = (protocol: string, options: { stopAfter?: number; uploadUrl?: string } = {}) =>
    page.evaluate(
      async ({ endpoint, protocol, stopAfter, uploadUrl, sha256 }) => {
        const { tus } = (globalThis as unknown as { draft: { tus: any } }).draft;
        const blob = await (await fetch('/data.bin')).blob();
        const offsets: number[] = [];
        return new Promise<PageResult>((resolve) => {
          const upload = new tus.Upload(blob, {
            endpoint,
            protocol,
            uploadUrl,
            chunkSize: 512 * 1024,
            retryDelays: null,
            metadata: { filename: 'draft.bin', sha256 },
            onAfterResponse: (_req: unknown, res: { getHeader(name: string): string | undefined }) => {
              const offset = res.getHeader('Upload-Offset');
              if (offset !== undefined) offsets.push(Number(offset));
            },
            onChunkComplete: (_size: number, accepted: number) => {
              if (stopAfter !== undefined && accepted >= stopAfter) void upload.abort().then(() => resolve({ url: upload.url, offsets }));
            },
            onSuccess: () => resolve({ url: upload.url, offsets }),
            onError: (error: Error) => resolve({ error: String(error), offsets }),
          });
          upload.start();
        });
      },
      { endpoint: server.endpoint, protocol, stopAfter: options.stopAfter, uploadUrl: options.uploadUrl, sha256 },
    );

  it.each(['ietf-draft-03', 'ietf-draft-05'])("'%s': interrupted after 1 MiB, resumed from the server's offset, verified", async (protocol) => {
    const first = await upload(protocol, { stopAfter: 1 * MiB });
    expect(first.error).toBeUndefined();
    expect(first.url).toMatch(/\/files\/[0-9a-f]{32}$/);
    const resumed = await upload(protocol, { uploadUrl: first.url as string });
    expect(resumed.error).toBeUndefined();
    expect(resumed.url).toBe(first.url);
    // The resumed run started where the server was (its offset answers were readable cross-origin).
    expect(resumed.offsets[0]).toBeGreaterThanOrEqual(1 * MiB);
    expect(resumed.offsets.at(-1)).toBe(data.length);
    const status = await head(first.url as string);
    expect(status.headers.get('tessera-upload-status')).toBe('done');
    expect(status.headers.get('tessera-sha256')).toBe(sha256);
    expect(browser.errors).toEqual([]);
  });
});
