import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalCluster } from './local-cluster.js';

const USAGE = `npm run cluster -- [options]
  --instances <n>          Tessera instances (default 3; env INSTANCES)
  --port <port>            nginx, the load balancer (default 8080; env PORT)
  --instance-ports <list>  comma-separated ports of the instances (default: free ones)
  --redis-port <port>      Redis (default: a free one)
  --data-dir <dir>         shared data dir, kept on exit (default: a temp dir, deleted on exit; env DATA_DIR)
  --keep-data              keep the temp data dir on exit
  --log-dir <dir>          one log file per instance here (default: a temp dir)`;

const port = (name: string, raw: string | undefined): number | undefined => {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > 65535) {
    process.stderr.write(`cluster: ${name} must be a port from 1 to 65535 (got "${raw}")\n${USAGE}\n`);
    process.exit(2);
  }
  return value;
};

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      instances: { type: 'string' },
      port: { type: 'string' },
      'instance-ports': { type: 'string' },
      'redis-port': { type: 'string' },
      'data-dir': { type: 'string' },
      'keep-data': { type: 'boolean', default: false },
      'log-dir': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
}
try {
  args = parse();
} catch (error) {
  process.stderr.write(`cluster: ${(error as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
if (args.values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const { values } = args;
const instances = Number(values.instances ?? process.env.INSTANCES ?? 3);
if (!Number.isInteger(instances) || instances < 1 || instances > 32) {
  process.stderr.write(`cluster: --instances must be an integer from 1 to 32\n`);
  process.exit(2);
}
const instancePorts = values['instance-ports']?.split(',').map((p) => port('--instance-ports', p.trim()) as number);
if (instancePorts && instancePorts.length !== instances) {
  process.stderr.write(`cluster: --instance-ports names ${instancePorts.length} ports for ${instances} instances\n`);
  process.exit(2);
}
const logDir = values['log-dir'] ?? path.join(os.tmpdir(), `tessera-cluster-logs-${process.pid}`);

/** `npm run cluster`: Redis + N instances + nginx on this machine, until Ctrl-C. */
const cluster = await startLocalCluster({
  instances,
  port: port('--port', values.port ?? process.env.PORT) ?? 8080,
  instancePorts,
  redisPort: port('--redis-port', values['redis-port']),
  dataDir: values['data-dir'] ?? process.env.DATA_DIR,
  keepData: values['keep-data'],
  logDir,
});
// Before the address lines: whoever reads them may press Ctrl-C at once.
const stop = () => {
  cluster.stop().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
process.stdout.write(
  `Tessera cluster: ${instances} instances behind nginx at ${cluster.endpoint}\n` +
    `  redis ${cluster.redis.url}\n` +
    `  data ${cluster.dataDir} (${cluster.deletesData ? 'a temp dir, deleted on exit: pass --keep-data or --data-dir to keep it' : 'kept on exit'})\n` +
    cluster.instances.map((i, n) => `  instance ${n + 1}: ${i.baseUrl}, log ${cluster.logFiles[n]}\n`).join('') +
    'Ctrl-C stops everything.\n',
);
