import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { configWith, type Config } from '../../src/config/config.js';
import { createTessera, type Tessera, type TesseraOptions } from '../../src/server.js';

export interface RunningTessera {
  readonly tessera: Tessera;
  /** e.g. http://127.0.0.1:41234 */
  readonly baseUrl: string;
  /** The tus endpoint, e.g. http://127.0.0.1:41234/files */
  readonly endpoint: string;
  /** With METRICS_PORT (metricsListen): where /metrics is served. */
  readonly metricsUrl?: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

/**
 * Starts an in-process Tessera on 127.0.0.1 with an ephemeral port and its own temp data
 * dir (removed on stop). Logs are silent unless TESSERA_TEST_LOGS is set.
 */
export async function startTessera(
  overrides: Partial<Config> = {},
  options: Omit<TesseraOptions, 'config'> = {},
): Promise<RunningTessera> {
  const dataDir = overrides.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-test-')));
  const config = configWith({ port: 0, host: '127.0.0.1', dataDir, logLevel: 'silent', ...overrides });
  const logger = process.env.TESSERA_TEST_LOGS ? pino({ level: 'debug' }) : undefined;
  const tessera = createTessera({ config, logger, ...options });
  const { url, metricsUrl } = await tessera.listen();
  return {
    tessera,
    baseUrl: url,
    ...(metricsUrl ? { metricsUrl } : {}),
    endpoint: `${url}${config.tusPath}`,
    dataDir,
    async stop() {
      await tessera.close();
      if (!overrides.dataDir) await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
