import type { Config } from '../config/config.js';
import type { Coordination } from '../coordination/coordination.js';
import type { Logger } from '../logging/logger.js';
import { FileStoreAdapter } from './file/file-store-adapter.js';
import { S3StoreAdapter } from './s3/s3-store-adapter.js';
import type { StoreAdapter } from './store-adapter.js';

/** S3 when S3_BUCKET is set, the local disk otherwise. */
export function createStoreAdapter(config: Config, coordination: Coordination, log: Logger): StoreAdapter {
  if (config.s3) {
    return new S3StoreAdapter({
      s3: config.s3,
      expiryMs: config.uploadExpiryMs,
      cacheInfo: coordination.mode === 'embedded',
      log,
    });
  }
  return new FileStoreAdapter({
    directory: config.dataDir,
    expiryMs: config.uploadExpiryMs,
    soleWriter: coordination.mode === 'embedded',
  });
}
