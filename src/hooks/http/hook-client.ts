import type { HttpHooksConfig } from '../../config/config.js';
import type { HookRequestBody, HookResponseBody } from './hook-payload.js';
import { signHookRequest, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './hook-signature.js';

/** The receiver could not be asked: unreachable, timed out, or not answering 2xx after every retry. */
export class HookUnavailableError extends Error {
  override readonly name = 'HookUnavailableError';
}

/**
 * Sends one hook request to HOOKS_HTTP_URL and returns the receiver's answer. Signed when a
 * secret is set (see hook-signature). A network failure, a timeout or a 5xx is tried again after
 * `backoffMs`, doubling, up to `retries` more times; any other non-2xx answer, or a body that is
 * no JSON object, fails at once (tusd counts it as the hook failing).
 */
export async function sendHook(config: HttpHooksConfig, payload: HookRequestBody, sleep = defaultSleep): Promise<HookResponseBody> {
  const body = JSON.stringify(payload);
  let last = '';
  for (let attempt = 0; attempt <= config.retries; attempt += 1) {
    if (attempt > 0) await sleep(config.backoffMs * 2 ** (attempt - 1));
    const timestamp = String(Date.now());
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (config.secret) {
      headers[TIMESTAMP_HEADER] = timestamp;
      headers[SIGNATURE_HEADER] = signHookRequest(config.secret, timestamp, body);
    }
    let res: Response;
    try {
      res = await fetch(config.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(config.timeoutMs) });
    } catch (error) {
      last = (error as Error).name === 'TimeoutError' ? `no answer within ${config.timeoutMs} ms` : ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
      continue;
    }
    const text = await res.text().catch(() => '');
    if (res.status >= 500) {
      last = `answered ${res.status}`;
      continue;
    }
    if (res.status < 200 || res.status > 299) throw new HookUnavailableError(`${payload.Type} hook answered ${res.status}`);
    if (text.trim() === '') return {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as HookResponseBody;
    } catch {
      // Answered below.
    }
    throw new HookUnavailableError(`${payload.Type} hook answered with a body that is no JSON object`);
  }
  throw new HookUnavailableError(`${payload.Type} hook unreachable after ${config.retries + 1} tries: ${last}`);
}

function defaultSleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
