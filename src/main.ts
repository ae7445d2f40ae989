import { ConfigError, loadConfig } from './config/config.js';
import { createTessera } from './server.js';

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
  const tessera = createTessera({ config });
  await tessera.listen();
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

await main();
