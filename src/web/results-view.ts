import { prettierBytes } from '@transloadit/prettier-bytes';
import type { UploadFailure } from './describe-error.js';
import type { HashedFile } from './sha256-preprocessor.js';
import type { Verification } from './verify-upload.js';

export interface ResultRow {
  readonly fileName: string;
  readonly bytes: number;
  readonly uploadUrl?: string;
  readonly localSha256?: string;
  readonly hashed?: HashedFile;
  readonly verification?: Verification;
  /** Set when the upload itself failed. */
  readonly error?: UploadFailure;
}

const BADGES = {
  verified: '✓ Verified',
  mismatch: '✗ SHA-256 mismatch',
  unverified: '? Not verified by the server',
  failed: '✗ Upload failed',
  checking: '… Checking with the server',
} as const;

/**
 * The list of finished uploads: one row per file with the server's verdict. Rows carry their
 * facts as data attributes too (data-status, data-upload-url, data-local-sha256,
 * data-server-sha256) for scripts and tests. Text goes in through textContent only: file names
 * are user input.
 */
export class ResultsView {
  private readonly rows = new Map<string, HTMLLIElement>();

  constructor(private readonly list: HTMLElement) {}

  show(fileId: string, row: ResultRow): void {
    const item = this.rows.get(fileId) ?? this.list.appendChild(document.createElement('li'));
    this.rows.set(fileId, item);
    const status = row.error ? 'failed' : (row.verification?.status ?? 'checking');
    item.className = `result result--${status}`;
    item.dataset.status = status;
    setData(item, 'uploadUrl', row.uploadUrl);
    setData(item, 'localSha256', row.localSha256);
    const serverSha256 = row.verification?.serverSha256 ?? row.error?.serverSha256;
    setData(item, 'serverSha256', serverSha256 ?? undefined);

    const title = el('div', 'result__title');
    title.append(el('span', 'result__badge', BADGES[status]), el('span', 'result__name', row.fileName), el('span', 'result__size', formatBytes(row.bytes)));
    const facts = el('dl', 'result__facts');
    if (row.uploadUrl) {
      const link = el('a', undefined, row.uploadUrl);
      link.href = row.uploadUrl;
      fact(facts, 'Upload URL', link);
    }
    if (row.localSha256) fact(facts, 'SHA-256 (this browser)', el('code', undefined, row.localSha256));
    if (row.verification || serverSha256) {
      fact(facts, 'SHA-256 (server)', el('code', undefined, serverSha256 ?? '(none reported)'));
    }
    if (row.verification) {
      fact(facts, 'Server status', el('span', undefined, `${row.verification.serverStatus ?? 'unknown'} (HTTP ${row.verification.httpStatus})`));
    }
    if (row.hashed) {
      const seconds = row.hashed.milliseconds / 1000;
      const rate = seconds > 0 ? ` (${formatBytes(row.hashed.bytes / seconds)}/s)` : '';
      fact(facts, 'Hashed locally', el('span', undefined, `${formatBytes(row.hashed.bytes)} in ${seconds.toFixed(2)} s${rate}`));
    }
    if (row.error) {
      fact(facts, 'Error', el('span', undefined, row.error.summary));
      if (row.error.detail) fact(facts, row.error.resumable ? 'Last error' : 'Server said', el('span', 'result__detail', row.error.detail));
    }
    item.replaceChildren(title, facts);
  }
}

function setData(item: HTMLElement, key: string, value: string | undefined): void {
  if (value === undefined) delete item.dataset[key];
  else item.dataset[key] = value;
}

function fact(list: HTMLElement, term: string, value: HTMLElement): void {
  const dd = el('dd');
  dd.append(value);
  list.append(el('dt', undefined, term), dd);
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Sizes as Uppy's dashboard writes them (the same function): one unit system on the page. */
export function formatBytes(bytes: number): string {
  return prettierBytes(bytes);
}
