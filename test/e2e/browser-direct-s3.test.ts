import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb } from '../../scripts/build-web.js';
import type { FinishedUpload } from '../../src/tus/completion/tessera-events.js';
import { launchChromium, type HeadlessChromium } from '../support/browser.js';
import { bucketContents, newBucket, s3ClientFor, startS3Backend, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import type { RunningTessera } from '../support/tessera.js';
import { head } from '../support/tus-http.js';

const MiB = 1024 * 1024;

/**
 * Issue #18: the upload page in a real headless Chromium sends a file straight into a real S3
 * (Ceph RGW, through the test's fault proxy) with Uppy's @uppy/aws-s3: Tessera only creates the
 * upload, signs the parts and completes it. The page is on Tessera's origin and the bucket on
 * another: the bucket's CORS rule lets the page PUT and read ETag, and the page's CSP names the
 * bucket's origin. The SHA-256 the page computed is verified by the server against the object.
 */
describe('upload page, straight to S3 (Chromium, @uppy/aws-s3, Ceph RGW)', () => {
  let s3: S3ServerProcess;
  let bucket: string;
  let server: RunningTessera;
  let browser: HeadlessChromium;
  let workDir: string;
  const ready: FinishedUpload[] = [];

  beforeAll(async () => {
    await buildWeb();
    s3 = await startS3Backend('ceph-rgw');
    const client = s3ClientFor(s3);
    bucket = await newBucket(client, 'page-direct');
    server = await startTesseraOnS3(
      s3,
      bucket,
      { s3Direct: { partUrlTtlMs: 300_000 }, webUi: true, webUiPath: '/' },
      { hooks: { onUploadFinish: async (_req, upload) => (ready.push(upload), {}) } },
    );
    await client.putBucketCors({
      Bucket: bucket,
      CORSConfiguration: { CORSRules: [{ AllowedOrigins: [server.baseUrl], AllowedMethods: ['PUT'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'] }] },
    });
    browser = await launchChromium();
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-direct-page-'));
  }, 180_000);
  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    await s3?.stop();
    if (workDir) await fs.rm(workDir, { recursive: true, force: true });
  });

  it('offers the mode, uploads 12 MiB in parts straight into the bucket, and shows the SHA-256 the server verified against the object', { timeout: 180_000 }, async () => {
    const { page } = browser;
    const content = randomBytes(12 * MiB + 12345);
    const digest = createHash('sha256').update(content).digest('hex');
    const file = path.join(workDir, 'direct-12MiB.bin');
    await fs.writeFile(file, content);

    // The page may connect to its own origin and the bucket's, nowhere else.
    const served = await fetch(`${server.baseUrl}/`);
    expect(served.headers.get('content-security-policy')).toContain(`connect-src 'self' ${new URL(s3.endpoint).origin};`);
    expect(await served.text()).toContain('<meta name="tessera-direct" content="on" />');

    await page.goto(`${server.baseUrl}/`);
    const mode = page.locator('#mode');
    expect(await mode.textContent()).toContain('Files go through Tessera (tus).');
    await mode.getByRole('link', { name: 'send straight to S3 instead' }).click();
    await page.waitForURL(/\?mode=direct$/);
    expect(await page.locator('#settings').textContent()).toContain('straight to S3');

    await page.locator('input.uppy-Dashboard-input').first().setInputFiles(file);
    await page.locator('button.uppy-StatusBar-actionBtn--upload').click();
    const row = page.locator('#results li.result');
    await page.locator('#results li.result:not([data-status="checking"])').waitFor({ timeout: 120_000 });
    expect(await row.getAttribute('data-status')).toBe('verified');
    expect(await row.getAttribute('data-server-sha256')).toBe(digest);
    const uploadUrl = (await row.getAttribute('data-upload-url')) ?? '';
    expect(uploadUrl.startsWith(`${server.endpoint}/`)).toBe(true);
    expect(browser.errors).toEqual([]);

    // The bytes went to S3 as parts (none through Tessera's PATCH), and the object is the file.
    const key = new URL(uploadUrl).pathname.split('/').pop() as string;
    const stats = await s3.stats();
    expect(stats.UploadPart?.requests ?? 0).toBeGreaterThanOrEqual(3);
    const object = await s3ClientFor(s3).getObject({ Bucket: bucket, Key: key });
    expect(Buffer.from(await (object.Body?.transformToByteArray() ?? new Uint8Array())).equals(content)).toBe(true);
    const status = await head(uploadUrl);
    expect(status.headers.get('tessera-upload-status')).toBe('done');
    expect(status.headers.get('tessera-sha256')).toBe(digest);
    expect(ready.map((u) => [u.id, u.sha256])).toEqual([[key, digest]]);
    expect((await bucketContents(s3ClientFor(s3), bucket)).uploads).toEqual([]);
  });
});
