import { defaultOptions } from 'tus-js-client';

/**
 * Forgets the resumable uploads tus-js-client stored (localStorage) for a file with this
 * SHA-256. Needed after the server failed the whole-file check: a retry would otherwise
 * resume the same, already complete partial uploads and assemble the same wrong bytes again.
 */
export async function forgetStoredUploads(sha256: string): Promise<number> {
  const storage = defaultOptions.urlStorage;
  const stored = await storage.findAllUploads();
  const matching = stored.filter((upload) => upload.metadata?.sha256 === sha256);
  await Promise.all(matching.map((upload) => storage.removeUpload(upload.urlStorageKey)));
  return matching.length;
}
