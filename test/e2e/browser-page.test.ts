import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWeb } from '../../scripts/build-web.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { mountWebUi } from '../../src/http/web-ui.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { TUS } from '../support/tus-http.js';

/** How the server serves the upload page (no browser needed): paths, headers, the off switch. */
describe('upload page serving', () => {
  const servers: RunningTessera[] = [];
  const start = async (...args: Parameters<typeof startTessera>) => {
    const running = await startTessera(...args);
    servers.push(running);
    return running;
  };

  beforeAll(async () => {
    await buildWeb();
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('serves the page at / with the tus endpoint filled in, its bundle, and a strict CSP', async () => {
    const { baseUrl } = await start({ tusPath: '/uploads' });
    const page = await fetch(`${baseUrl}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('<meta name="tessera-endpoint" content="/uploads" />');
    expect(html).not.toContain('%TESSERA_ENDPOINT%');
    // No S3_DIRECT: the page offers no direct-to-S3 mode.
    expect(html).toContain('<meta name="tessera-direct" content="" />');
    // Everything comes from this server: no CDN, no other origin.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);

    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(csp).toContain("connect-src 'self'");
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');

    const script = await fetch(`${baseUrl}/app.js`);
    expect(script.status).toBe(200);
    expect(script.headers.get('content-type')).toMatch(/javascript/);
    const bundle = await script.text();
    // The pieces the page is made of are really in the bundle.
    expect(bundle).toContain('Upload-Checksum');
    expect(bundle).toContain('Upload-Concat');
    expect(bundle).toContain('preprocess-progress');
    const styles = await fetch(`${baseUrl}/app.css`);
    expect(styles.status).toBe(200);
    expect(await styles.text()).toContain('.uppy-Dashboard');

    // The tus endpoint is unaffected by the page mounted at the root.
    const options = await fetch(`${baseUrl}/uploads`, { method: 'OPTIONS', headers: TUS });
    expect(options.status).toBe(204);
    expect(options.headers.get('tus-extension')).toContain('concatenation');
  });

  it('serves nothing when WEB_UI is off, while tus keeps working', async () => {
    const { baseUrl, endpoint } = await start({ webUi: false });
    expect((await fetch(`${baseUrl}/`)).status).toBe(404);
    expect((await fetch(`${baseUrl}/app.js`)).status).toBe(404);
    expect((await fetch(endpoint, { method: 'OPTIONS', headers: TUS })).status).toBe(204);
  });

  it('moves to WEB_UI_PATH, redirecting the bare path so relative assets resolve', async () => {
    const { baseUrl } = await start({ webUiPath: '/upload' });
    const bare = await fetch(`${baseUrl}/upload?parallel=2`, { redirect: 'manual' });
    expect(bare.status).toBe(301);
    expect(bare.headers.get('location')).toBe('/upload/?parallel=2');
    const page = await fetch(`${baseUrl}/upload/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('content="/files"');
    expect((await fetch(`${baseUrl}/upload/app.js`)).status).toBe(200);
    expect((await fetch(`${baseUrl}/`)).status).toBe(404);
  });

  it('answers 503 with the fix while the page is not built', async () => {
    const emptyDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-web-'));
    const app = express();
    mountWebUi(app, { path: '/', tusPath: '/files', assetsDir: emptyDir, log: pino({ level: 'silent' }) });
    const server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build:web');
    } finally {
      await new Promise((resolve) => server.close(resolve));
      await fs.rm(emptyDir, { recursive: true, force: true });
    }
  });

  it('reads WEB_UI and WEB_UI_PATH; a page the tus routes would shadow is off, or an error when asked for', () => {
    expect(loadConfig({})).toMatchObject({ webUi: true, webUiPath: '/' });
    expect(loadConfig({ WEB_UI: 'off', WEB_UI_PATH: '/upload' })).toMatchObject({ webUi: false, webUiPath: '/upload' });
    expect(() => loadConfig({ WEB_UI: 'maybe' })).toThrow(/WEB_UI must be true or false/);
    expect(() => loadConfig({ WEB_UI_PATH: 'upload/' })).toThrow(/WEB_UI_PATH must start with "\/"/);
    // Unset, the page steps aside for a tus endpoint that covers it; asked for, it is an error.
    expect(loadConfig({ TUS_PATH: '/' }).webUi).toBe(false);
    expect(loadConfig({ WEB_UI_PATH: '/files/page' }).webUi).toBe(false);
    expect(() => loadConfig({ TUS_PATH: '/', WEB_UI: 'true' })).toThrow(ConfigError);
    expect(() => loadConfig({ TUS_PATH: '/', WEB_UI: 'on' })).toThrow(
      /WEB_UI_PATH \/ lies inside TUS_PATH \/; move it or set WEB_UI=false/,
    );
    expect(() => loadConfig({ WEB_UI: '1', WEB_UI_PATH: '/files/page' })).toThrow(/inside TUS_PATH/);
    expect(loadConfig({ WEB_UI_PATH: '/filesystem' }).webUiPath).toBe('/filesystem');
  });
});
