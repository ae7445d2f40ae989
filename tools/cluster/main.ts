import { startLocalCluster } from './local-cluster.js';

/** `npm run cluster`: Redis + N instances + nginx on this machine, until Ctrl-C. */
const instances = Number(process.env.INSTANCES ?? 3);
const port = Number(process.env.PORT ?? 8080);
const cluster = await startLocalCluster({ instances, port, dataDir: process.env.DATA_DIR });
process.stdout.write(
  `Tessera cluster: ${instances} instances behind nginx at ${cluster.endpoint}\n` +
    `  redis ${cluster.redis.url}, data ${cluster.dataDir}\n` +
    cluster.instances.map((i, n) => `  instance ${n + 1}: ${i.baseUrl}\n`).join('') +
    'Ctrl-C stops everything.\n',
);
const stop = () => {
  cluster.stop().then(() => process.exit(0), () => process.exit(1));
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
