import { uploadWithTusJs } from './tus-js.js';

/**
 * Resumes an existing upload with tus-js-client (HEAD, then PATCHes from the server's
 * offset), as a real client would after a fault. Resolves with the upload URL.
 */
export function resumeWithTusJs(
  source: Buffer,
  uploadUrl: string,
  options: { chunkSize?: number; retryDelays?: number[]; headers?: Record<string, string> } = {},
): Promise<string> {
  return uploadWithTusJs(source, {
    endpoint: new URL(uploadUrl).origin,
    uploadUrl,
    chunkSize: options.chunkSize ?? 1024 * 1024,
    retryDelays: options.retryDelays ?? [100, 500, 1000],
    headers: options.headers ?? {},
  });
}
