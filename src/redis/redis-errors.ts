import { errors, TusError } from '../errors.js';

/**
 * Runs a Redis operation, turning a connection failure into a 503 so no request hangs or
 * answers a bare 500 while Redis is down. Connections are made with no offline queue, so a
 * command fails at once instead of waiting for a reconnect.
 */
export async function viaRedis<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof TusError) throw error;
    throw errors.redisUnavailable();
  }
}
