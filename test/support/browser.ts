import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's chromium package; `scripts/ensure-system-deps.sh` installs it for the tests. */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

// What a container without a GPU, a sandbox-capable kernel or network access needs.
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface HeadlessChromium {
  readonly page: Page;
  readonly context: BrowserContext;
  /** Uncaught page errors and console errors (CSP violations show up here). */
  readonly errors: string[];
  /**
   * Caps the page's upload rate inside Chromium (DevTools network emulation), above the
   * socket: an aborted request really stops sending, which a throttling TCP proxy cannot
   * show (the kernel's send buffers would keep draining into it).
   */
  throttleUpload(bytesPerSecond: number, target?: Page): Promise<void>;
  close(): Promise<void>;
}

/** A real headless Chromium with a fresh profile in a temp dir (removed on close). */
export async function launchChromium(): Promise<HeadlessChromium> {
  if (!fs.existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} is missing: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1100, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  return {
    page,
    context,
    errors,
    async throttleUpload(bytesPerSecond, target = page) {
      const cdp = await context.newCDPSession(target);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 0,
        downloadThroughput: -1,
        uploadThroughput: bytesPerSecond,
      });
    },
    async close() {
      await context.close();
      fs.rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}
