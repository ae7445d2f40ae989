import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb } from '../../scripts/build-web.js';
import type { FinishedUpload } from '../../src/tus/completion/tessera-events.js';
import { launchChromium, type HeadlessChromium } from '../support/browser.js';
import { startCorruptingProxy, type CorruptingProxy } from '../support/corrupting-proxy.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { head } from '../support/tus-http.js';

const MiB = 1024 * 1024;
const FILE_SIZE = 6 * MiB;
const CHUNK_SIZE = 1 * MiB;

interface SeenRequest {
  readonly method: string;
  readonly concat: string | undefined;
  status?: number;
  location?: string;
}

/**
 * The page when bytes go bad in transit (a proxy flips one bit of one PATCH body): with
 * per-chunk checksums the server refuses the chunk and the page resends it; without them the
 * whole-file SHA-256 catches it, and the page shows the failure instead of retrying.
 */
describe('browser upload page when bytes are corrupted in transit', () => {
  let server: RunningTessera;
  let browser: HeadlessChromium;
  let proxy: CorruptingProxy | undefined;
  let workDir: string;
  const ready: FinishedUpload[] = [];

  beforeAll(async () => {
    await buildWeb();
    server = await startTessera(
      {},
      {
        hooks: {
          onUploadFinish: async (_req, upload) => {
            ready.push(upload);
            return {};
          },
        },
      },
    );
    browser = await launchChromium();
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-browser-'));
  });
  afterEach(async () => {
    await proxy?.stop();
    proxy = undefined;
  });
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (workDir) await fs.rm(workDir, { recursive: true, force: true });
  });

  /**
   * Uploads a fresh random file through the page behind a proxy that corrupts the 3rd PATCH;
   * with `pauseAfterPatches`, the upload is throttled, paused after that many PATCHes and resumed.
   */
  async function uploadThroughCorruptingProxy(query: string, size = FILE_SIZE, pauseAfterPatches?: number) {
    proxy = await startCorruptingProxy(server.baseUrl, { corruptPatch: 3, byteIndex: 12_345 });
    const content = randomBytes(size);
    const file = path.join(workDir, `${randomBytes(4).toString('hex')}.bin`);
    await fs.writeFile(file, content);
    const page = await browser.context.newPage();
    const requests: SeenRequest[] = [];
    page.on('request', (req) => {
      if (!req.url().startsWith(`${proxy?.url}/files`)) return;
      const seen: SeenRequest = { method: req.method(), concat: req.headers()['upload-concat'] };
      requests.push(seen);
      void req.response().then((res) => {
        seen.status = res?.status();
        seen.location = res?.headers().location;
      });
    });
    const errors: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(`${proxy.url}/?chunkSize=${CHUNK_SIZE}&parallel=2&${query}`);
    if (pauseAfterPatches) await browser.throttleUpload(4_000_000, page);
    await page.locator('input.uppy-Dashboard-input').first().setInputFiles(file);
    await page.locator('button.uppy-StatusBar-actionBtn--upload').click();
    if (pauseAfterPatches) {
      const toggle = page.locator('button[data-cy="togglePauseResume"]');
      await expect.poll(() => proxy?.patches, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(pauseAfterPatches);
      await toggle.click();
      await expect.poll(() => toggle.getAttribute('title'), { timeout: 10_000 }).toBe('Resume');
      await toggle.click();
    }
    const row = page.locator('#results li.result');
    await page.locator('#results li.result:not([data-status="checking"])').waitFor({ timeout: 60_000 });
    return { page, row, requests, errors, digest: createHash('sha256').update(content).digest('hex') };
  }

  it('sends a file below the parallel threshold as one plain upload, verified the same way', async () => {
    const size = 3 * MiB + 7;
    const { page, row, requests, digest } = await uploadThroughCorruptingProxy('checksum=sha256&parallelThreshold=4194304', size);
    expect(await row.getAttribute('data-status')).toBe('verified');
    expect(await row.getAttribute('data-server-sha256')).toBe(digest);
    // No partials, no final: one creation, then 4 chunks, the 3rd refused once and resent in two
    // halves (a damaged chunk halves the chunk size until two get through: withAdaptiveChunks).
    expect(requests.filter((r) => r.concat !== undefined)).toEqual([]);
    expect(requests.filter((r) => r.method === 'POST')).toHaveLength(1);
    expect(requests.filter((r) => r.method === 'PATCH').map((r) => r.status)).toEqual([204, 204, 460, 204, 204, 204]);
    const id = new URL((await row.getAttribute('data-upload-url')) ?? '').pathname.split('/').pop() as string;
    expect(createHash('sha256').update(await fs.readFile(path.join(server.dataDir, id))).digest('hex')).toBe(digest);
    await page.close();
  });

  it('resends a chunk the server refused with 460 and ends verified', async () => {
    const { page, row, requests, errors, digest } = await uploadThroughCorruptingProxy('checksum=sha256');
    expect(proxy?.corrupted).toBe(1);

    expect(await row.getAttribute('data-status')).toBe('verified');
    expect(await row.getAttribute('data-server-sha256')).toBe(digest);
    const id = new URL((await row.getAttribute('data-upload-url')) ?? '').pathname.split('/').pop() as string;
    expect(createHash('sha256').update(await fs.readFile(path.join(server.dataDir, id))).digest('hex')).toBe(digest);
    expect(ready.filter((u) => u.id === id)).toHaveLength(1);

    // The refused chunk was answered 460 and sent again in two halves: two more PATCHes than the
    // file has chunks.
    const patches = requests.filter((r) => r.method === 'PATCH');
    expect(patches.filter((r) => r.status === 460)).toHaveLength(1);
    expect(patches).toHaveLength(FILE_SIZE / CHUNK_SIZE + 2);
    expect(errors.filter((e) => !e.includes('460'))).toEqual([]);
    await page.close();
  });

  it('still reports a whole-file mismatch after a pause and resume (tus-js-client drops it unpatched)', async () => {
    const { page, row, requests } = await uploadThroughCorruptingProxy('checksum=none', FILE_SIZE, 3);
    expect(proxy?.corrupted).toBe(1);
    expect(await row.getAttribute('data-status')).toBe('failed');
    expect(await row.locator('.result__facts').textContent()).toContain('SHA-256 mismatch');
    expect(requests.filter((r) => r.method === 'POST' && r.concat?.startsWith('final;'))).toHaveLength(1);
    await page.close();
  });

  it('shows a failed upload, without retrying, when the whole-file SHA-256 does not match; Retry then starts afresh', async () => {
    const { page, row, requests, digest } = await uploadThroughCorruptingProxy('checksum=none');
    expect(proxy?.corrupted).toBe(1);
    await page.screenshot({ path: path.resolve('test-artifacts', 'browser-upload-sha256-mismatch.png'), fullPage: true });

    expect(await row.getAttribute('data-status')).toBe('failed');
    expect(await row.locator('.result__facts').textContent()).toContain('SHA-256 mismatch');
    // One final POST, answered 460: the page does not retry what no retry can fix.
    const finals = requests.filter((r) => r.method === 'POST' && r.concat?.startsWith('final;'));
    expect(finals).toHaveLength(1);
    expect(finals[0]?.status).toBe(460);

    // The server agrees: nothing was reported ready, and the final says it failed.
    expect(ready.filter((u) => u.metadata?.sha256 === digest)).toHaveLength(0);
    const finalPath = new URL(finals[0]?.location ?? '', server.baseUrl).pathname;
    const info = await head(`${server.baseUrl}${finalPath}`);
    expect(info.status).toBe(460);
    expect(info.headers.get('tessera-upload-status')).toBe('failed');
    expect(info.headers.get('tessera-sha256')).not.toBe(digest);

    // Retry must not resume the complete-but-corrupt partials: the page forgot them, so a
    // fresh upload (the proxy corrupts only once) ends verified.
    const storedBefore = (await page.evaluate('JSON.stringify(Object.entries(localStorage))')) as string;
    expect(storedBefore).not.toContain(digest);
    const partialsBefore = requests.filter((r) => r.method === 'POST' && r.concat === 'partial').length;
    await page.locator('button.uppy-StatusBar-actionBtn--retry').click();
    await page.locator('#results li.result[data-status="verified"]').waitFor({ timeout: 60_000 });
    expect(await row.getAttribute('data-server-sha256')).toBe(digest);
    expect(requests.filter((r) => r.method === 'POST' && r.concat === 'partial').length).toBe(partialsBefore + 2);
    expect(ready.filter((u) => u.metadata?.sha256 === digest)).toHaveLength(1);
    await page.close();
  });
});
