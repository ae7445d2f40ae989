import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Every file under `dir` (uploads, their info, upload state) as path → "size:sha256", so
 * two snapshots are equal exactly when nothing stored changed.
 */
export async function snapshotDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (at: string): Promise<void> => {
    for (const entry of await fs.readdir(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) {
        await walk(full);
        continue;
      }
      const data = await fs.readFile(full).catch(() => undefined);
      if (data) out[path.relative(dir, full)] = `${data.length}:${createHash('sha256').update(data).digest('hex')}`;
    }
  };
  await walk(dir);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}
