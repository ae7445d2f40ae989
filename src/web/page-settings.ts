import { CLIENT_CHECKSUM_ALGORITHMS, type ChecksumAlgorithm } from '../client/index.js';

export interface PageSettings {
  /** Absolute URL of the tus endpoint. */
  readonly endpoint: string;
  /** Partial uploads per file (concatenation); 1 uploads the file in one stream. */
  readonly parallelUploads: number;
  /** Largest PATCH body; a paused or failed chunk is resent whole, so keep it modest. */
  readonly chunkSize: number;
  /** Algorithm of the per-PATCH Upload-Checksum, or null for none. */
  readonly checksum: ChecksumAlgorithm | null;
  /** Files smaller than this go as one upload: partials only pay off for big files. */
  readonly parallelThreshold: number;
  /** A request with no progress for this long is aborted and resumed (see withStallWatchdog). */
  readonly stallTimeoutMs: number;
  /** Waits between retries of a failing request; their number is how many retries there are. */
  readonly retryDelays: readonly number[];
  /** The server offers direct-to-S3 uploads (S3_DIRECT). */
  readonly directAvailable: boolean;
  /** This page sends files straight to S3 (`?mode=direct`, when available) instead of over tus. */
  readonly direct: boolean;
}

const MiB = 1024 * 1024;

export const DEFAULT_SETTINGS = {
  parallelUploads: 4,
  chunkSize: 8 * MiB,
  checksum: 'sha256',
  parallelThreshold: 4 * MiB,
  stallTimeoutMs: 30_000,
  // About 90 s of outage ridden out; the sequence starts again whenever bytes get through.
  retryDelays: [0, 1000, 3000, 5000, 10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000],
} as const satisfies Omit<PageSettings, 'endpoint' | 'directAvailable' | 'direct'>;

/**
 * The endpoint comes from the server (a meta tag filled in when the page is served); the
 * tuning knobs may be overridden in the query string: ?parallel=4&chunkSize=1048576&checksum=md5
 * (checksum=none turns per-PATCH checksums off), stallTimeout (ms), retries (how many of the
 * default delays to use) and mode=direct (straight to S3, when the server offers it).
 */
export function readSettings(doc: Document, location: Location): PageSettings {
  const endpointPath = doc.querySelector<HTMLMetaElement>('meta[name="tessera-endpoint"]')?.content || '/files';
  const query = new URLSearchParams(location.search);
  const directAvailable = doc.querySelector<HTMLMetaElement>('meta[name="tessera-direct"]')?.content === 'on';
  return {
    directAvailable,
    direct: directAvailable && query.get('mode') === 'direct',
    endpoint: new URL(endpointPath, location.href).href,
    parallelUploads: integer(query.get('parallel'), 1, 16) ?? DEFAULT_SETTINGS.parallelUploads,
    chunkSize: integer(query.get('chunkSize'), 64 * 1024, 1024 * MiB) ?? DEFAULT_SETTINGS.chunkSize,
    checksum: checksum(query.get('checksum')),
    parallelThreshold: integer(query.get('parallelThreshold'), 0, Number.MAX_SAFE_INTEGER) ?? DEFAULT_SETTINGS.parallelThreshold,
    stallTimeoutMs: integer(query.get('stallTimeout'), 1000, 600_000) ?? DEFAULT_SETTINGS.stallTimeoutMs,
    retryDelays: DEFAULT_SETTINGS.retryDelays.slice(0, integer(query.get('retries'), 0, DEFAULT_SETTINGS.retryDelays.length) ?? undefined),
  };
}

function integer(raw: string | null, min: number, max: number): number | undefined {
  if (raw === null || !/^\d+$/.test(raw)) return undefined;
  const value = Number(raw);
  return value >= min && value <= max ? value : undefined;
}

function checksum(raw: string | null): ChecksumAlgorithm | null {
  if (raw === 'none') return null;
  const found = CLIENT_CHECKSUM_ALGORITHMS.find((a) => a === raw);
  return found ?? DEFAULT_SETTINGS.checksum;
}
