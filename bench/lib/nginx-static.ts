import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { nginxTempPaths } from '../../tools/processes/nginx-balancer.js';
import { startNginxProcess } from './nginx-process.js';
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
  const { baseUrl, stop } = await startNginxProcess('nginx static', prefix, `${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes 1;
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
`, port);
  return { baseUrl, stop };
}
