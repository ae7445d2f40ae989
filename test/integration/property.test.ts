import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../support/bytes.js';
import {
  complete,
  concatenated,
  declaredSha256,
  reusableFinal,
  sha256Hex,
  triggerFinal,
  type DeclaredSha,
  type Model,
  type ModelFinal,
  type ModelUpload,
} from '../support/fault-model.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, del, encodeMetadata, head, patch } from '../support/tus-http.js';

/**
 * Random request sequences (create, PATCH with right and wrong offsets and checksums, HEAD,
 * DELETE, partial and final creation) against a real server, each response checked
 * against a model. Invariants checked after every step and at the end of each run:
 * - the offset HEAD reports never goes down, except after a delete or a failed whole-file
 *   verification, and always equals the bytes acknowledged;
 * - the bytes stored are exactly the bytes acknowledged;
 * - a finished final is exactly the concatenation of its partials;
 * - "file ready" fires exactly once per finished file, never for a failed one.
 */

interface Real {
  readonly server: RunningTessera;
  /** file-ready events per upload id, over the whole test. */
  readonly ready: Map<string, number>;
}

let real: Real;
beforeAll(async () => {
  const server = await startTessera({ uploadExpiryMs: 0 });
  const ready = new Map<string, number>();
  server.tessera.events.on('file-ready', (upload) => ready.set(upload.id, (ready.get(upload.id) ?? 0) + 1));
  real = { server, ready };
});
afterAll(() => real.server.stop());

const idOf = (url: string) => url.split('/').pop() as string;
const stored = (id: string) => fs.readFile(path.join(real.server.dataDir, id));
const pick = <T>(items: readonly T[], index: number): T => items[index % items.length] as T;
/** Reproducible bytes (fast-check replays a failure from its seed), distinct at every position. */
function seededBytes(seed: number, size: number): Buffer {
  const blocks: Buffer[] = [];
  for (let i = 0; i * 32 < size; i++) blocks.push(createHash('sha256').update(`${seed}:${i}`).digest());
  return Buffer.concat(blocks).subarray(0, size);
}
const sha1 = (data: Buffer) => `sha1 ${createHash('sha1').update(data).digest('base64')}`;

// ---------------------------------------------------------------------------- checks

async function checkUpload(u: ModelUpload): Promise<void> {
  const res = await head(u.url);
  if (u.deleted) {
    expect(res.status, `HEAD deleted ${u.id}`).toBe(404);
    return;
  }
  if (u.failed) {
    expect(res.status, `HEAD failed ${u.id}`).toBe(460);
  } else {
    expect(res.status, `HEAD ${u.id}`).toBe(200);
    const offset = Number(res.headers.get('upload-offset'));
    expect(offset, `offset of ${u.id} never goes down`).toBeGreaterThanOrEqual(u.seen);
    expect(offset, `offset of ${u.id} equals the bytes acknowledged`).toBe(u.offset);
    u.seen = offset;
    if (u.kind === 'single' && u.sha === 'right' && complete(u)) expect(res.headers.get('tessera-sha256')).toBe(sha256Hex(u.content));
  }
  expect(digestOf(await stored(u.id)), `stored bytes of ${u.id}`).toBe(digestOf(u.content.subarray(0, u.offset)));
}

async function checkFinal(f: ModelFinal): Promise<void> {
  // HEAD only reads: it never assembles or fails a final.
  const res = await head(f.url);
  if (f.deleted) return void expect(res.status, `HEAD deleted final ${f.id}`).toBe(404);
  if (f.status === 'failed') return void expect(res.status, `HEAD failed final ${f.id}`).toBe(460);
  expect(res.status).toBe(200);
  expect(res.headers.get('tessera-upload-status'), `status of final ${f.id}`).toBe(f.status);
  if (f.status === 'pending') return void expect(res.headers.get('upload-offset')).toBeNull();
  const whole = concatenated(f);
  expect(Number(res.headers.get('upload-offset'))).toBe(whole.length);
  expect(res.headers.get('tessera-sha256')).toBe(sha256Hex(whole));
  expect(digestOf(await stored(f.id)), `final ${f.id} is the concatenation of its partials`).toBe(digestOf(whole));
}

function checkReadyEvents(model: Model): void {
  for (const u of model.uploads) {
    const expected = u.kind === 'single' && !u.failed && complete(u) && !u.deleted ? 1 : undefined;
    if (expected) expect(real.ready.get(u.id), `file-ready of ${u.id}`).toBe(1);
    else if (u.kind === 'partial' || u.failed) expect(real.ready.get(u.id), `no file-ready for ${u.id}`).toBeUndefined();
  }
  for (const f of model.finals) {
    expect(real.ready.get(f.id), `file-ready of final ${f.id}`).toBe(f.status === 'done' ? 1 : undefined);
  }
}

// -------------------------------------------------------------------------- commands

type Cmd = fc.AsyncCommand<Model, Real>;

class CreateCmd implements Cmd {
  constructor(
    readonly kind: 'single' | 'partial',
    readonly size: number,
    readonly sha: DeclaredSha,
    readonly seed: number,
  ) {}
  check = () => true;
  async run(m: Model): Promise<void> {
    const data = seededBytes(this.seed, this.size);
    const sha = this.kind === 'single' ? this.sha : 'none';
    const declared = declaredSha256(sha, data);
    const headers: Record<string, string> = this.kind === 'partial' ? { 'Upload-Concat': 'partial' } : {};
    const { res, url } = await create(real.server.endpoint, {
      length: this.size,
      headers,
      metadata: declared ? { sha256: declared } : undefined,
    });
    expect(res.status).toBe(201);
    m.uploads.push({ url, id: idOf(url), kind: this.kind, content: data, sha, offset: 0, deleted: false, failed: false, seen: 0 });
  }
  toString = () => `create(${this.kind}, ${this.size}, sha=${this.sha})`;
}

class PatchCmd implements Cmd {
  constructor(
    readonly target: number,
    readonly where: 'right' | 'behind' | 'ahead',
    /** Share of the remaining bytes to send, in per mille; above 1000 overshoots the length. */
    readonly share: number,
    readonly checksum: 'none' | 'right' | 'wrong',
  ) {}
  check = (m: Readonly<Model>) => m.uploads.length > 0;
  async run(m: Model): Promise<void> {
    const u = pick(m.uploads, this.target);
    const remaining = u.content.length - u.offset;
    const offset = this.where === 'right' || (this.where === 'behind' && u.offset === 0) ? u.offset : this.where === 'behind' ? u.offset - 1 : u.offset + 1;
    const length = this.share > 1000 ? remaining + 1 : Math.floor((remaining * this.share) / 1000);
    const body = offset === u.offset && length <= remaining ? u.content.subarray(offset, offset + length) : Buffer.alloc(length, 7);
    const headers: Record<string, string> = {};
    if (this.checksum !== 'none') headers['Upload-Checksum'] = sha1(this.checksum === 'right' ? body : Buffer.concat([body, Buffer.from('x')]));
    const res = await patch(u.url, offset, body, headers);

    let expected: number;
    if (u.deleted) expected = 404;
    // A failed upload's outcome is final: it takes no more bytes.
    else if (u.failed) expected = 460;
    else if (offset !== u.offset) expected = 409;
    else if (length > remaining) expected = 413;
    else if (this.checksum === 'wrong') expected = 460;
    else {
      expected = 204;
      u.offset += length;
      if (length > 0 && complete(u)) expected = this.finish(m, u);
    }
    expect(res.status, `${this} on ${u.id}`).toBe(expected);
    if (expected === 204) expect(res.headers.get('upload-offset')).toBe(String(u.offset));
    if (!u.deleted) await checkUpload(u);
  }
  /** The status of the PATCH that stored an upload's last byte. */
  private finish(m: Model, u: ModelUpload): number {
    if (u.kind === 'single') {
      if (u.sha !== 'wrong') return 204;
      u.failed = true;
      u.offset = 0;
      u.seen = 0;
      return 460;
    }
    let failed = false;
    for (const f of m.finals) if (f.partials.includes(u) && triggerFinal(f)) failed = true;
    return failed ? 460 : 204;
  }
  toString = () => `patch(#${this.target}, ${this.where}, ${this.share}‰, checksum=${this.checksum})`;
}

class HeadCmd implements Cmd {
  constructor(readonly target: number, readonly final: boolean) {}
  check = (m: Readonly<Model>) => (this.final ? m.finals.length > 0 : m.uploads.length > 0);
  async run(m: Model): Promise<void> {
    if (this.final) await checkFinal(pick(m.finals, this.target));
    else await checkUpload(pick(m.uploads, this.target));
  }
  toString = () => `head(${this.final ? 'final' : 'upload'} #${this.target})`;
}

class DeleteCmd implements Cmd {
  constructor(readonly target: number, readonly final: boolean) {}
  check = (m: Readonly<Model>) => (this.final ? m.finals.length > 0 : m.uploads.length > 0);
  async run(m: Model): Promise<void> {
    const item = this.final ? pick(m.finals, this.target) : pick(m.uploads, this.target);
    const res = await del(item.url);
    expect(res.status, `${this} of ${item.id}`).toBe(item.deleted ? 404 : 204);
    item.deleted = true;
    if (!this.final) (item as ModelUpload).seen = 0;
    // Deleting a partial fails every pending final that waits on it, at once.
    if (!this.final) for (const f of m.finals) if (f.partials.includes(item as ModelUpload)) triggerFinal(f);
    expect((await head(item.url)).status).toBe(404);
  }
  toString = () => `delete(${this.final ? 'final' : 'upload'} #${this.target})`;
}

class FinalCmd implements Cmd {
  constructor(readonly picks: readonly number[], readonly sha: DeclaredSha) {}
  check = (m: Readonly<Model>) => m.uploads.some((u) => u.kind === 'partial');
  async run(m: Model): Promise<void> {
    const candidates = m.uploads.filter((u) => u.kind === 'partial');
    const partials = this.picks.map((i) => pick(candidates, i));
    const declared = declaredSha256(this.sha, Buffer.concat(partials.map((p) => p.content)));
    const metadata = declared ? encodeMetadata({ sha256: declared }) : '';
    const headers: Record<string, string> = { 'Upload-Concat': `final;${partials.map((p) => new URL(p.url).pathname).join(' ')}` };
    if (metadata) headers['Upload-Metadata'] = metadata;
    const { res, url } = await create(real.server.endpoint, { headers });

    if (partials.some((p) => p.deleted)) {
      expect(res.status, `${this}`).toBe(404);
      return;
    }
    const key = `${partials.map((p) => p.id).join(' ')}\n${metadata}`;
    const existing = reusableFinal(m, key);
    const final = existing ?? { url, id: idOf(url), partials, key, sha: this.sha, status: 'pending' as const, deleted: false };
    if (!existing) m.finals.push(final);
    const failedNow = triggerFinal(final);
    expect(res.status, `${this}`).toBe(failedNow ? 460 : 201);
    expect(idOf(url), 'a retried POST finds the same final').toBe(final.id);
    await checkFinal(final);
  }
  toString = () => `final([${this.picks.join(',')}], sha=${this.sha})`;
}

const sha = fc.constantFrom<DeclaredSha>('none', 'none', 'right', 'wrong');
const createArb = fc
  .tuple(fc.constantFrom('single' as const, 'partial' as const, 'partial' as const), fc.integer({ min: 1, max: 3000 }), sha, fc.nat())
  .map(([kind, size, s, seed]) => new CreateCmd(kind, size, s, seed));
const patchArb = fc
  .tuple(
    fc.nat(),
    fc.oneof({ arbitrary: fc.constant('right' as const), weight: 6 }, fc.constantFrom('behind' as const, 'ahead' as const)),
    // Mostly the whole rest, so uploads and partials do complete.
    fc.oneof({ arbitrary: fc.constant(1000), weight: 4 }, fc.integer({ min: 0, max: 1000 }), fc.constant(1001)),
    fc.constantFrom('none' as const, 'none' as const, 'right' as const, 'wrong' as const),
  )
  .map(([target, where, share, checksum]) => new PatchCmd(target, where, share, checksum));
// Repeats weigh the choice: PATCH is what most requests are.
const commandArbs = [
  createArb,
  patchArb,
  patchArb,
  patchArb,
  patchArb,
  fc.tuple(fc.nat(), fc.boolean()).map(([target, final]) => new HeadCmd(target, final)),
  fc.tuple(fc.nat(), fc.boolean()).map(([target, final]) => new DeleteCmd(target, final)),
  fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), sha).map(([picks, s]) => new FinalCmd(picks, s)),
  fc.tuple(fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), sha).map(([picks, s]) => new FinalCmd(picks, s)),
];

describe('random request sequences against a real server', () => {
  it('keep offsets, stored bytes, finals and notifications consistent with the model', async () => {
    await fc.assert(
      // A few uploads first, so the random steps have something to work on.
      fc.asyncProperty(fc.array(createArb, { minLength: 2, maxLength: 4 }), fc.commands(commandArbs, { maxCommands: 26, size: 'max' }), async (initial, commands) => {
        const model: Model = { uploads: [], finals: [] };
        await fc.asyncModelRun(() => ({ model, real }), initial);
        await fc.asyncModelRun(() => ({ model, real }), commands);
        for (const u of model.uploads) await checkUpload(u);
        for (const f of model.finals) await checkFinal(f);
        checkReadyEvents(model);
      }),
      { numRuns: 30 },
    );
  }, 180_000);
});
