import type http from 'node:http';
import { expectStatus, fileRange, request } from './http-client.js';

const TUS = { 'Tus-Resumable': '1.0.0' };

export interface TusCapabilities {
  readonly extensions: readonly string[];
  readonly checksumAlgorithms: readonly string[];
}

/** What the server says it supports (OPTIONS): cases depending on an extension ask here. */
export async function tusCapabilities(endpoint: string): Promise<TusCapabilities> {
  const res = await request(endpoint, { method: 'OPTIONS', headers: TUS, timeoutMs: 10_000 });
  const list = (h: string | string[] | undefined) =>
    String(h ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
  return { extensions: list(res.headers['tus-extension']), checksumAlgorithms: list(res.headers['tus-checksum-algorithm']) };
}

export function encodeMetadata(metadata: Record<string, string>): string {
  return Object.entries(metadata)
    .map(([k, v]) => `${k} ${Buffer.from(v).toString('base64')}`)
    .join(',');
}

export interface CreateOptions {
  readonly length?: number;
  readonly concat?: string;
  readonly metadata?: Record<string, string>;
  readonly agent?: http.Agent;
  readonly timeoutMs?: number;
}

/** POST: creates an upload and returns its absolute URL. */
export async function tusCreate(endpoint: string, options: CreateOptions): Promise<string> {
  const headers: Record<string, string> = { ...TUS };
  if (options.length !== undefined) headers['Upload-Length'] = String(options.length);
  if (options.concat !== undefined) headers['Upload-Concat'] = options.concat;
  if (options.metadata) headers['Upload-Metadata'] = encodeMetadata(options.metadata);
  const res = await request(endpoint, {
    method: 'POST',
    headers,
    ...(options.agent ? { agent: options.agent } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  expectStatus(res, 201, `POST ${endpoint}${options.concat ? ` (${options.concat.slice(0, 40)})` : ''}`);
  const location = res.headers.location;
  if (!location) throw new Error(`POST ${endpoint}: no Location`);
  return new URL(location, endpoint).href;
}

export async function tusHead(url: string, agent?: http.Agent): Promise<http.IncomingHttpHeaders> {
  const res = await request(url, { method: 'HEAD', headers: TUS, ...(agent ? { agent } : {}), timeoutMs: 10_000 });
  expectStatus(res, 200, `HEAD ${url}`);
  return res.headers;
}

export interface FileUpload {
  readonly file: string;
  /** Where in `file` the upload's bytes start, and how many. */
  readonly start: number;
  readonly length: number;
  /** One PATCH when undefined. */
  readonly chunkSize?: number;
  /** `Upload-Checksum: sha256 <base64>` per PATCH, precomputed (index = chunk number). */
  readonly chunkSha256?: readonly Buffer[];
}

/** PATCHes a byte range of a file to an existing upload, in order; checks every new offset. */
export async function tusPatchFile(url: string, upload: FileUpload, agent: http.Agent): Promise<void> {
  const chunk = upload.chunkSize ?? upload.length;
  for (let offset = 0, index = 0; offset < upload.length; offset += chunk, index += 1) {
    const length = Math.min(chunk, upload.length - offset);
    const headers: Record<string, string> = {
      ...TUS,
      'Upload-Offset': String(offset),
      'Content-Type': 'application/offset+octet-stream',
      'Content-Length': String(length),
    };
    const digest = upload.chunkSha256?.[index];
    if (upload.chunkSha256 && !digest) throw new Error(`no precomputed digest for chunk ${index}`);
    if (digest) headers['Upload-Checksum'] = `sha256 ${digest.toString('base64')}`;
    const res = await request(url, { method: 'PATCH', headers, body: fileRange(upload.file, upload.start + offset, length), agent });
    expectStatus(res, 204, `PATCH ${url} @${offset}`);
    if (res.headers['upload-offset'] !== String(offset + length)) {
      throw new Error(`PATCH ${url}: Upload-Offset ${String(res.headers['upload-offset'])}, expected ${offset + length}`);
    }
  }
}

/** The bare server's protocol: each chunk is a POST that appends to the named file. */
export async function barePostFile(endpoint: string, name: string, upload: FileUpload, agent: http.Agent): Promise<void> {
  const chunk = upload.chunkSize ?? upload.length;
  for (let offset = 0; offset < upload.length; offset += chunk) {
    const length = Math.min(chunk, upload.length - offset);
    const res = await request(`${endpoint}/${name}`, {
      method: 'POST',
      headers: { 'Content-Length': String(length) },
      body: fileRange(upload.file, upload.start + offset, length),
      agent,
    });
    expectStatus(res, 204, `bare POST @${offset}`);
  }
}
