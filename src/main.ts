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
    await tessera.listen();
    return tessera;
  } catch (error) {
    // A port in use or an unusable DATA_DIR: one line saying what, not a stack trace.
    process.stderr.write(`Tessera failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}

await main();
