import type { IncomingMessage, ServerResponse } from 'node:http';
import { s3Errors } from './errors.js';
import type { PayloadCheck } from './sigv4.js';
import type { Storage } from './storage.js';
import { xmlDocument, type XmlNode } from './xml.js';

/** Per operation: how many requests, and how many body bytes went in and out. */
export interface OperationStats {
  requests: number;
  bytesIn: number;
  bytesOut: number;
  /** Bytes copied inside the server (UploadPartCopy): they cross no connection. */
  bytesCopied: number;
  /** Requests that sent `Expect: 100-continue` (Node's server answers 100 Continue itself). */
  expectContinue: number;
}

export class ServerStats {
  readonly operations: Record<string, OperationStats> = {};

  of(operation: string): OperationStats {
    this.operations[operation] ??= { requests: 0, bytesIn: 0, bytesOut: 0, bytesCopied: 0, expectContinue: 0 };
    return this.operations[operation];
  }
}

/** One authenticated S3 request, routed to an operation. */
export interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly bucketName: string;
  /** Decoded object key; '' for bucket-level requests. */
  readonly key: string;
  readonly query: ReadonlyMap<string, string>;
  readonly payload: PayloadCheck;
  readonly storage: Storage;
  readonly region: string;
  readonly stats: OperationStats;
  /** A test fault (see /_test/fail?mode=flip): the body's first byte arrives flipped. */
  readonly flipFirstByte?: boolean;
}

export const OWNER = { ID: '75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a', DisplayName: 'tessera-test' };

export function sendXml(exchange: Exchange, status: number, root: string, body: XmlNode, headers: Record<string, string> = {}): void {
  const text = Buffer.from(xmlDocument(root, body));
  exchange.res.writeHead(status, { ...headers, 'Content-Type': 'application/xml', 'Content-Length': String(text.length) });
  exchange.res.end(text);
}

export function sendEmpty(exchange: Exchange, status: number, headers: Record<string, string> = {}): void {
  exchange.res.writeHead(status, { ...headers, 'Content-Length': '0' });
  exchange.res.end();
}

/** Header value as one string (Node joins repeated headers). */
export function headerOf(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** x-amz-meta-* request headers, keyed without the prefix (S3 lowercases the names). */
export function userMetadata(req: IncomingMessage): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (name.startsWith('x-amz-meta-') && value !== undefined) metadata[name.slice(11)] = Array.isArray(value) ? value.join(',') : value;
  }
  return metadata;
}

export function metadataHeaders(metadata: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [`x-amz-meta-${k}`, v]));
}

/** Integer query parameter in [min, max], or `fallback` when absent. */
export function intParam(query: ReadonlyMap<string, string>, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min) {
    throw s3Errors.invalidArgument(`Argument ${name} must be an integer between ${min} and 2147483647`, name, raw);
  }
  return Math.min(value, max);
}
