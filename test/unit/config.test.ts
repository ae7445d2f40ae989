import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, configWith, loadConfig } from '../../src/config/config.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function errorOf(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('gives the documented defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 1080,
      host: '127.0.0.1',
      tusPath: '/files',
      dataDir: './data',
      maxSize: 0,
      uploadExpiryMs: 24 * 60 * 60 * 1000,
      expirySweepIntervalMs: 10 * 60 * 1000,
      lockTimeoutMs: 20_000,
      lockDrainTimeoutMs: 3_000,
      shutdownTimeoutMs: 10_000,
      corsOrigins: [],
      trustProxy: false,
      logLevel: 'info',
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.corsOrigins)).toBe(true);
  });

  it('parses every variable', () => {
    const config = loadConfig({
      PORT: '8080',
      HOST: '::',
      TUS_PATH: '/api/uploads',
      DATA_DIR: '/var/lib/tessera',
      MAX_SIZE: '1048576',
      UPLOAD_EXPIRY: '2h',
      EXPIRY_SWEEP_INTERVAL: '30s',
      LOCK_TIMEOUT: '1500',
      LOCK_DRAIN_TIMEOUT: '250ms',
      SHUTDOWN_TIMEOUT: '1m',
      CORS_ORIGINS: 'https://a.example, https://b.example,,',
      TRUST_PROXY: 'yes',
      LOG_LEVEL: 'DEBUG',
      UNRELATED: 'ignored',
    });
    expect(config).toMatchObject({
      port: 8080,
      host: '::',
      tusPath: '/api/uploads',
      dataDir: '/var/lib/tessera',
      maxSize: 1_048_576,
      uploadExpiryMs: 2 * 60 * 60 * 1000,
      expirySweepIntervalMs: 30_000,
      lockTimeoutMs: 1_500,
      lockDrainTimeoutMs: 250,
      shutdownTimeoutMs: 60_000,
      corsOrigins: ['https://a.example', 'https://b.example'],
      trustProxy: true,
      logLevel: 'debug',
    });
  });

  it('reads booleans in their usual spellings', () => {
    for (const yes of ['1', 'true', 'on', 'YES']) expect(loadConfig({ TRUST_PROXY: yes }).trustProxy).toBe(true);
    for (const no of ['0', 'false', 'off', 'no', '']) expect(loadConfig({ TRUST_PROXY: no }).trustProxy).toBe(false);
  });

  it('treats UPLOAD_EXPIRY=0 as "never expire" and CORS_ORIGINS=* as any origin', () => {
    expect(loadConfig({ UPLOAD_EXPIRY: '0' }).uploadExpiryMs).toBe(0);
    expect(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins).toEqual([]);
    expect(loadConfig({ TUS_PATH: '/' }).tusPath).toBe('/');
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '65536'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['HOST', ''],
    ['TUS_PATH', 'files'],
    ['TUS_PATH', '/files/'],
    ['TUS_PATH', '/fi les'],
    ['DATA_DIR', ''],
    ['MAX_SIZE', '10GB'],
    ['MAX_SIZE', '-5'],
    ['MAX_SIZE', '1e9'],
    ['UPLOAD_EXPIRY', 'soon'],
    ['UPLOAD_EXPIRY', ''],
    ['UPLOAD_EXPIRY', '-5m'],
    ['EXPIRY_SWEEP_INTERVAL', '0'],
    ['EXPIRY_SWEEP_INTERVAL', '30d'],
    ['LOCK_TIMEOUT', 'forever'],
    ['LOCK_DRAIN_TIMEOUT', '3 parsecs'],
    ['SHUTDOWN_TIMEOUT', '-1s'],
    ['TRUST_PROXY', 'maybe'],
    ['LOG_LEVEL', 'loud'],
    ['DOWNLOAD_REDIRECT', 'always'],
    ['METRICS_TOKEN', 'short'],
    ['S3_NETWORK_TIMEOUT', 'never'],
    ['REDIS_SENTINELS', 'sentinel-without-port'],
    ['REDIS_SENTINELS', 'a:1,b'],
    ['REDIS_SENTINEL_NAME', 'has space'],
    ['AUTH_JWT_REQUIRE_EXP', 'sometimes'],
    ['DOWNLOAD_REDIRECT_TTL', '8d'],
    ['DOWNLOAD_REDIRECT_TTL', 'soon'],
    ['HOOKS_HTTP_URL', 'ftp://hooks.example.com'],
    ['HOOKS_ENABLED_EVENTS', 'pre-create,post-launch'],
    ['HOOKS_HTTP_RETRY', '-1'],
    ['HOOKS_HTTP_TIMEOUT', 'a while'],
    ['HOOKS_HTTP_SECRET', 'short'],
    ['METRICS_PORT', '70000'],
    ['METRICS_PORT', 'metrics'],
  ])('rejects %s=%j with a one-line message naming the variable', (variable, value) => {
    const error = errorOf({ [variable]: value });
    expect(error.message).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
    expect(error.message).not.toContain('\n');
  });

  it('DOWNLOAD_REDIRECT=presigned: needs S3, and a TTL of at least 1s (default 5 minutes)', () => {
    expect(errorOf({ DOWNLOAD_REDIRECT: 'presigned' }).message).toBe('Invalid configuration: DOWNLOAD_REDIRECT=presigned needs S3 storage (S3_BUCKET)');
    expect(errorOf({ DOWNLOAD_REDIRECT: 'presigned', S3_BUCKET: 'bucket', DOWNLOAD_REDIRECT_TTL: '500' }).message).toBe(
      'Invalid configuration: DOWNLOAD_REDIRECT_TTL must be at least 1s',
    );
    expect(loadConfig({ DOWNLOAD_REDIRECT: 'presigned', S3_BUCKET: 'bucket' }).downloadRedirect).toEqual({ ttlMs: 300_000 });
    expect(loadConfig({ DOWNLOAD_REDIRECT: 'presigned', S3_BUCKET: 'bucket', DOWNLOAD_REDIRECT_TTL: '1h' }).downloadRedirect).toEqual({ ttlMs: 3_600_000 });
    expect(loadConfig({ S3_BUCKET: 'bucket' }).downloadRedirect).toBeUndefined();
  });

  it('S3_DIRECT: needs S3 and a TUS_PATH clear of /s3; part URLs live 5 minutes unless S3_DIRECT_PART_URL_TTL says otherwise (at least 1s)', () => {
    expect(errorOf({ S3_DIRECT: 'true' }).message).toBe('Invalid configuration: S3_DIRECT needs S3 storage (S3_BUCKET)');
    for (const tusPath of ['/', '/s3', '/s3/files']) {
      expect(errorOf({ S3_DIRECT: 'true', S3_BUCKET: 'bucket', TUS_PATH: tusPath }).message, tusPath).toBe(
        `Invalid configuration: S3_DIRECT serves /s3, which TUS_PATH ${tusPath} overlaps; move TUS_PATH`,
      );
    }
    expect(errorOf({ S3_DIRECT: 'true', S3_BUCKET: 'bucket', S3_DIRECT_PART_URL_TTL: '10' }).message).toBe('Invalid configuration: S3_DIRECT_PART_URL_TTL must be at least 1s');
    expect(loadConfig({ S3_DIRECT: 'true', S3_BUCKET: 'bucket' }).s3Direct).toEqual({ partUrlTtlMs: 300_000 });
    expect(loadConfig({ S3_DIRECT: 'true', S3_BUCKET: 'bucket', TUS_PATH: '/s3files', S3_DIRECT_PART_URL_TTL: '1h' }).s3Direct).toEqual({ partUrlTtlMs: 3_600_000 });
    expect(loadConfig({ S3_BUCKET: 'bucket' }).s3Direct).toBeUndefined();
  });

  it('HOOKS_HTTP_URL turns HTTP hooks on, with their defaults; a secret without a URL is refused', () => {
    expect(loadConfig({}).hooksHttp).toBeUndefined();
    expect(loadConfig({ HOOKS_HTTP_URL: 'https://backend.example.com/tus-hooks', HOOKS_HTTP_FORWARD_HEADERS: 'Authorization, X-Request-Id' }).hooksHttp).toEqual({
      url: 'https://backend.example.com/tus-hooks',
      events: new Set(['pre-create', 'post-create', 'post-receive', 'post-finish', 'post-terminate']),
      forwardHeaders: ['authorization', 'x-request-id'],
      timeoutMs: 15_000,
      retries: 3,
      backoffMs: 1000,
      progressIntervalMs: 1000,
      secret: undefined,
      retryForMs: 86_400_000,
    });
    expect(loadConfig({ HOOKS_HTTP_URL: 'http://127.0.0.1:9000', HOOKS_ENABLED_EVENTS: 'post-finish' }).hooksHttp?.events).toEqual(new Set(['post-finish']));
    expect(errorOf({ HOOKS_HTTP_SECRET: 'a-secret-of-some-length' }).message).toBe('Invalid configuration: HOOKS_HTTP_SECRET needs HOOKS_HTTP_URL (which turns HTTP hooks on)');
  });

  it('REDIS_SENTINELS turns shared mode on through Sentinel; REDIS_URL then gives only credentials and database', () => {
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379, s2:26380' }).redis).toEqual({
      url: 'redis://',
      sentinel: { nodes: [{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }], name: 'mymaster' },
      lockUrls: ['redis://'],
      prefix: 'tessera:',
    });
    const both = loadConfig({ REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'uploads', REDIS_URL: 'redis://:pw@ignored:1/2', REDIS_URLS: 'redis://l1:6379,redis://l2:6379' }).redis;
    expect(both?.sentinel?.name).toBe('uploads');
    expect(both?.url).toBe('redis://:pw@ignored:1/2');
    expect(both?.lockUrls).toEqual(['redis://l1:6379', 'redis://l2:6379']);
  });

  it('keeps the message on one line even when the value holds a newline', () => {
    const error = errorOf({ PORT: '80\n80' });
    expect(error.message).toMatch(/^Invalid configuration: PORT /);
    expect(error.message).not.toContain('\n');
  });

  it('configWith merges overrides over the defaults', () => {
    const config = configWith({ port: 0, maxSize: 5 });
    expect(config.port).toBe(0);
    expect(config.maxSize).toBe(5);
    expect(config.tusPath).toBe('/files');
    expect(Object.isFrozen(config)).toBe(true);
  });
});

/** Runs `npm start`'s command with exactly `env` (plus PATH/HOME) until it exits. */
async function runMain(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['src/main.ts'], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}

describe('start-up failures', () => {
  it('a bad environment exits with status 2 and one line on stderr naming the variable', async () => {
    const { code, stdout, stderr } = await runMain({ PORT: 'eighty' });
    expect(code).toBe(2);
    expect(stderr).toBe('Invalid configuration: PORT must be an integer from 0 to 65535 (got "eighty")\n');
    expect(stdout).toBe('');
  });

  it('a port already in use exits with status 1 and one line on stderr', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-start-'));
    try {
      const { port } = blocker.address() as net.AddressInfo;
      const { code, stderr } = await runMain({ PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
      expect(code).toBe(1);
      expect(stderr).toMatch(/^Tessera failed to start: .*EADDRINUSE.*\n$/);
      expect(stderr.trim()).not.toContain('\n');
    } finally {
      blocker.close();
      await fs.rm(dataDir, { recursive: true, force: true });
    }
  });
});
