import { spawn } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { onCleanup } from './cleanup.js';
import { freePort } from './proc.js';

export interface NginxDav {
  readonly baseUrl: string;
  /** The worker's pid (one worker): whose CPU the anchor's rows report. */
  readonly workerPid: number;
  stop(): Promise<void>;
}

/**
 * nginx storing PUT bodies with its WebDAV module (issue #20's anchor): one worker, the body
 * buffered into `client_body_temp_path` on the same file system as `root` and renamed into
 * place, no access log. As root it needs `user root;` to rename into the bench's private dir.
 */
export async function startNginxDav(root: string): Promise<NginxDav> {
  const prefix = await fsp.mkdtemp(path.join(root, '.nginx-dav-'));
  const files = path.join(root, 'dav');
  await fsp.mkdir(files, { recursive: true });
  await fsp.mkdir(path.join(prefix, 'body'), { recursive: true });
  const port = await freePort();
  const conf = path.join(prefix, 'nginx.conf');
  await fsp.writeFile(
    conf,
    `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  client_max_body_size 0;
  server {
    listen 127.0.0.1:${port};
    root ${files};
    location / {
      dav_methods PUT DELETE;
      create_full_put_path on;
    }
  }
}
`,
  );
  const child = spawn('nginx', ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = onCleanup(
    `nginx WebDAV (pid ${child.pid})`,
    async () => {
      if (child.exitCode === null) child.kill('SIGQUIT');
      await exited;
      await fsp.rm(prefix, { recursive: true, force: true });
      await fsp.rm(files, { recursive: true, force: true });
    },
    () => child.exitCode === null && child.kill('SIGKILL'),
  );
  const deadline = Date.now() + 10_000;
  let workerPid: number | undefined;
  while (workerPid === undefined || !(await fetch(`${baseUrl}/`).then((r) => r.status < 500, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nginx (WebDAV) did not start on port ${port}`);
    }
    workerPid = childrenOf(child.pid as number)[0];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { baseUrl, workerPid, stop };
}

/** The child processes of `pid` (Linux: /proc/<pid>/task/<pid>/children). */
function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
