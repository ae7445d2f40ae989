import path from 'node:path';
import type { Config } from '../config/config.js';
import { InProcessLocker } from '../locking/in-process-locker.js';
import { FileUploadStateStore } from '../tus/state/file-upload-state-store.js';
import type { Coordination } from './coordination.js';

/** One instance: in-process locks, upload state on the data disk. */
export function embeddedCoordination(config: Config): Coordination {
  const state = new FileUploadStateStore({ directory: path.join(config.dataDir, '.tessera-state'), soleWriter: true });
  return {
    mode: 'embedded',
    locker: new InProcessLocker({ acquireTimeoutMs: config.lockTimeoutMs }),
    state,
    connected: async () => undefined,
    checkReady: () => state.ping(),
    close: async () => undefined,
  };
}
