import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servePage, type PageServer } from '../support/browser-page-server.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const MiB = 1024 * 1024;

function expectedChecksum(algorithm: string, chunk: Buffer): string {
  if (algorithm !== 'crc32') return `${algorithm} ${createHash(algorithm).update(chunk).digest('base64')}`;
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(chunk) >>> 0);
  return `crc32 ${out.toString('base64')}`;
}

interface PageResult {
  readonly url?: string;
  readonly error?: string;
  readonly checksums: (string | null)[];
}

/**
 * The helper in a real browser: bundled by esbuild for the browser (tus-js-client's XHR
 * stack, WebCrypto, pure-JS CRC-32), served from 127.0.0.1 (a secure context, so
 * crypto.subtle exists), uploading a Blob to Tessera across origins.
 */
describe('the checksum helper in Chromium', () => {
  let server: RunningTessera;
  let pageServer: PageServer;
  let browser: Browser;
  let page: Page;
  const data = randomBytes(3 * MiB + 17);

  beforeAll(async () => {
    server = await startTessera();
    pageServer = await servePage(
      `import * as tus from 'tus-js-client';
       import { withChecksum } from './src/client/index.ts';
       globalThis.checksumTest = { tus, withChecksum };`,
      data,
    );
    await fs.access(CHROMIUM).catch(() => {
      throw new Error(`Chromium not found at ${CHROMIUM} (Debian: apt-get install chromium; or set CHROMIUM_PATH)`);
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage();
    await page.goto(`${pageServer.origin}/`);
    await page.waitForFunction(() => 'checksumTest' in globalThis);
  });

  afterAll(async () => {
    await browser?.close();
    await pageServer?.close();
    await server?.stop();
  });

  /** Uploads /data.bin as a Blob from the page, in 1 MiB chunks, with `algorithm`. */
  function uploadFromPage(algorithm: string): Promise<PageResult> {
    return page.evaluate(
      async ({ endpoint, algorithm, chunkSize }) => {
        // Types of the bundle's globals are not visible here; the shape is the one set above.
        const { tus, withChecksum } = (globalThis as unknown as { checksumTest: any }).checksumTest;
        const blob = await (await fetch('/data.bin')).blob();
        const checksums: (string | null)[] = [];
        return new Promise<PageResult>((resolve) => {
          let stack;
          try {
            stack = withChecksum(new tus.DefaultHttpStack({}), { algorithm });
          } catch (error) {
            resolve({ error: String(error), checksums });
            return;
          }
          const upload = new tus.Upload(blob, {
            endpoint,
            chunkSize,
            retryDelays: null,
            httpStack: stack,
            onAfterResponse: (req: { getMethod(): string; getHeader(h: string): string | undefined }) => {
              if (req.getMethod() === 'PATCH') checksums.push(req.getHeader('Upload-Checksum') ?? null);
            },
            onSuccess: () => resolve({ url: upload.url, checksums }),
            onError: (error: Error) => resolve({ error: String(error), checksums }),
          });
          upload.start();
        });
      },
      { endpoint: server.endpoint, algorithm, chunkSize: MiB },
    );
  }

  const stored = (url: string) => fs.readFile(path.join(server.dataDir, decodeURIComponent(url.split('/').pop() ?? '')));

  it.each(['sha256', 'sha1', 'sha512', 'crc32'])('uploads a Blob with %s checksums byte-identically', async (algorithm) => {
    const result = await uploadFromPage(algorithm);
    expect(result.error).toBeUndefined();
    // The browser's digests (WebCrypto / pure-JS CRC-32) are exactly Node's, chunk by chunk.
    expect(result.checksums).toEqual([0, 1, 2, 3].map((i) => expectedChecksum(algorithm, data.subarray(i * MiB, (i + 1) * MiB))));
    expect((await stored(result.url ?? '')).equals(data)).toBe(true);
  });

  it('reports that md5 needs a createHash implementation in browsers', async () => {
    const result = await uploadFromPage('md5');
    expect(result.error).toMatch(/md5 is not available here/);
    expect(result.checksums).toHaveLength(0);
  });
});
