import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startNginxBalancer, type NginxBalancer } from '../processes/nginx-balancer.js';
import { freePort } from '../processes/ports.js';
import { startRedis, type RedisProcess } from '../processes/redis-server.js';
import { startTesseraInstance, type TesseraInstance } from '../processes/tessera-instance.js';

export interface LocalClusterOptions {
  readonly instances?: number;
  /** Port of the load balancer; a free one by default. */
  readonly port?: number;
  /** Shared data dir; a temp dir (removed on stop) by default. */
  readonly dataDir?: string;
  /** Extra environment for every instance. */
  readonly env?: Record<string, string>;
  /** Keep Redis data in this dir (append-only), so Redis can be restarted without losing state. */
  readonly redisDir?: string;
  /** Ports of the instances (one each) and of Redis; free ones by default. */
  readonly instancePorts?: readonly number[];
  readonly redisPort?: number;
  /** One log file per instance (`instance-<n>.log`) in this dir; stderr of this process otherwise. */
  readonly logDir?: string;
  /** Keep the temp data dir on stop (a given `dataDir` is always kept). */
  readonly keepData?: boolean;
}

export interface LocalCluster {
  readonly baseUrl: string;
  readonly endpoint: string;
  readonly dataDir: string;
  /** Whether stop() deletes the data dir (a temp dir not asked to be kept). */
  readonly deletesData: boolean;
  /** Each instance's log file, when logDir was given. */
  readonly logFiles: readonly string[];
  readonly redis: RedisProcess;
  readonly instances: readonly TesseraInstance[];
  readonly balancer: NginxBalancer;
  stop(): Promise<void>;
}

/**
 * N Tessera processes sharing one data dir and one Redis, behind nginx (round robin, no
 * sticky sessions) — the docker-compose topology, on this machine, on 127.0.0.1.
 */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const count = options.instances ?? 3;
  const ownDir = options.dataDir === undefined && !options.keepData;
  const dataDir = options.dataDir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-cluster-')));
  const logFiles = options.logDir ? Array.from({ length: count }, (_, i) => path.join(options.logDir as string, `instance-${i + 1}.log`)) : [];
  if (options.logDir) await fs.mkdir(options.logDir, { recursive: true });
  const redis = await startRedis(options.redisPort, options.redisDir);
  const instances: TesseraInstance[] = [];
  let balancer: NginxBalancer | undefined;
  const stop = async () => {
    await balancer?.stop();
    await Promise.all(instances.map((i) => i.kill('SIGTERM')));
    await redis.stop();
    if (ownDir) await fs.rm(dataDir, { recursive: true, force: true });
  };
  try {
    // Behind nginx every client shares its address: the per-client connection cap belongs there.
    const env = { REDIS_URL: redis.url, DATA_DIR: dataDir, TRUST_PROXY: 'true', MAX_CONNECTIONS_PER_CLIENT: '0', LOG_LEVEL: 'warn', ...options.env };
    for (let i = 0; i < count; i++) {
      const port = options.instancePorts?.[i] ?? (await freePort());
      instances.push(await startTesseraInstance(port, env, undefined, logFiles[i]));
    }
    balancer = await startNginxBalancer(options.port ?? (await freePort()), instances.map((i) => i.port));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    baseUrl: balancer.baseUrl,
    endpoint: `${balancer.baseUrl}${options.env?.TUS_PATH ?? '/files'}`,
    dataDir,
    deletesData: ownDir,
    logFiles,
    redis,
    instances,
    balancer,
    stop,
  };
}
