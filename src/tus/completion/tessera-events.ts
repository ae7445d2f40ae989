import { EventEmitter } from 'node:events';
import type { Upload } from '@tus/utils';

/** An upload whose whole file is stored and verified: what integrators act on. */
export type FinishedUpload = Upload & {
  /** Hex SHA-256 computed by the server (always for finals; for others when declared). */
  readonly sha256?: string;
  readonly concat?: { readonly partials: readonly string[] };
};

export interface TesseraEventMap {
  /** Exactly once per file (ordinary or final upload), only after verification passed. */
  'file-ready': [upload: FinishedUpload];
  /** A partial upload received its last byte (it is not a file of its own). */
  'partial-finished': [upload: Upload];
  /** An ordinary upload's declared sha256 is being checked (its lock is held meanwhile). */
  'verification-started': [upload: { readonly id: string }];
  /** Verification or assembly failed; the upload's data was discarded. */
  'upload-failed': [failure: { readonly id: string; readonly error: string }];
  /** A final upload was created (a retried POST that finds its earlier final does not count). */
  'final-created': [final: { readonly id: string; readonly partials: readonly string[] }];
  /** A final upload was assembled by this instance (whatever the verification outcome). */
  'final-assembled': [assembly: { readonly id: string; readonly ok: boolean }];
}

export class TesseraEvents extends EventEmitter<TesseraEventMap> {}
