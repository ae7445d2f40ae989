import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { onCleanup } from './cleanup.js';

export interface NginxProcess {
  readonly baseUrl: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Runs nginx with `conf` (written under `prefix`) in the foreground on 127.0.0.1:`port`, and
 * resolves once it answers; stopping it (SIGQUIT, SIGKILL when the harness dies) removes `prefix`
 * and `alsoRemove`. `ready` may ask more of a started nginx (its worker's pid, say).
 */
export async function startNginxProcess(
  label: string,
  prefix: string,
  conf: string,
  port: number,
  options: { readonly alsoRemove?: readonly string[]; readonly ready?: (child: ChildProcess) => boolean } = {},
): Promise<NginxProcess> {
  const file = `${prefix}/nginx.conf`;
  await fs.writeFile(file, conf);
  const child = spawn('nginx', ['-p', prefix, '-c', file, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = onCleanup(
    `${label} (pid ${child.pid})`,
    async () => {
      if (child.exitCode === null) child.kill('SIGQUIT');
      await exited;
      for (const dir of [prefix, ...(options.alsoRemove ?? [])]) await fs.rm(dir, { recursive: true, force: true });
    },
    () => child.exitCode === null && child.kill('SIGKILL'),
  );
  const deadline = Date.now() + 10_000;
  while (!((options.ready?.(child) ?? true) && (await fetch(`${baseUrl}/`).then((r) => r.status < 500, () => false)))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`${label} did not start on port ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { baseUrl, child, stop };
}
