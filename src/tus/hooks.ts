import type { ServerOptions } from '@tus/server';

/** The @tus/server hooks an embedder may pass through `createTessera`. */
export type TusHooks = Pick<
  ServerOptions,
  'onUploadCreate' | 'onUploadFinish' | 'onIncomingRequest' | 'onResponseError' | 'namingFunction'
>;
