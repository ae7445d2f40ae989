import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SmallDisk {
  /** The mount point: an empty file system of the requested size. */
  readonly dir: string;
  /** Bytes this process may still write there. */
  free(): Promise<number>;
  /** Writes a filler file that leaves about `leaveBytes` free; returns its path. */
  fill(leaveBytes: number): Promise<string>;
  /** Unmounts and removes the mount point. */
  unmount(): Promise<void>;
}

/**
 * Mounts a tmpfs of `size` (e.g. "8m") on a fresh directory: a real file system that runs
 * out of space. Needs root (or CAP_SYS_ADMIN); without it the test must fail loudly, not
 * pass or skip quietly, so the error says what is missing.
 */
export async function mountSmallDisk(size: string): Promise<SmallDisk> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-small-disk-'));
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
  } catch (error) {
    await fs.rmdir(dir).catch(() => undefined);
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `could not mount a ${size} tmpfs for the disk-full test (it needs root or CAP_SYS_ADMIN and the mount binary): ${reason}`,
    );
  }
  const free = async () => {
    const stats = await fs.statfs(dir);
    return stats.bavail * stats.bsize;
  };
  let fillers = 0;
  return {
    dir,
    free,
    async fill(leaveBytes) {
      const file = path.join(dir, `.filler-${++fillers}`);
      await fs.writeFile(file, Buffer.alloc(Math.max(0, (await free()) - leaveBytes)));
      return file;
    },
    async unmount() {
      await run('umount', [dir]);
      await fs.rmdir(dir);
    },
  };
}
