import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { final, partial } from '../support/concat.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { head, randomData } from '../support/tus-http.js';

/**
 * Issue #14, finding 9: memory grew with the number of finals assembled at once (200 finals:
 * 866 MiB). Whole-file work now takes one of MAX_CONCURRENT_ASSEMBLIES slots and queues beyond
 * them; `tessera_whole_file_work` shows both. Memory itself is measured by `npm run bench`.
 */
describe('MAX_CONCURRENT_ASSEMBLIES', () => {
  const SLOTS = 2;
  const FINALS = 40;
  let server: RunningTessera;

  beforeAll(async () => {
    server = await startTessera({ maxConcurrentAssemblies: SLOTS });
  });
  afterAll(() => server.stop());

  const sample = async () => {
    const values = (await server.tessera.metrics.heavyWork.get()).values;
    const of = (state: string) => values.find((v) => v.labels.state === state)?.value ?? 0;
    return { running: of('running'), queued: of('queued') };
  };

  it(`runs at most ${SLOTS} assemblies at once however many finals arrive; the rest wait their turn and complete`, async () => {
    const partials = await Promise.all(Array.from({ length: FINALS * 2 }, () => partial(server.endpoint, randomData(2 * 1024 * 1024))));
    let watching = true;
    let maxRunning = 0;
    let maxInFlight = 0;
    const watch = (async () => {
      while (watching) {
        const { running, queued } = await sample();
        maxRunning = Math.max(maxRunning, running);
        maxInFlight = Math.max(maxInFlight, running + queued);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const finals = await Promise.all(Array.from({ length: FINALS }, (_, i) => final(server.endpoint, [partials[2 * i] as string, partials[2 * i + 1] as string])));
    watching = false;
    await watch;
    expect(finals.map((f) => f.res.status)).toEqual(Array.from({ length: FINALS }, () => 201));
    for (const f of finals) expect((await head(f.url)).headers.get('tessera-upload-status')).toBe('done');
    expect(maxRunning).toBeLessThanOrEqual(SLOTS);
    // The finals really did arrive together: some waited (otherwise this proved nothing).
    expect(maxInFlight).toBeGreaterThan(SLOTS);
    expect(await sample()).toEqual({ running: 0, queued: 0 });
  });
});
