import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IdReservations } from '../../src/hooks/http/id-reservations.js';
import { FileUploadStateStore } from '../../src/tus/state/file-upload-state-store.js';

/** Ids pre-create chose, reserved in the shared state (here: claims in a data directory, as embedded). */
describe('IdReservations', () => {
  let dir: string;
  let now = 1_000_000;
  const clock = () => now;
  const claims = () => new FileUploadStateStore({ directory: dir, soleWriter: false });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-reservations-'));
    now = 1_000_000;
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('one reservation per id at a time, across stores on one state; released, the id can be reserved again', async () => {
    const a = new IdReservations(claims(), 60_000, clock);
    const b = new IdReservations(claims(), 60_000, clock);
    const results = await Promise.all([a.reserve('x'), b.reserve('x')]);
    expect(results.filter((r) => r !== undefined)).toHaveLength(1);
    expect(await a.reserve('y')).toBeDefined();
    await results.find((r) => r !== undefined)?.release();
    expect(await b.reserve('x')).toBeDefined();
  });

  it('a reservation left by a killed process stops counting once expired; the old holder then cannot release the new one', async () => {
    const dead = new IdReservations(claims(), 60_000, clock);
    const stale = await dead.reserve('x');
    expect(stale).toBeDefined();
    const live = new IdReservations(claims(), 60_000, clock);
    now += 59_000;
    expect(await live.reserve('x')).toBeUndefined();
    now += 2_000;
    const taken = await live.reserve('x');
    expect(taken).toBeDefined();
    await stale?.release();
    expect(await live.reserve('x')).toBeUndefined();
    await taken?.release();
    expect(await live.reserve('x')).toBeDefined();
  });
});
