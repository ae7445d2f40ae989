import type { HttpRequest, HttpResponse, HttpStack } from 'tus-js-client';
import { describe, expect, it } from 'vitest';
import { withAdaptiveChunks, type ChunkSizeChange } from '../../src/client/index.js';

const KiB = 1024;

/**
 * A stand-in for the network under withAdaptiveChunks (the behaviour on a real link is in
 * test/e2e/bad-network-clients.test.ts): each PATCH gets the next outcome of `script`, and
 * the sizes of the bodies it was handed are recorded.
 */
function scriptedStack(script: ('ok' | 'cut' | 'refused' | 460)[]): { stack: HttpStack; sizes: number[]; headers: Record<string, string>[] } {
  const sizes: number[] = [];
  const sent: Record<string, string>[] = [];
  const stack: HttpStack = {
    getName: () => 'scripted',
    createRequest(method, url) {
      let progress: (sent: number) => void = () => {};
      const headers = new Map<string, string>();
      const request: HttpRequest = {
        getMethod: () => method,
        getURL: () => url,
        setHeader: (name, value) => void headers.set(name, value),
        getHeader: (name) => headers.get(name),
        setProgressHandler: (handler) => {
          progress = handler;
        },
        send: async (body) => {
          const size = (body as Uint8Array).byteLength;
          sizes.push(size);
          sent.push(Object.fromEntries(headers));
          const outcome = script.shift() ?? 'ok';
          // As Node's stack does: progress for bytes queued before the connection exists.
          progress(Math.floor(size / 3));
          if (outcome === 'refused') throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
          if (outcome === 'cut') throw new Error('socket hang up');
          const status = outcome === 460 ? 460 : 204;
          return { getStatus: () => status, getHeader: () => undefined, getBody: () => '', getUnderlyingObject: () => undefined } as HttpResponse;
        },
        abort: async () => {},
        getUnderlyingObject: () => undefined,
      };
      return request;
    },
  };
  return { stack, sizes, headers: sent };
}

async function patches(stack: HttpStack, count: number, size: number, headers: Record<string, string> = {}): Promise<void> {
  for (let i = 0; i < count; i += 1) {
    const request = stack.createRequest('PATCH', 'http://server/files/a');
    for (const [name, value] of Object.entries(headers)) request.setHeader(name, value);
    await request.send(new Uint8Array(size)).catch(() => undefined);
  }
}

describe('withAdaptiveChunks', () => {
  it('halves after a chunk cut short, down to the floor, and doubles back after two get through, telling when it shrinks and when it is back', async () => {
    const { stack: inner, sizes } = scriptedStack(['cut', 'cut', 'cut', 'cut', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok']);
    const changes: ChunkSizeChange[] = [];
    const stack = withAdaptiveChunks(inner, { minChunkSize: 128 * KiB, onChunkSizeChange: (c) => changes.push(c) });
    await patches(stack, 12, 1024 * KiB);
    expect(sizes.map((s) => s / KiB)).toEqual([1024, 512, 256, 128, 128, 128, 256, 256, 512, 512, 1024, 1024]);
    expect(changes.map((c) => [c.reason, c.chunkSize && c.chunkSize / KiB])).toEqual([
      ['cut-short', 512],
      ['cut-short', 256],
      ['cut-short', 128],
      ['recovered', undefined],
    ]);
  });

  it('a 460 halves too; a request that sent nothing (server down) changes nothing', async () => {
    const { stack: inner, sizes } = scriptedStack(['refused', 'refused', 460, 'ok']);
    const stack = withAdaptiveChunks(inner);
    await patches(stack, 4, 1024 * KiB);
    expect(sizes.map((s) => s / KiB)).toEqual([1024, 1024, 1024, 512]);
  });

  it('cuts the last chunk of a deferred-length upload without its Upload-Length (the rest declares it again), and sends it with an uncut one', async () => {
    const { stack: inner, sizes, headers } = scriptedStack(['cut', 'ok', 'ok', 'ok']);
    const stack = withAdaptiveChunks(inner);
    await patches(stack, 1, 1024 * KiB);
    await patches(stack, 1, 1024 * KiB, { 'Upload-Length': String(4096 * KiB) });
    await patches(stack, 1, 100 * KiB, { 'Upload-Length': String(4096 * KiB) });
    expect(sizes.map((s) => s / KiB)).toEqual([1024, 512, 100]);
    expect(headers.map((h) => h['Upload-Length'])).toEqual([undefined, undefined, String(4096 * KiB)]);
  });

  it('leaves requests without a PATCH body alone', async () => {
    const { stack: inner, sizes } = scriptedStack(['cut', 'ok']);
    const stack = withAdaptiveChunks(inner);
    await stack.createRequest('POST', 'http://server/files').send(new Uint8Array(100)).catch(() => undefined);
    await patches(stack, 1, 1024 * KiB);
    expect(sizes).toEqual([100, 1024 * KiB]);
  });
});
