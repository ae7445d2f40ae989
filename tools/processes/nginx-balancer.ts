import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface NginxBalancer {
  readonly port: number;
  readonly baseUrl: string;
  stop(): Promise<void>;
}

/**
 * nginx as the load balancer, on 127.0.0.1, round robin over `upstreamPorts` with no sticky
 * sessions; the same proxy settings as deploy/nginx.conf (streamed bodies, no size limit).
 */
export async function startNginxBalancer(port: number, upstreamPorts: readonly number[]): Promise<NginxBalancer> {
  const prefix = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-nginx-'));
  const conf = path.join(prefix, 'nginx.conf');
  await fs.writeFile(conf, nginxConfig(port, upstreamPorts, prefix));
  const child = spawn('nginx', ['-p', prefix, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 10_000;
  while (!(await fetch(`${baseUrl}/healthz`).then((r) => r.ok, () => false))) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    baseUrl,
    async stop() {
      if (child.exitCode === null) child.kill('SIGQUIT');
      await exited;
      await fs.rm(prefix, { recursive: true, force: true });
    },
  };
}

function nginxConfig(port: number, upstreamPorts: readonly number[], prefix: string): string {
  const servers = upstreamPorts.map((p) => `    server 127.0.0.1:${p} max_fails=0;`).join('\n');
  return `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
${nginxTempPaths(prefix)}
  upstream tessera {
${servers}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 0;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_http_version 1.1;
    proxy_read_timeout 1h;
    proxy_send_timeout 1h;
    proxy_next_upstream error timeout;
    location / {
      proxy_pass http://tessera;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`;
}

/** nginx's temp directories, inside `prefix` (the default ones need root and a system path). */
export function nginxTempPaths(prefix: string): string {
  return ['client_body_temp_path body', 'proxy_temp_path proxy', 'fastcgi_temp_path fastcgi', 'uwsgi_temp_path uwsgi', 'scgi_temp_path scgi']
    .map((line) => {
      const [directive, dir] = line.split(' ');
      return `  ${directive} ${prefix}/${dir};`;
    })
    .join('\n');
}
