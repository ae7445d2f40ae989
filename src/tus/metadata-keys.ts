/**
 * A metadata key as a tus client's `Upload-Metadata` can carry it, and as HEAD answers give it back
 * in a header: printable ASCII without space or comma. Keys that reach Tessera another way (a hook's
 * answer, a direct upload's JSON) are held to it; @tus/utils' own check lets control characters
 * through, which no header can carry (a HEAD would fail to be written).
 */
export function isMetadataKey(key: string): boolean {
  return /^[\x21-\x2b\x2d-\x7e]+$/.test(key);
}
