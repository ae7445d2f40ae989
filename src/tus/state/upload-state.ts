/**
 * The lifecycle record of an upload: its role (ordinary, partial, final), where it is in its
 * lifecycle, the outcome of whole-file verification, and its owner when authentication is
 * on. Every upload created by this version has one from its creation on (see
 * src/tus/completion/lifecycle.ts for what each state means and who moves it).
 */
export type UploadState = PartialState | FinalState | SingleState;

/**
 * A final's status: 'pending' while it waits for its partials or is being assembled;
 * 'verifying' once assembled and verified while the pre-finish hook has not approved it yet.
 */
export type CompletionStatus = 'pending' | 'verifying' | 'done' | 'failed';

/**
 * An ordinary upload's status. 'receiving' until its last byte is stored; 'verifying' while
 * (or, after a crash, until) its declared sha256 is checked under its lock; then 'done' or
 * 'failed'. 'pending' is what earlier versions wrote for 'receiving'.
 */
export type SingleStatus = 'receiving' | 'pending' | 'verifying' | 'done' | 'failed';

interface IntegrityFields {
  /** Hex SHA-256 the server computed over the whole file (once complete). */
  readonly sha256?: string;
  /** Why the upload failed, in one line (only when status is 'failed'). */
  readonly error?: string;
  /** Who created it (the authenticated subject); only they may touch it. */
  readonly owner?: string;
  /**
   * False from the moment a file became 'done' until its "file ready" notification was
   * claimed; absent in records of earlier versions (taken as already notified).
   */
  readonly notified?: boolean;
  /**
   * With status 'verifying': the bytes are verified (or there was nothing to verify) and only the
   * pre-finish hook's approval is missing, so asking again never reads the file again.
   */
  readonly verified?: boolean;
}

export interface PartialState extends IntegrityFields {
  readonly kind: 'partial';
  /**
   * Finals recorded by earlier versions; now each link is its own entry (see
   * UploadStateStore.link), so concurrent finals never rewrite one list.
   */
  readonly finals?: readonly string[];
}

export interface FinalState extends IntegrityFields {
  readonly kind: 'final';
  /** Partial ids in concatenation order (may repeat). */
  readonly partials: readonly string[];
  readonly status: CompletionStatus;
  /** Key of the creation request, so a retried final POST finds this final again. */
  readonly requestKey: string;
}

/** An ordinary upload (not part of a concatenation). */
export interface SingleState extends IntegrityFields {
  readonly kind: 'single';
  readonly status: SingleStatus;
  /** Its bytes arrive as parts a client PUTs straight into S3 (S3_DIRECT), never by PATCH. */
  readonly direct?: boolean;
  /** When the record was written, ms since the epoch (direct uploads: to tell a creation that died). */
  readonly createdAt?: number;
}

/**
 * Per-upload lifecycle records. `update` is an atomic read-modify-write per key within one
 * process (and in Redis); across instances sharing a volume, a record is only ever changed at
 * its upload's creation, under its upload's lock, or (a final failing because a partial was
 * removed) under the lock of that partial, which no assembly of the final can hold meanwhile.
 * `delete` removes an upload's record and its links.
 */
export interface UploadStateStore {
  get(id: string): Promise<UploadState | undefined>;
  /** Ids of every upload that has a record (what the recovery pass looks at). */
  ids(): Promise<string[]>;
  /**
   * Records that `finalId` waits on `partialId`: its own entry, created at once, so finals
   * created concurrently (on any instance) never lose each other's link.
   */
  link(partialId: string, finalId: string): Promise<void>;
  /** The finals that wait on a partial (links, and those older records list). */
  linkedFinals(partialId: string): Promise<string[]>;
  update(id: string, change: (current: UploadState | undefined) => UploadState | undefined): Promise<UploadState | undefined>;
  delete(id: string): Promise<void>;
  /** Atomically maps `key` to `value` unless it maps to something already; returns the winner. */
  claim(key: string, value: string): Promise<string>;
  /** What `key` is claimed for, if anything. */
  claimed(key: string): Promise<string | undefined>;
  /** Drops a claim, if it still maps to `value`. */
  release(key: string, value: string): Promise<void>;
  /** Probe for readiness. */
  ping(): Promise<void>;
}
