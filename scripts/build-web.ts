/**
 * Builds the browser upload page into dist/web with esbuild: index.html, app.js (Uppy,
 * tus-js-client, hash-wasm and the checksum helper, bundled) and app.css (Uppy's styles and
 * the page's). Nothing is fetched from a CDN at run time.
 *
 *   npm run build:web            # also run by `npm start` (prestart) and by the browser test
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as Esbuild from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DEFAULT_WEB_OUT_DIR = path.join(root, 'dist', 'web');

export interface WebBuildResult {
  readonly outDir: string;
  /** Output file name → size in bytes. */
  readonly files: Readonly<Record<string, number>>;
}

export async function buildWeb(outDir: string = DEFAULT_WEB_OUT_DIR): Promise<WebBuildResult> {
  const esbuild: typeof Esbuild = await import('esbuild');
  await fs.mkdir(outDir, { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: path.join(root, 'src', 'web', 'main.ts') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    // Browsers with Blob.stream(), WebAssembly and ES2020 (all of 2021 onwards).
    target: ['chrome100', 'firefox100', 'safari15'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'warning',
    metafile: true,
  });
  await fs.copyFile(path.join(root, 'src', 'web', 'index.html'), path.join(outDir, 'index.html'));
  const files: Record<string, number> = {};
  for (const [file, output] of Object.entries(result.metafile.outputs)) files[path.relative(outDir, file)] = output.bytes;
  files['index.html'] = (await fs.stat(path.join(outDir, 'index.html'))).size;
  return { outDir, files };
}

async function main(): Promise<void> {
  try {
    const { outDir, files } = await buildWeb();
    const summary = Object.entries(files)
      .filter(([name]) => !name.endsWith('.map'))
      .map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(0)} KiB`)
      .join(', ');
    process.stdout.write(`upload page built in ${path.relative(process.cwd(), outDir) || '.'}: ${summary}\n`);
  } catch (error) {
    const missingEsbuild = error instanceof Error && 'code' in error && error.code === 'ERR_MODULE_NOT_FOUND';
    const built = await fs.stat(path.join(DEFAULT_WEB_OUT_DIR, 'index.html')).then(() => true, () => false);
    if (missingEsbuild) {
      // An install without devDependencies cannot rebuild; a page built earlier still serves.
      process.stderr.write(
        built
          ? 'esbuild is not installed: serving the upload page built earlier\n'
          : 'esbuild is not installed: the upload page is not built (install devDependencies, or set WEB_UI=false)\n',
      );
      return;
    }
    process.stderr.write(`building the upload page failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
