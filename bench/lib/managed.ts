import { spawnSync } from 'node:child_process';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from '../../tools/cluster/local-cluster.js';
import { startRedis, type RedisProcess } from '../../tools/processes/redis-server.js';
import { startS3Server, type S3ServerProcess } from '../../tools/processes/s3-server.js';
import { onCleanup } from './cleanup.js';

/*
 * The project's own process launchers (tools/processes, tools/cluster), registered with the
 * bench's cleanup so a failure, Ctrl-C or the time limit stops them like any bench server.
 * The synchronous fallbacks only run if the harness exits without awaiting its cleanup.
 */

/** Last resort for a Redis we cannot signal synchronously: ask it to exit. */
const shutdownRedisSync = (port: number) =>
  void spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'shutdown', 'nosave'], { stdio: 'ignore', timeout: 2_000 });

const killSync = (pid: number | undefined) => {
  try {
    if (pid) process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
};

export async function managedRedis(): Promise<RedisProcess> {
  const redis = await startRedis();
  const stop = onCleanup(`redis-server :${redis.port}`, () => redis.stop(), () => shutdownRedisSync(redis.port));
  return { ...redis, stop };
}

/** Redis + N Tessera instances + nginx; `stop()` stops them all. */
export async function managedCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const cluster = await startLocalCluster(options);
  const stop = onCleanup(`local cluster of ${cluster.instances.length} (${cluster.baseUrl})`, () => cluster.stop(), () => {
    for (const instance of cluster.instances) killSync(instance.child.pid);
    shutdownRedisSync(cluster.redis.port);
  });
  return { ...cluster, stop };
}

export async function managedS3Server(buckets: readonly string[]): Promise<S3ServerProcess> {
  const s3 = await startS3Server({ buckets });
  const stop = onCleanup(`S3 test server (pid ${s3.pid})`, () => s3.stop(), () => killSync(s3.pid));
  return { ...s3, stop };
}
