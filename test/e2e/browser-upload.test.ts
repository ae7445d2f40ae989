import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildWeb } from '../../scripts/build-web.js';
import type { FinishedUpload } from '../../src/tus/completion/tessera-events.js';
import { launchChromium, type HeadlessChromium } from '../support/browser.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { head } from '../support/tus-http.js';

const MiB = 1024 * 1024;
const FILE_SIZE = 20 * MiB;
const CHUNK_SIZE = 1 * MiB;
const PARALLEL = 4;
/** The page's whole upload rate (shared by the partials): ~0.75 MB/s each, ~1.4 s per chunk. */
const UPLOAD_RATE = 3_000_000;
/**
 * Pause once this much reached the server's disk: each partial is then ~0.1 MiB into its
 * third chunk, so the pause cuts four checksummed chunks, which the server must discard.
 */
const PAUSE_AFTER = 8.5 * MiB;
const ARTIFACTS = path.resolve('test-artifacts');

interface SeenPatch {
  readonly uploadId: string;
  readonly offset: number;
  readonly checksum: string | null;
}

/**
 * The upload page in a real headless Chromium: Uppy Dashboard + @uppy/tus with 4 parallel
 * partials, per-PATCH sha256 checksums and the whole-file SHA-256 computed in the browser.
 */
describe('browser upload page (Chromium, Uppy)', () => {
  let server: RunningTessera;
  let browser: HeadlessChromium;
  let workDir: string;
  const patches: SeenPatch[] = [];
  const partialIds = new Set<string>();
  const ready: FinishedUpload[] = [];

  beforeAll(async () => {
    await buildWeb();
    server = await startTessera(
      {},
      {
        hooks: {
          onIncomingRequest: async (req, uploadId) => {
            if (req.method !== 'PATCH') return;
            patches.push({
              uploadId,
              offset: Number(req.headers.get('upload-offset')),
              checksum: req.headers.get('upload-checksum'),
            });
          },
          onUploadCreate: async (req, upload) => {
            if (req.headers.get('upload-concat') === 'partial') partialIds.add(upload.id);
            return {};
          },
          onUploadFinish: async (_req, upload) => {
            ready.push(upload);
            return {};
          },
        },
      },
    );
    browser = await launchChromium();
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-browser-'));
    await fs.mkdir(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    if (workDir) await fs.rm(workDir, { recursive: true, force: true });
  });

  /** Bytes of the partial uploads on the server's disk, in-flight chunks included. */
  const bytesOnDisk = async () => {
    let total = 0;
    for (const id of partialIds) total += await fs.stat(path.join(server.dataDir, id)).then((s) => s.size, () => 0);
    return total;
  };
  const partialOffsets = () =>
    Promise.all([...partialIds].map(async (id) => Number((await head(`${server.endpoint}/${id}`)).headers.get('upload-offset'))));

  it('uploads 20 MiB through the page, pauses, resumes, and shows the verified SHA-256', { timeout: 180_000 }, async () => {
    const { page } = browser;
    const content = randomBytes(FILE_SIZE);
    const digest = createHash('sha256').update(content).digest('hex');
    const file = path.join(workDir, 'browser-20MiB.bin');
    await fs.writeFile(file, content);

    await page.goto(`${server.baseUrl}/?chunkSize=${CHUNK_SIZE}&parallel=${PARALLEL}`);
    await browser.throttleUpload(UPLOAD_RATE);
    await page.locator('input.uppy-Dashboard-input').first().setInputFiles(file);
    await page.locator('button.uppy-StatusBar-actionBtn--upload').click();

    const toggle = page.locator('button[data-cy="togglePauseResume"]');
    await vi.waitFor(async () => expect(await bytesOnDisk()).toBeGreaterThanOrEqual(PAUSE_AFTER), { timeout: 60_000, interval: 20 });
    await toggle.click();
    await expect.poll(() => toggle.getAttribute('title'), { timeout: 10_000 }).toBe('Resume');
    await page.locator('.uppy-StatusBar').getByText('Paused', { exact: false }).first().waitFor();

    // The chunks the pause cut are discarded: each partial settles on a whole number of
    // verified chunks (a server keeping cut bytes never gets there, and this times out).
    await vi.waitFor(async () => {
      for (const offset of await partialOffsets()) expect(offset % CHUNK_SIZE).toBe(0);
    }, { timeout: 10_000, interval: 50 });
    // Paused means paused: from then on no request starts and no offset moves.
    const patchesAtPause = patches.length;
    const offsetsAtPause = await partialOffsets();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(patches.length).toBe(patchesAtPause);
    expect(await partialOffsets()).toEqual(offsetsAtPause);
    const kept = offsetsAtPause.reduce((a, b) => a + b, 0);
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(FILE_SIZE);
    expect(ready).toHaveLength(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'browser-upload-paused.png'), fullPage: true });

    await toggle.click();
    const row = page.locator('#results li.result');
    await page.locator('#results li.result:not([data-status="checking"])').waitFor({ timeout: 120_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'browser-upload.png'), fullPage: true });

    // The page's verdict: the server's SHA-256 equals the one computed in the browser.
    expect(await row.getAttribute('data-status')).toBe('verified');
    expect(await row.getAttribute('data-local-sha256')).toBe(digest);
    expect(await row.getAttribute('data-server-sha256')).toBe(digest);
    await expect.poll(() => row.locator('.result__badge').textContent(), { timeout: 10_000 }).toContain('Verified');
    // One unit system: the results card writes the size as Uppy's card does.
    expect(await row.locator('.result__size').textContent()).toBe(await page.locator('.uppy-Dashboard-Item-statusSize').first().textContent());
    const uploadUrl = (await row.getAttribute('data-upload-url')) ?? '';
    expect(uploadUrl.startsWith(`${server.endpoint}/`)).toBe(true);

    // The server's own view: one verified final of the 4 partials, byte-identical on disk.
    const id = new URL(uploadUrl).pathname.split('/').pop() as string;
    const info = await head(uploadUrl);
    expect(info.status).toBe(200);
    expect(info.headers.get('tessera-upload-status')).toBe('done');
    expect(info.headers.get('tessera-sha256')).toBe(digest);
    expect(info.headers.get('upload-concat')).toMatch(/^final;(\S+ ){3}\S+$/);
    const stored = await fs.readFile(path.join(server.dataDir, id));
    expect(stored.length).toBe(FILE_SIZE);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(digest);

    // Exactly one "file ready", declaring (metadata) and verified with (computed) the same digest.
    expect(ready.map((u) => u.id)).toEqual([id]);
    expect(ready[0]?.metadata?.sha256).toBe(digest);
    expect(ready[0]?.sha256).toBe(digest);

    // Resumed, not restarted: the same 4 partials throughout, every PATCH carried a sha256
    // Upload-Checksum, and after the pause each partial went on from the offset it had kept.
    expect(partialIds.size).toBe(PARALLEL);
    expect(new Set(patches.map((p) => p.uploadId))).toEqual(partialIds);
    for (const p of patches) expect(p.checksum).toMatch(/^sha256 [A-Za-z0-9+/]{43}=$/);
    [...partialIds].forEach((partial, index) => {
      const resumedAt = patches.slice(patchesAtPause).find((p) => p.uploadId === partial)?.offset;
      expect(resumedAt).toBe(offsetsAtPause[index]);
    });
    // Only the cut chunks went twice.
    expect(patches.length).toBeGreaterThan(FILE_SIZE / CHUNK_SIZE);
    expect(patches.length).toBeLessThanOrEqual(FILE_SIZE / CHUNK_SIZE + PARALLEL);

    expect(browser.errors).toEqual([]);
  });
});
