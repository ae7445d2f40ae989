import ms from 'ms';
import { z } from 'zod';

/**
 * Typed, frozen configuration. `loadConfig` is the only reader of process.env in the
 * program: everything else receives a `Config`.
 */
export interface Config {
  readonly port: number;
  readonly host: string;
  /** URL path the tus endpoint is mounted on, without a trailing slash. */
  readonly tusPath: string;
  readonly dataDir: string;
  /** Largest upload in bytes; 0 means unlimited. */
  readonly maxSize: number;
  /** How long an unfinished upload lives, in ms; 0 disables expiry. */
  readonly uploadExpiryMs: number;
  /** Most partial uploads one final may reference. */
  readonly maxPartials: number;
  /** How often the expiry sweeper runs, in ms. */
  readonly expirySweepIntervalMs: number;
  /** How long a request waits for a held upload lock before answering 423. */
  readonly lockTimeoutMs: number;
  /** How long a lock holder asked to release gets to finish its request. */
  readonly lockDrainTimeoutMs: number;
  /** Bounded time in-flight requests get on SIGTERM/SIGINT. */
  readonly shutdownTimeoutMs: number;
  /** Origins allowed by CORS; empty means any origin. */
  readonly corsOrigins: readonly string[];
  /** Honour Forwarded / X-Forwarded-* when building upload URLs. */
  readonly trustProxy: boolean;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Serve the browser upload page (Uppy); on unless TUS_PATH covers its path. */
  readonly webUi: boolean;
  /** URL path of the upload page, without a trailing slash ('/' for the root). */
  readonly webUiPath: string;
  /** Bearer-token (JWT) authentication; undefined = off. */
  readonly auth?: AuthConfig;
  /** Largest Upload-Metadata header in bytes. */
  readonly maxMetadataBytes: number;
  /** Requests per minute per owner (or client address); 0 = off. */
  readonly rateLimitPerMinute: number;
  /** Uploads sending data at once per owner, per instance; 0 = off. */
  readonly maxConcurrentUploads: number;
  /** Assemblies and whole-file verifications running at once in this process; more queue. */
  readonly maxConcurrentAssemblies: number;
  /** A connection that sends nothing for this long (idle between requests, or mid-body) is closed; ms. */
  readonly networkTimeoutMs: number;
  /** Open connections one client address may hold; 0 = no cap. */
  readonly maxConnectionsPerClient: number;
  /** When set, /metrics answers only requests with `Authorization: Bearer <this>`. */
  readonly metricsToken?: string;
  /** METRICS_PORT: /metrics on its own listener (METRICS_HOST:port) instead of the tus port; undefined = on the tus port. */
  readonly metricsListen?: { readonly host: string; readonly port: number };
  /** Shared mode: Redis for locks and upload state; undefined keeps the embedded default. */
  readonly redis?: RedisConfig;
  /** S3 storage (S3_BUCKET); undefined keeps uploads on the local disk (dataDir). */
  readonly s3?: S3Config;
  /**
   * DOWNLOAD_REDIRECT=presigned (S3 only): a GET is answered with a redirect to a presigned
   * GetObject URL valid this long, so download bytes never pass through Tessera; undefined
   * serves them through Tessera.
   */
  readonly downloadRedirect?: { readonly ttlMs: number };
  /**
   * S3_DIRECT (S3 only): clients may send an upload's bytes straight into the bucket as presigned
   * parts (@uppy/aws-s3 through /s3), each part's URL good for `partUrlTtlMs`; undefined = off.
   */
  readonly s3Direct?: { readonly partUrlTtlMs: number };
  /** HTTP hooks (HOOKS_HTTP_URL): tusd v2 hook requests to the integrator's backend; undefined = off. */
  readonly hooksHttp?: HttpHooksConfig;
}

/** The hook events Tessera sends (tusd v2's names). */
export const HOOK_EVENTS = ['pre-create', 'post-create', 'post-receive', 'pre-finish', 'post-finish', 'post-terminate', 'pre-terminate'] as const;
export type HookEvent = (typeof HOOK_EVENTS)[number];
/** Sent unless HOOKS_ENABLED_EVENTS says otherwise (as tusd: the blocking pre-finish and pre-terminate only when asked for). */
export const DEFAULT_HOOK_EVENTS: readonly HookEvent[] = ['pre-create', 'post-create', 'post-receive', 'post-finish', 'post-terminate'];

export interface HttpHooksConfig {
  readonly url: string;
  readonly events: ReadonlySet<HookEvent>;
  /** Request headers passed on in the hook request's `HTTPRequest.Header` (lower case); the rest are left out. */
  readonly forwardHeaders: readonly string[];
  /** One hook request's time limit, ms. */
  readonly timeoutMs: number;
  /** Further tries after a failed one (unreachable, timeout, 5xx). */
  readonly retries: number;
  /** Wait before the first retry, doubled for each next; ms. */
  readonly backoffMs: number;
  /** post-receive at most this often per upload; ms. */
  readonly progressIntervalMs: number;
  /** HMAC-SHA256 key signing every hook request (Tessera-Signature); undefined = unsigned. */
  readonly secret?: string;
  /** How long post-finish and post-terminate are tried (across restarts) before they are given up; ms. */
  readonly retryForMs: number;
}

export interface AuthConfig {
  readonly jwtSecret?: string;
  readonly jwksUrl?: string;
  readonly issuer?: string;
  readonly audience?: string;
  /** Refuse tokens without an `exp` claim (they would never expire). */
  readonly requireExp?: boolean;
}

export interface RedisConfig {
  /**
   * Main connection (locks' pub/sub, rate counters, S3 claims). With Sentinel, only its
   * credentials and database count (`redis://` when REDIS_URL is unset): the sentinels name
   * the master.
   */
  readonly url: string;
  /** Redis Sentinel (REDIS_SENTINELS): the main connection follows the master through failovers. */
  readonly sentinel?: { readonly nodes: readonly { readonly host: string; readonly port: number }[]; readonly name: string };
  /** Independent masters for the lock quorum; [url] unless REDIS_URLS is set. */
  readonly lockUrls: readonly string[];
  /** Prefix of every key Tessera writes. */
  readonly prefix: string;
}

export interface S3Config {
  readonly bucket: string;
  /** An S3-compatible endpoint (MinIO, R2, Ceph); undefined means AWS. */
  readonly endpoint?: string;
  readonly region: string;
  /** Path-style URLs (endpoint/bucket/key), which most S3-compatible servers need. */
  readonly forcePathStyle: boolean;
  /** Preferred multipart part size in bytes (5 MiB to 5 GiB). */
  readonly partSize: number;
  /**
   * Whether part uploads ask for `100 Continue` before sending their bytes (the SDK's
   * default). Off by default: see S3_EXPECT_CONTINUE in README.
   */
  readonly expectContinue: boolean;
  /**
   * A connection to S3 on which nothing moves for this long is given up (connecting: at most
   * 5 s of it); the request then answers 503. Undefined: 30 s.
   */
  readonly networkTimeoutMs?: number;
  /**
   * For embedders and tests only: from the environment the AWS SDK reads its credentials
   * itself (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE...).
   */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
}

// JSON quoting keeps the error one line even when the raw value holds a newline.
const shown = (raw: string) => JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw);

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

// ms() throws on an empty string; a bad value must become a ConfigError, not a stack trace.
function parseDuration(text: string): number | undefined {
  try {
    return ms(text as ms.StringValue);
  } catch {
    return undefined;
  }
}

// Node timers overflow past this (and then fire after 1 ms), so timer durations stop here.
const MAX_TIMER_MS = 2 ** 31 - 1;

const duration = (fallback: string, maxMs = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .default(fallback)
    .transform((raw, ctx) => {
      const trimmed = raw.trim();
      const value = /^\d+$/.test(trimmed) ? Number(trimmed) : parseDuration(trimmed);
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        ctx.addIssue({ code: 'custom', message: `must be a duration such as 30s, 15m, 24h or a number of ms (got ${shown(raw)})` });
        return z.NEVER;
      }
      if (value > maxMs) {
        ctx.addIssue({ code: 'custom', message: `must be at most ${maxMs} ms (about ${ms(maxMs, { long: true })}) (got ${shown(raw)})` });
        return z.NEVER;
      }
      return value;
    });

const integer = (fallback: number, min: number, max: number) =>
  z
    .string()
    .default(String(fallback))
    .transform((raw, ctx) => {
      const value = Number(raw.trim());
      if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
        ctx.addIssue({ code: 'custom', message: `must be an integer from ${min} to ${max} (got ${shown(raw)})` });
        return z.NEVER;
      }
      return value;
    });

const boolean = (fallback: boolean) =>
  z
    .string()
    .default(String(fallback))
    .transform((raw, ctx) => {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off', ''].includes(v)) return false;
      ctx.addIssue({ code: 'custom', message: `must be true or false (got ${shown(raw)})` });
      return z.NEVER;
    });

const envSchema = z.object({
  PORT: integer(1080, 0, 65535),
  HOST: z.string().trim().min(1, 'must not be empty').default('127.0.0.1'),
  TUS_PATH: z
    .string()
    .default('/files')
    .refine((p) => /^\/[A-Za-z0-9._~\-/]*$/.test(p) && (p === '/' || !p.endsWith('/')), {
      message: 'must start with "/", use URL-safe characters and not end with "/"',
    }),
  DATA_DIR: z.string().min(1, 'must not be empty').default('./data'),
  MAX_SIZE: integer(0, 0, Number.MAX_SAFE_INTEGER),
  MAX_PARTIALS: integer(1000, 1, 10000),
  UPLOAD_EXPIRY: duration('24h'),
  EXPIRY_SWEEP_INTERVAL: duration('10m', MAX_TIMER_MS),
  LOCK_TIMEOUT: duration('20s', MAX_TIMER_MS),
  LOCK_DRAIN_TIMEOUT: duration('3s', MAX_TIMER_MS),
  SHUTDOWN_TIMEOUT: duration('10s', MAX_TIMER_MS),
  CORS_ORIGINS: z.string().default(''),
  AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters (HS256 wants a 256-bit secret)').optional(),
  AUTH_JWKS_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL of a JSON Web Key Set' }).optional(),
  AUTH_JWT_ISSUER: z.string().min(1).optional(),
  AUTH_JWT_AUDIENCE: z.string().min(1).optional(),
  AUTH_JWT_REQUIRE_EXP: boolean(false),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  METRICS_PORT: z
    .string()
    .optional()
    .refine((p) => p === undefined || p === '' || (/^\d+$/.test(p) && Number(p) <= 65535), 'must be a port number (0-65535)'),
  METRICS_HOST: z.string().trim().min(1, 'must not be empty').default('127.0.0.1'),
  MAX_METADATA_SIZE: integer(4096, 64, 65536),
  RATE_LIMIT_PER_MINUTE: integer(0, 0, 1_000_000),
  MAX_CONCURRENT_UPLOADS: integer(0, 0, 100_000),
  MAX_CONCURRENT_ASSEMBLIES: integer(2, 1, 1000),
  NETWORK_TIMEOUT: duration('60s', MAX_TIMER_MS),
  MAX_CONNECTIONS_PER_CLIENT: integer(256, 0, 1_000_000),
  REDIS_URL: z
    .string()
    .optional()
    .refine((u) => u === undefined || u === '' || /^rediss?:\/\/\S+$/.test(u), 'must be a redis:// or rediss:// URL'),
  REDIS_URLS: z
    .string()
    .optional()
    .refine(
      (u) => u === undefined || u.split(',').every((one) => /^rediss?:\/\/\S+$/.test(one.trim())),
      'must be a comma-separated list of redis:// URLs',
    ),
  REDIS_SENTINELS: z
    .string()
    .optional()
    .refine(
      (list) => list === undefined || list === '' || list.split(',').every((node) => /^[^\s:,]+:\d{1,5}$/.test(node.trim())),
      'must be a comma-separated list of host:port',
    ),
  REDIS_SENTINEL_NAME: z.string().regex(/^[A-Za-z0-9._-]+$/, 'must be a Sentinel master name (letters, digits, . _ -)').default('mymaster'),
  REDIS_PREFIX: z.string().regex(/^[A-Za-z0-9:_.-]*$/, 'may hold only letters, digits and : _ . -').default('tessera:'),
  TRUST_PROXY: boolean(false),
  S3_BUCKET: z
    .string()
    .trim()
    .optional()
    .refine((b) => !b || /^[A-Za-z0-9._-]{3,255}$/.test(b), 'must be a bucket name (letters, digits, . _ -)'),
  S3_ENDPOINT: z
    .string()
    .trim()
    .optional()
    .refine((u) => !u || /^https?:\/\/\S+$/.test(u), 'must be an http:// or https:// URL'),
  S3_REGION: z.string().trim().optional(),
  AWS_REGION: z.string().trim().optional(),
  S3_FORCE_PATH_STYLE: boolean(false),
  S3_PART_SIZE: integer(8 * 1024 * 1024, 5 * 1024 * 1024, 5 * 1024 ** 3),
  S3_EXPECT_CONTINUE: boolean(false),
  S3_NETWORK_TIMEOUT: duration('30s', MAX_TIMER_MS),
  DOWNLOAD_REDIRECT: z.enum(['off', 'presigned'], { error: 'must be off or presigned' }).default('off'),
  // S3's own limit for a presigned URL: 7 days.
  DOWNLOAD_REDIRECT_TTL: duration('5m', 7 * 24 * 3600 * 1000),
  S3_DIRECT: boolean(false),
  S3_DIRECT_PART_URL_TTL: duration('5m', 7 * 24 * 3600 * 1000),
  HOOKS_HTTP_URL: z
    .string()
    .trim()
    .optional()
    .refine((u) => !u || /^https?:\/\/\S+$/.test(u), 'must be an http:// or https:// URL'),
  HOOKS_ENABLED_EVENTS: z
    .string()
    .default(DEFAULT_HOOK_EVENTS.join(','))
    .transform((raw, ctx) => {
      const names = raw.split(',').map((name) => name.trim()).filter((name) => name !== '');
      const unknown = names.find((name) => !(HOOK_EVENTS as readonly string[]).includes(name));
      if (unknown === undefined) return new Set(names as HookEvent[]);
      ctx.addIssue({ code: 'custom', message: `must list hook events among ${HOOK_EVENTS.join(', ')} (got ${shown(unknown)})` });
      return z.NEVER;
    }),
  HOOKS_HTTP_FORWARD_HEADERS: z.string().default(''),
  HOOKS_HTTP_TIMEOUT: duration('15s', MAX_TIMER_MS),
  HOOKS_HTTP_RETRY: integer(3, 0, 100),
  HOOKS_HTTP_BACKOFF: duration('1s', MAX_TIMER_MS),
  HOOKS_PROGRESS_INTERVAL: duration('1s', MAX_TIMER_MS),
  HOOKS_HTTP_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  HOOKS_RETRY_FOR: duration('24h'),
  // Unset means "on where it fits": a TUS_PATH covering the page turns it off quietly.
  WEB_UI: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined) return undefined;
      const parsed = boolean(false).safeParse(raw);
      if (parsed.success) return parsed.data;
      ctx.addIssue({ code: 'custom', message: `must be true or false (got ${shown(raw)})` });
      return z.NEVER;
    }),
  WEB_UI_PATH: z
    .string()
    .default('/')
    .refine((p) => /^\/[A-Za-z0-9._~\-/]*$/.test(p) && (p === '/' || !p.endsWith('/')), {
      message: 'must start with "/", use URL-safe characters and not end with "/"',
    }),
  LOG_LEVEL: z
    .string()
    .default('info')
    .transform((raw, ctx) => {
      const level = LOG_LEVELS.find((l) => l === raw.trim().toLowerCase());
      if (level) return level;
      ctx.addIssue({ code: 'custom', message: `must be one of ${LOG_LEVELS.join(', ')} (got ${shown(raw)})` });
      return z.NEVER;
    }),
});

// The tus routes are mounted first and would shadow a page at or below their path.
function pathWithin(inner: string, outer: string): boolean {
  return outer === '/' || inner === outer || inner.startsWith(`${outer}/`);
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses and validates the environment once; throws a one-line `ConfigError` naming the variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = issue?.path.join('.') ?? 'environment';
    throw new ConfigError(`Invalid configuration: ${variable} ${issue?.message ?? 'is invalid'}`);
  }
  const e = parsed.data;
  if (e.AUTH_JWT_SECRET && e.AUTH_JWKS_URL) {
    throw new ConfigError('Invalid configuration: set AUTH_JWT_SECRET or AUTH_JWKS_URL, not both');
  }
  if (e.REDIS_URLS && !e.REDIS_URL && !e.REDIS_SENTINELS) {
    throw new ConfigError('Invalid configuration: REDIS_URLS needs REDIS_URL or REDIS_SENTINELS (the main connection)');
  }
  const webUiShadowed = pathWithin(e.WEB_UI_PATH, e.TUS_PATH);
  if (e.WEB_UI === true && webUiShadowed) {
    throw new ConfigError(
      `Invalid configuration: WEB_UI_PATH ${e.WEB_UI_PATH} lies inside TUS_PATH ${e.TUS_PATH}; move it or set WEB_UI=false`,
    );
  }
  if (!e.S3_BUCKET && (e.S3_ENDPOINT || e.S3_REGION)) {
    throw new ConfigError('Invalid configuration: S3_ENDPOINT and S3_REGION need S3_BUCKET (which switches storage to S3)');
  }
  if (e.DOWNLOAD_REDIRECT === 'presigned' && !e.S3_BUCKET) {
    throw new ConfigError('Invalid configuration: DOWNLOAD_REDIRECT=presigned needs S3 storage (S3_BUCKET)');
  }
  if (e.S3_DIRECT && !e.S3_BUCKET) {
    throw new ConfigError('Invalid configuration: S3_DIRECT needs S3 storage (S3_BUCKET)');
  }
  if (e.S3_DIRECT && (e.TUS_PATH === '/' || pathWithin('/s3', e.TUS_PATH) || pathWithin(e.TUS_PATH, '/s3'))) {
    throw new ConfigError(`Invalid configuration: S3_DIRECT serves /s3, which TUS_PATH ${e.TUS_PATH} overlaps; move TUS_PATH`);
  }
  if (e.S3_DIRECT_PART_URL_TTL < 1000) {
    throw new ConfigError('Invalid configuration: S3_DIRECT_PART_URL_TTL must be at least 1s');
  }
  if (e.S3_NETWORK_TIMEOUT < 1000) {
    throw new ConfigError('Invalid configuration: S3_NETWORK_TIMEOUT must be at least 1s');
  }
  if (e.DOWNLOAD_REDIRECT_TTL < 1000) {
    throw new ConfigError('Invalid configuration: DOWNLOAD_REDIRECT_TTL must be at least 1s');
  }
  if (!e.HOOKS_HTTP_URL && e.HOOKS_HTTP_SECRET) {
    throw new ConfigError('Invalid configuration: HOOKS_HTTP_SECRET needs HOOKS_HTTP_URL (which turns HTTP hooks on)');
  }
  if (e.HOOKS_HTTP_URL && e.HOOKS_HTTP_TIMEOUT < 100) {
    throw new ConfigError('Invalid configuration: HOOKS_HTTP_TIMEOUT must be at least 100ms');
  }
  if (e.EXPIRY_SWEEP_INTERVAL === 0) {
    throw new ConfigError('Invalid configuration: EXPIRY_SWEEP_INTERVAL must be greater than 0');
  }
  return Object.freeze({
    port: e.PORT,
    host: e.HOST,
    tusPath: e.TUS_PATH,
    dataDir: e.DATA_DIR,
    maxSize: e.MAX_SIZE,
    maxPartials: e.MAX_PARTIALS,
    uploadExpiryMs: e.UPLOAD_EXPIRY,
    expirySweepIntervalMs: e.EXPIRY_SWEEP_INTERVAL,
    lockTimeoutMs: e.LOCK_TIMEOUT,
    lockDrainTimeoutMs: e.LOCK_DRAIN_TIMEOUT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT,
    corsOrigins: Object.freeze(
      e.CORS_ORIGINS.split(',')
        .map((o) => o.trim())
        .filter((o) => o !== '' && o !== '*'),
    ),
    trustProxy: e.TRUST_PROXY,
    logLevel: e.LOG_LEVEL,
    webUi: e.WEB_UI ?? !webUiShadowed,
    webUiPath: e.WEB_UI_PATH,
    auth:
      e.AUTH_JWT_SECRET || e.AUTH_JWKS_URL
        ? Object.freeze({
            jwtSecret: e.AUTH_JWT_SECRET,
            jwksUrl: e.AUTH_JWKS_URL,
            issuer: e.AUTH_JWT_ISSUER,
            audience: e.AUTH_JWT_AUDIENCE,
            requireExp: e.AUTH_JWT_REQUIRE_EXP,
          })
        : undefined,
    maxMetadataBytes: e.MAX_METADATA_SIZE,
    rateLimitPerMinute: e.RATE_LIMIT_PER_MINUTE,
    maxConcurrentUploads: e.MAX_CONCURRENT_UPLOADS,
    maxConcurrentAssemblies: e.MAX_CONCURRENT_ASSEMBLIES,
    networkTimeoutMs: e.NETWORK_TIMEOUT,
    maxConnectionsPerClient: e.MAX_CONNECTIONS_PER_CLIENT,
    metricsToken: e.METRICS_TOKEN || undefined,
    metricsListen: e.METRICS_PORT ? Object.freeze({ host: e.METRICS_HOST, port: Number(e.METRICS_PORT) }) : undefined,
    redis: e.REDIS_URL || e.REDIS_SENTINELS ? redisConfig(e.REDIS_URL || 'redis://', e.REDIS_URLS, e.REDIS_SENTINELS, e.REDIS_SENTINEL_NAME, e.REDIS_PREFIX) : undefined,
    s3: e.S3_BUCKET
      ? Object.freeze({
          bucket: e.S3_BUCKET,
          endpoint: e.S3_ENDPOINT || undefined,
          region: e.S3_REGION || e.AWS_REGION || 'us-east-1',
          forcePathStyle: e.S3_FORCE_PATH_STYLE,
          partSize: e.S3_PART_SIZE,
          expectContinue: e.S3_EXPECT_CONTINUE,
          networkTimeoutMs: e.S3_NETWORK_TIMEOUT,
        })
      : undefined,
    downloadRedirect: e.DOWNLOAD_REDIRECT === 'presigned' ? Object.freeze({ ttlMs: e.DOWNLOAD_REDIRECT_TTL }) : undefined,
    s3Direct: e.S3_DIRECT ? Object.freeze({ partUrlTtlMs: e.S3_DIRECT_PART_URL_TTL }) : undefined,
    hooksHttp: e.HOOKS_HTTP_URL
      ? Object.freeze({
          url: e.HOOKS_HTTP_URL,
          events: e.HOOKS_ENABLED_EVENTS,
          forwardHeaders: Object.freeze(
            e.HOOKS_HTTP_FORWARD_HEADERS.split(',')
              .map((h) => h.trim().toLowerCase())
              .filter((h) => h !== ''),
          ),
          timeoutMs: e.HOOKS_HTTP_TIMEOUT,
          retries: e.HOOKS_HTTP_RETRY,
          backoffMs: e.HOOKS_HTTP_BACKOFF,
          progressIntervalMs: e.HOOKS_PROGRESS_INTERVAL,
          secret: e.HOOKS_HTTP_SECRET,
          retryForMs: e.HOOKS_RETRY_FOR,
        })
      : undefined,
  });
}

function redisConfig(url: string, lockUrls: string | undefined, sentinels: string | undefined, name: string, prefix: string): RedisConfig {
  const nodes = (sentinels ?? '')
    .split(',')
    .map((node) => node.trim())
    .filter((node) => node !== '')
    .map((node) => {
      const at = node.lastIndexOf(':');
      return Object.freeze({ host: node.slice(0, at), port: Number(node.slice(at + 1)) });
    });
  return Object.freeze({
    url,
    ...(nodes.length > 0 ? { sentinel: Object.freeze({ nodes: Object.freeze(nodes), name }) } : {}),
    lockUrls: Object.freeze(lockUrls ? lockUrls.split(',').map((u) => u.trim()) : [url]),
    prefix,
  });
}

/** Defaults merged with overrides: what tests and embedders start from. */
export function configWith(overrides: Partial<Config> = {}): Config {
  return Object.freeze({ ...loadConfig({}), ...overrides });
}
