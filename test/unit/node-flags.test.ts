import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NODE_FLAGS } from '../../src/config/node-flags.js';

const read = (file: string) => fs.readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

describe('V8 flags of the server launchers (src/config/node-flags.ts)', () => {
  it('the start scripts and the Docker image pass the same flags as the test and bench launchers', () => {
    const { scripts } = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    const flags = NODE_FLAGS.join(' ');
    expect(scripts.start).toBe(`node ${flags} bin/tessera.js serve`);
    expect(scripts['start:built']).toBe(`node ${flags} dist/src/cli/index.js serve`);
    const cmd = /^CMD (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
    expect(JSON.parse(cmd ?? '[]')).toEqual(['node', ...NODE_FLAGS, 'dist/src/cli/index.js', 'serve']);
  });

  it('are accepted by this node (it refuses to start on a flag it does not know)', () => {
    const run = spawnSync(process.execPath, [...NODE_FLAGS, '-e', 'process.exit(0)'], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(spawnSync(process.execPath, ['--initial-old-space-sise=128', '-e', 'process.exit(0)']).status).not.toBe(0);
  });
});
