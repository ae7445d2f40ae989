import fs from 'node:fs/promises';
import type { TesseraProcess } from './tessera-process.js';

/**
 * Kills the server itself with SIGKILL, as a crash would. spawnTessera runs it under the
 * tsx wrapper, which cannot pass SIGKILL on: killing the wrapper would leave the server
 * running. The wrapper exits once its child is gone.
 */
export async function crashTessera(proc: TesseraProcess): Promise<void> {
  const pid = proc.child.pid;
  if (pid === undefined || proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const children = await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  for (const child of children.split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(child), 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  if (children.trim() === '') proc.child.kill('SIGKILL');
  await proc.exited;
}
