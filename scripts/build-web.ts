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
    write: false,
  });
  const outputs = [
    ...result.outputFiles.map((file) => ({ file: file.path, contents: file.contents })),
    { file: path.join(outDir, 'index.html'), contents: await fs.readFile(path.join(root, 'src', 'web', 'index.html')) },
  ];
  const files: Record<string, number> = {};
  for (const { file, contents } of outputs) {
    await writeAtomically(file, contents);
    files[path.relative(outDir, file)] = contents.byteLength;
  }
  return { outDir, files };
}

// A running server (or a parallel test) may be reading the page while it is rebuilt.
async function writeAtomically(file: string, contents: Uint8Array): Promise<void> {
  const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await fs.writeFile(temp, contents);
  await fs.rename(temp, file);
}

/** True when every output exists and is newer than every input (sources, helper, lockfile). */
export async function webBuildIsFresh(outDir: string = DEFAULT_WEB_OUT_DIR): Promise<boolean> {
  const outputs = ['index.html', 'app.js', 'app.css'].map((name) => path.join(outDir, name));
  const inputs = [
    ...(await listFiles(path.join(root, 'src', 'web'))),
    ...(await listFiles(path.join(root, 'src', 'client'))),
    fileURLToPath(import.meta.url),
    path.join(root, 'package-lock.json'),
  ];
  const mtimes = async (files: string[]) =>
    Promise.all(files.map((f) => fs.stat(f).then((s) => s.mtimeMs, () => undefined)));
  const outputTimes = await mtimes(outputs);
  if (outputTimes.some((t) => t === undefined)) return false;
  const oldestOutput = Math.min(...(outputTimes as number[]));
  const newestInput = Math.max(0, ...(await mtimes(inputs)).filter((t): t is number => t !== undefined));
  return newestInput < oldestOutput;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

/**
 * Flags: --if-stale skips the build when the page is up to date; --best-effort (for
 * `prestart`) warns instead of failing, so a read-only install or a missing esbuild never
 * stops the server from starting (the page then answers 503 naming the fix, tus is unaffected).
 */
async function main(args: readonly string[]): Promise<void> {
  const bestEffort = args.includes('--best-effort');
  if (args.includes('--if-stale') && (await webBuildIsFresh())) return;
  try {
    const { outDir, files } = await buildWeb();
    const summary = Object.entries(files)
      .filter(([name]) => !name.endsWith('.map') && !name.endsWith('.txt'))
      .map(([name, bytes]) => `${name} ${(bytes / 1024).toFixed(0)} KiB`)
      .join(', ');
    process.stdout.write(`upload page built in ${path.relative(process.cwd(), outDir) || '.'}: ${summary}\n`);
  } catch (error) {
    const built = await fs.stat(path.join(DEFAULT_WEB_OUT_DIR, 'index.html')).then(() => true, () => false);
    const reason =
      error instanceof Error && 'code' in error && error.code === 'ERR_MODULE_NOT_FOUND'
        ? 'esbuild is not installed (devDependencies)'
        : error instanceof Error
          ? error.message
          : String(error);
    process.stderr.write(`building the upload page failed: ${reason}\n`);
    if (bestEffort) {
      process.stderr.write(
        built ? 'serving the upload page built earlier\n' : 'starting without the upload page (or set WEB_UI=false)\n',
      );
      return;
    }
    process.exitCode = 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main(process.argv.slice(2));
