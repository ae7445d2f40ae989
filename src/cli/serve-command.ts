import { Command, InvalidArgumentError } from 'commander';

const port = (raw: string) => {
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new InvalidArgumentError('must be a port number (0-65535).');
  return raw;
};

/**
 * The flags of `tessera serve` and the variables they stand for. Values are checked where every
 * setting is, when the configuration is loaded (one line naming the variable, exit 2).
 */
const FLAGS: readonly { readonly flag: string; readonly env: string; readonly parse?: (raw: string) => string }[] = [
  { flag: '--port <port>', env: 'PORT', parse: port },
  { flag: '--host <host>', env: 'HOST' },
  { flag: '--data-dir <dir>', env: 'DATA_DIR' },
  { flag: '--hooks-http-url <url>', env: 'HOOKS_HTTP_URL' },
  { flag: '--hooks-enabled-events <events>', env: 'HOOKS_ENABLED_EVENTS' },
  { flag: '--hooks-http-forward-headers <names>', env: 'HOOKS_HTTP_FORWARD_HEADERS' },
  { flag: '--hooks-http-timeout <duration>', env: 'HOOKS_HTTP_TIMEOUT' },
  { flag: '--hooks-http-retry <n>', env: 'HOOKS_HTTP_RETRY' },
  { flag: '--hooks-http-backoff <duration>', env: 'HOOKS_HTTP_BACKOFF' },
  { flag: '--hooks-progress-interval <duration>', env: 'HOOKS_PROGRESS_INTERVAL' },
  { flag: '--hooks-http-secret <secret>', env: 'HOOKS_HTTP_SECRET' },
  { flag: '--hooks-retry-for <duration>', env: 'HOOKS_RETRY_FOR' },
];

/** commander's option key for a flag: `--hooks-http-url <url>` → `hooksHttpUrl`. */
const keyOf = (flag: string) => (flag.split(' ')[0] ?? '').replace(/^--/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/**
 * `tessera serve`: the server exactly as `src/main.ts` runs it (configured by the
 * environment, see README), with flags as shorthands for the variables in FLAGS.
 */
export function serveCommand(): Command {
  const command = new Command('serve').description('run the Tessera server (configured by environment variables; flags override them)');
  for (const { flag, env, parse } of FLAGS) {
    if (parse) command.option(flag, env, parse);
    else command.option(flag, env);
  }
  return command.action(async (options: Record<string, string | undefined>) => {
    // main.ts reads its configuration from the environment (loadConfig is its only reader),
    // so flags become the variables they stand for.
    for (const { flag, env } of FLAGS) {
      const value = options[keyOf(flag)];
      if (value !== undefined) process.env[env] = value;
    }
    await import('../main.js');
  });
}
