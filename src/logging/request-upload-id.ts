const ids = new WeakMap<object, string>();

/**
 * Records which upload a request concerns when its URL does not say (a creation learns its
 * id from its own response), so the request's access-log line can carry `uploadId`.
 */
export function tagRequestUpload(request: object, id: string): void {
  ids.set(request, id);
}

/** The upload id recorded for a request, if any. */
export function taggedRequestUpload(request: object): string | undefined {
  return ids.get(request);
}
