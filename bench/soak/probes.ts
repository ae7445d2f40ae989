import fs from 'node:fs';
import type { Redis } from 'ioredis';

export interface FdCount {
  readonly total: number;
  readonly sockets: number;
  /** Regular files, pipes and the rest: an upload file left open shows up here. */
  readonly other: number;
}

/** Open file descriptors of a process, by kind (Linux /proc). */
export function countFds(pid: number): FdCount {
  let sockets = 0;
  let other = 0;
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    let target = '';
    try {
      target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed while we looked
    }
    if (target.startsWith('socket:')) sockets += 1;
    else other += 1;
  }
  return { total: sockets + other, sockets, other };
}

/** VmRSS of a process, MiB. */
export function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) / 1024;
}

/** Lock keys left in Redis (`<prefix>lock:*`). */
export async function lockKeys(redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}lock:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/** Least-squares slope of y over x (per unit of x). */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

export interface RuntimeGauges {
  readonly heapUsedMiB: number;
  readonly externalMiB: number;
  /** libuv handles Node keeps open (sockets, timers, files): a handle leak climbs here. */
  readonly activeHandles: number;
}

/** The V8 heap and handle gauges an instance exports on /metrics (prom-client defaults). */
export async function runtimeGauges(baseUrl: string): Promise<RuntimeGauges> {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const gauge = (name: string) => Number(new RegExp(`^tessera_${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return {
    heapUsedMiB: gauge('nodejs_heap_size_used_bytes') / 1024 / 1024,
    externalMiB: gauge('nodejs_external_memory_bytes') / 1024 / 1024,
    activeHandles: gauge('nodejs_active_handles_total'),
  };
}
