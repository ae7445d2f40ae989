import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { nginxTempPaths } from '../../tools/processes/nginx-balancer.js';
import { onCleanup } from './cleanup.js';
import { freePort } from './proc.js';

export interface NginxStatic {
  readonly baseUrl: string;
  stop(): Promise<void>;
}

/**
 * nginx serving `root` as static files on 127.0.0.1 (sendfile, one worker, no access log): the
 * reference a download from Tessera is measured against. Started as root, its worker runs as
 * root too: it must read the bench's private temp dir, as Tessera does.
 */
export async function startNginxStatic(root: string): Promise<NginxStatic> {
  const prefix = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-nginx-static-'));
  const port = await freePort();
  const conf = path.join(prefix, 'nginx.conf');
  await fs.writeFile(
    conf,
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
${nginxTempPaths(prefix)}
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location / { }
  }
}
`,
  );
  const child = spawn('nginx', ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = onCleanup(
    `nginx static (pid ${child.pid})`,
    async () => {
      if (child.exitCode === null) child.kill('SIGQUIT');
      await exited;
      await fs.rm(prefix, { recursive: true, force: true });
    },
    () => child.exitCode === null && child.kill('SIGKILL'),
  );
  const deadline = Date.now() + 10_000;
  while (!(await fetch(`${baseUrl}/`).then((r) => r.status < 500, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nginx did not start on port ${port}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { baseUrl, stop };
}
