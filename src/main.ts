import { ConfigError, loadConfig, type Config } from './config/config.js';
import { createTessera, type Tessera } from './server.js';

/** Reads the environment, serves, and drains on SIGTERM/SIGINT. */
export async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const tessera = await start(config);
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    tessera.log.info({ signal }, 'shutting down');
    tessera.close().then(
      () => process.exit(0),
      (err: unknown) => {
        tessera.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function start(config: Config): Promise<Tessera> {
  try {
    const tessera = createTessera({ config });
    const { url } = await tessera.listen();
    // A person at a terminal gets one line to click; a log collector (no terminal) gets JSON only.
    if (process.stdout.isTTY) process.stdout.write(`${startupLine(config, url)}\n`);
    return tessera;
  } catch (error) {
    // A port in use or an unusable DATA_DIR: one line saying what, not a stack trace.
    process.stderr.write(`Tessera failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

/** The one human line: where tus is served, and where the upload page is. */
export function startupLine(config: Config, url: string): string {
  const page = config.webUi ? `, upload page ${url}${config.webUiPath === '/' ? '/' : config.webUiPath}` : '';
  return `Tessera is listening: tus endpoint ${url}${config.tusPath}${page}`;
}

await main();
