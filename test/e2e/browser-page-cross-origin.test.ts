import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb } from '../../scripts/build-web.js';
import { launchChromium, type HeadlessChromium } from '../support/browser.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { head } from '../support/tus-http.js';

const MiB = 1024 * 1024;

/**
 * Issue #14, finding 11: the upload page itself (Uppy, 4 parallel partials, a sha256
 * Upload-Checksum on every PATCH, the whole-file SHA-256) hosted on another origin than the
 * tus endpoint, the usual app-host / upload-host split, in real Chromium, under a strict
 * Content-Security-Policy that allows connections to the upload host only.
 */
describe('the upload page served from another origin', () => {
  let server: RunningTessera;
  let pageHost: http.Server;
  let pageOrigin: string;
  let browser: HeadlessChromium;
  let workDir: string;

  beforeAll(async () => {
    server = await startTessera({ corsOrigins: [] });
    workDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-page-'));
    const { outDir } = await buildWeb(path.join(workDir, 'web'));
    const index = (await fs.readFile(path.join(outDir, 'index.html'), 'utf8')).replaceAll('%TESSERA_ENDPOINT%', server.endpoint);
    const csp = `default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' ${new URL(server.baseUrl).origin}`;
    pageHost = http.createServer((req, res) => {
      const name = (req.url ?? '/').split('?')[0] === '/' ? 'index.html' : path.basename(req.url ?? '');
      const type = name.endsWith('.js') ? 'text/javascript' : name.endsWith('.css') ? 'text/css' : 'text/html';
      const body = name === 'index.html' ? Promise.resolve(Buffer.from(index)) : fs.readFile(path.join(outDir, name));
      body.then(
        (bytes) => res.writeHead(200, { 'Content-Type': type, 'Content-Security-Policy': csp }).end(bytes),
        () => res.writeHead(404).end(),
      );
    });
    await new Promise<void>((resolve) => pageHost.listen(0, '127.0.0.1', resolve));
    pageOrigin = `http://127.0.0.1:${(pageHost.address() as AddressInfo).port}`;
    browser = await launchChromium();
  });

  afterAll(async () => {
    await browser?.close();
    await new Promise<void>((resolve) => pageHost?.close(() => resolve()));
    await server?.stop();
    if (workDir) await fs.rm(workDir, { recursive: true, force: true });
  });

  it('uploads a file in 4 checksummed partials and shows the verified SHA-256', { timeout: 120_000 }, async () => {
    expect(pageOrigin).not.toBe(new URL(server.baseUrl).origin);
    const content = randomBytes(6 * MiB + 5);
    const digest = createHash('sha256').update(content).digest('hex');
    const file = path.join(workDir, 'cross-origin.bin');
    await fs.writeFile(file, content);

    const { page } = browser;
    await page.goto(`${pageOrigin}/?chunkSize=${MiB}&parallel=4&parallelThreshold=0`);
    await page.locator('input.uppy-Dashboard-input').first().setInputFiles(file);
    await page.locator('button.uppy-StatusBar-actionBtn--upload').click();
    const row = page.locator('#results li.result');
    await page.locator('#results li.result:not([data-status="checking"])').waitFor({ timeout: 90_000 });

    expect(await row.getAttribute('data-status')).toBe('verified');
    expect(await row.getAttribute('data-server-sha256')).toBe(digest);
    const uploadUrl = (await row.getAttribute('data-upload-url')) ?? '';
    expect(uploadUrl.startsWith(`${server.endpoint}/`)).toBe(true);
    const info = await head(uploadUrl);
    expect(info.headers.get('tessera-upload-status')).toBe('done');
    expect(info.headers.get('upload-concat')).toMatch(/^final;(\S+ ){3}\S+$/);
    expect(browser.errors).toEqual([]);
  });
});
