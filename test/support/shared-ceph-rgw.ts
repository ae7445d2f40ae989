import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TestProject } from 'vitest/node';
import { startCephRgw, type CephRgw } from '../../tools/processes/ceph-rgw.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the broker that starts the run's one Ceph RGW cluster on first request (see below). */
    cephRgwBroker: string;
  }
}

/** What a test file gets to reach the run's RGW (one cluster, shared: each test uses its own buckets). */
export interface SharedRgw {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly pid: number;
}

/**
 * Vitest global setup: a broker for one Ceph RGW cluster per test run, started when a test file
 * first asks for it (so runs without S3 tests never pay its ~15 s) and stopped at the end. Several
 * clusters starting at once on one machine interfered (an OSD registered with another cluster's
 * monitor: "wrong fsid"), and one cluster serves every file as well as four.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let cluster: Promise<CephRgw> | undefined;
  const broker = http.createServer((_req, res) => {
    // Once more if the first cluster does not come up (each has its own ports and directory).
    cluster ??= startCephRgw().catch((error: unknown) => {
      console.error(`ceph-rgw: ${(error as Error).message}; starting another cluster`);
      return startCephRgw();
    });
    cluster.then(
      (rgw) => {
        const shared: SharedRgw = { endpoint: rgw.endpoint, region: rgw.region, credentials: rgw.credentials, pid: rgw.pid };
        res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(shared));
      },
      (error: unknown) => res.writeHead(500).end((error as Error).message),
    );
  });
  await new Promise<void>((resolve) => broker.listen(0, '127.0.0.1', resolve));
  project.provide('cephRgwBroker', `http://127.0.0.1:${(broker.address() as AddressInfo).port}`);
  return async () => {
    broker.close();
    await (await cluster?.catch(() => undefined))?.stop();
  };
}
