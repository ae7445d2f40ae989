/**
 * The upload id addressed by a request URL under `tusPath`, or undefined when the URL names
 * the collection itself or an id that could escape the store (slashes, NUL, bad escapes).
 */
export function uploadIdFromUrl(url: string, tusPath: string): string | undefined {
  const pathname = new URL(url, 'http://localhost').pathname;
  const base = tusPath === '/' ? '' : tusPath;
  if (!pathname.startsWith(`${base}/`)) return undefined;
  const raw = pathname.slice(base.length + 1).replace(/\/$/, '');
  if (raw === '' || raw.includes('/')) return undefined;
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    return undefined;
  }
  if (/[/\\\0]/.test(id) || id === '.' || id === '..') return undefined;
  return id;
}
