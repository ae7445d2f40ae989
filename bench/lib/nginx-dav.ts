import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { nginxTempPaths } from '../../tools/processes/nginx-balancer.js';
import { startNginxProcess } from './nginx-process.js';
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
  let workerPid: number | undefined;
  const { baseUrl, stop } = await startNginxProcess('nginx WebDAV', prefix, `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
${nginxTempPaths(prefix)}
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
`, port, {
    alsoRemove: [files],
    // Ready once its one worker is there: whose CPU the anchor's rows report.
    ready: (child) => (workerPid = childrenOf(child.pid as number)[0]) !== undefined,
  });
  if (workerPid === undefined) throw new Error('nginx (WebDAV) started without a worker');
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
