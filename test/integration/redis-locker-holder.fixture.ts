/**
 * A separate "instance" for redis-locker-faults.test.ts: takes one lock and holds it until
 * the test kills this process. Prints `held` once it holds, `asked` whenever another
 * instance asks it to release (it never does: only its death frees the lock).
 * Usage: tsx redis-locker-holder.fixture.ts <redis-url> <prefix> <id> <ttl-ms>
 */
import { Redis } from 'ioredis';
import { RedisLocker } from '../../src/locking/redis-locker.js';

const [url = '', prefix = '', id = '', ttl = '1000'] = process.argv.slice(2);
const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
client.on('error', () => undefined);
await new Promise((resolve) => client.once('ready', resolve));
const locker = new RedisLocker({
  clients: [client],
  prefix,
  acquireTimeoutMs: 5_000,
  releaseDrainMs: 100,
  lockTtlMs: Number(ttl),
  operationTimeoutMs: 200,
});
await locker.whenListening(5_000);
await locker.newLock(id).lock(new AbortController().signal, () => {
  process.stdout.write('asked\n');
});
process.stdout.write('held\n');
setInterval(() => undefined, 60_000);
