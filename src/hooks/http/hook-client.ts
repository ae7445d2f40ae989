import type { HttpHooksConfig } from '../../config/config.js';
import { canonicalHeaderName, type HookRequestBody, type HookResponseBody } from './hook-payload.js';
import { signHookRequest, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './hook-signature.js';

/** The receiver could not be asked: unreachable, timed out, or not answering 2xx after every retry. */
export class HookUnavailableError extends Error {
  override readonly name = 'HookUnavailableError';
}

/** Told of every try of a hook request, and whether it got a usable answer (the hook metrics). */
export type HookObserver = (hook: string, ok: boolean) => void;

/**
 * Sends one hook request to HOOKS_HTTP_URL and returns the receiver's answer. Signed when a
 * secret is set (see hook-signature). A network failure, a timeout or a 5xx is tried again after
 * `backoffMs`, doubling, up to `retries` more times; any other non-2xx answer, or a body that is
 * no JSON object, fails at once (tusd counts it as the hook failing).
 */
export async function sendHook(
  config: HttpHooksConfig,
  payload: HookRequestBody,
  observe: HookObserver = () => {},
  sleep: (ms: number) => Promise<void> = defaultSleep,
): Promise<HookResponseBody> {
  const body = JSON.stringify(payload);
  let last = '';
  for (let attempt = 0; attempt <= config.retries; attempt += 1) {
    if (attempt > 0) await sleep(config.backoffMs * 2 ** (attempt - 1));
    const outcome = await tryOnce(config, payload, body);
    observe(payload.Type, outcome.kind === 'answer');
    if (outcome.kind === 'answer') return outcome.answer;
    if (outcome.kind === 'refused') throw new HookUnavailableError(outcome.reason);
    last = outcome.reason;
  }
  throw new HookUnavailableError(`${payload.Type} hook unreachable after ${config.retries + 1} tries: ${last}`);
}

type Outcome = { kind: 'answer'; answer: HookResponseBody } | { kind: 'retry'; reason: string } | { kind: 'refused'; reason: string };

/** A receiver's answer larger than this is refused (tusd reads at most a few KiB). */
const MAX_ANSWER_BYTES = 64 * 1024;

async function tryOnce(config: HttpHooksConfig, payload: HookRequestBody, body: string): Promise<Outcome> {
  const type = payload.Type;
  const headers: Record<string, string> = {};
  // HOOKS_HTTP_FORWARD_HEADERS: these headers of the client's request go on the hook request itself (as tusd's flag).
  for (const name of config.forwardHeaders) {
    const value = payload.Event.HTTPRequest.Header[canonicalHeaderName(name)]?.[0];
    if (value !== undefined) headers[name] = value;
  }
  headers['Content-Type'] = 'application/json';
  if (config.secret) {
    const timestamp = String(Date.now());
    headers[TIMESTAMP_HEADER] = timestamp;
    headers[SIGNATURE_HEADER] = signHookRequest(config.secret, timestamp, body);
  }
  let res: Response;
  try {
    // A redirect is no answer: followed, it would turn the POST into a GET to wherever it points.
    res = await fetch(config.url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(config.timeoutMs) });
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${config.timeoutMs} ms` : (((error as Error).cause as Error | undefined)?.message ?? (error as Error).message);
    return { kind: 'retry', reason };
  }
  const text = await res.text().catch(() => '');
  if (res.status >= 500) return { kind: 'retry', reason: `answered ${res.status}` };
  if (res.status < 200 || res.status > 299) return { kind: 'refused', reason: `${type} hook answered ${res.status}` };
  if (Buffer.byteLength(text) > MAX_ANSWER_BYTES) return { kind: 'refused', reason: `${type} hook answered with more than ${MAX_ANSWER_BYTES} bytes` };
  if (text.trim() === '') return { kind: 'answer', answer: {} };
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return { kind: 'answer', answer: parsed as HookResponseBody };
  } catch {
    // Answered below.
  }
  return { kind: 'refused', reason: `${type} hook answered with a body that is no JSON object` };
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
