import type { ServerOptions } from '@tus/server';
import type { CompletionHooks } from './completion/upload-completion.js';

/** The @tus/server hooks passed straight through. */
export type TusHooks = Pick<
  ServerOptions,
  'onUploadCreate' | 'onIncomingRequest' | 'onResponseError' | 'namingFunction'
>;

/**
 * Hooks an embedder passes to `createTessera`: @tus/server's own, except that
 * `onUploadFinish` fires once per file (never for partials) after verification, and
 * `onPartialFinish` reports partials.
 */
export type TesseraHooks = TusHooks & CompletionHooks;
