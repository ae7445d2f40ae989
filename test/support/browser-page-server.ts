import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface PageServer {
  /** e.g. http://127.0.0.1:41234: another origin than any Tessera the test starts. */
  readonly origin: string;
  close(): Promise<void>;
}

/**
 * Serves, on its own loopback port, a page whose module script is `entry` bundled by esbuild
 * for the browser (imports resolve from the repository root), and `data` as /data.bin.
 */
export async function servePage(entry: string, data: Buffer): Promise<PageServer> {
  const bundle = await build({
    stdin: { contents: entry, resolveDir: root, loader: 'ts' },
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    logLevel: 'silent',
  });
  const script = bundle.outputFiles[0]?.text ?? '';
  const server = http.createServer((req, res) => {
    if (req.url === '/app.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script);
    else if (req.url === '/data.bin') res.writeHead(200, { 'Content-Type': 'application/octet-stream' }).end(data);
    else res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><script type="module" src="/app.js"></script>');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
