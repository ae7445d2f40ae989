import { createHash } from 'node:crypto';

/**
 * The reference model the property test checks a real server against: what each upload
 * should hold after every acknowledged request, and how finals move from pending to done
 * or failed. It encodes Tessera's documented behaviour, nothing of its implementation.
 */

/** Whole-file SHA-256 declared in the metadata: none, the right one, or a wrong one. */
export type DeclaredSha = 'none' | 'right' | 'wrong';

export interface ModelUpload {
  readonly url: string;
  readonly id: string;
  readonly kind: 'single' | 'partial';
  /** Every byte the upload will hold once complete; the client sends slices of it. */
  readonly content: Buffer;
  readonly sha: DeclaredSha;
  /** Bytes acknowledged so far (what HEAD must report and the disk must hold). */
  offset: number;
  deleted: boolean;
  /** Whole-file verification failed (its bytes were discarded; HEAD answers 460). */
  failed: boolean;
  /** Highest offset HEAD reported since the last reset (delete or failed verification). */
  seen: number;
}

export type FinalStatus = 'pending' | 'done' | 'failed';

export interface ModelFinal {
  readonly url: string;
  readonly id: string;
  readonly partials: readonly ModelUpload[];
  /** Same partials and same metadata → a retried POST finds this final again. */
  readonly key: string;
  readonly sha: DeclaredSha;
  status: FinalStatus;
  deleted: boolean;
}

export interface Model {
  readonly uploads: ModelUpload[];
  readonly finals: ModelFinal[];
}

export const sha256Hex = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

export const complete = (u: ModelUpload): boolean => u.offset === u.content.length;

export function concatenated(final: ModelFinal): Buffer {
  return Buffer.concat(final.partials.map((p) => p.content));
}

/** The `sha256` metadata value to declare for `content`, or undefined for none. */
export function declaredSha256(sha: DeclaredSha, content: Buffer): string | undefined {
  if (sha === 'none') return undefined;
  return sha === 'right' ? sha256Hex(content) : sha256Hex(Buffer.concat([content, Buffer.from('!')]));
}

/**
 * A trigger of a pending final (its POST, a HEAD of it, the last byte of one of its
 * partials): a final missing a partial fails, one whose partials are all complete is
 * assembled and verified. Returns true when this trigger made it fail.
 */
export function triggerFinal(final: ModelFinal): boolean {
  if (final.deleted || final.status !== 'pending') return false;
  if (final.partials.some((p) => p.deleted)) {
    final.status = 'failed';
    return true;
  }
  if (!final.partials.every(complete)) return false;
  final.status = final.sha === 'wrong' ? 'failed' : 'done';
  return final.status === 'failed';
}

/** The live final a POST with this key resolves to (a failed or deleted one starts afresh). */
export function reusableFinal(model: Model, key: string): ModelFinal | undefined {
  return model.finals.find((f) => f.key === key && !f.deleted && f.status !== 'failed');
}
