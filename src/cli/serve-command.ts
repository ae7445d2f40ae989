import { Command, InvalidArgumentError } from 'commander';

interface ServeOptions {
  port?: string;
  host?: string;
  dataDir?: string;
}

const port = (raw: string) => {
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new InvalidArgumentError('must be a port number (0-65535).');
  return raw;
};

/**
 * `tessera serve`: the server exactly as `src/main.ts` runs it (configured by the
 * environment, see README), with flags as shorthands for PORT, HOST and DATA_DIR.
 */
export function serveCommand(): Command {
  return new Command('serve')
    .description('run the Tessera server (configured by environment variables; flags override them)')
    .option('--port <port>', 'PORT', port)
    .option('--host <host>', 'HOST')
    .option('--data-dir <dir>', 'DATA_DIR')
    .action(async (options: ServeOptions) => {
      // main.ts reads its configuration from the environment (loadConfig is its only
      // reader), so flags become the variables they stand for.
      if (options.port !== undefined) process.env.PORT = options.port;
      if (options.host !== undefined) process.env.HOST = options.host;
      if (options.dataDir !== undefined) process.env.DATA_DIR = options.dataDir;
      await import('../main.js');
    });
}
