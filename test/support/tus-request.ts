import { createLogger } from '../../src/logging/logger.js';
import type { TusRequest } from '../../src/tus/request-facts.js';

/**
 * A request as the store sees it when a test writes a body without HTTP: a PATCH of `id`, with
 * the given headers (Content-Length, Upload-Checksum...) and facts, and no Node request behind it.
 */
export function storeLevelRequest(id: string, headers: Record<string, string> = {}, facts: Partial<TusRequest['facts']> = {}): TusRequest {
  return {
    req: new Request(`http://127.0.0.1/files/${id}`, { method: 'PATCH', headers }),
    facts: { nodeRequest: undefined, clientAddress: '127.0.0.1', uploadId: id, log: createLogger('silent'), addressedState: async () => undefined, ...facts },
  };
}
