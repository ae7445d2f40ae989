/**
 * Just enough XML for S3: building response documents, and reading the two request
 * documents the server accepts (CompleteMultipartUpload, Delete), whose shapes are fixed.
 */
export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

export type XmlValue = string | number | boolean | Date | undefined | XmlNode | readonly XmlNode[];
/** An element's children in order; an array value repeats the element (S3 lists are flat). */
export interface XmlNode {
  readonly [name: string]: XmlValue | readonly XmlValue[];
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

export function unescapeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#(\d+)|#x([0-9a-fA-F]+));/g, (_m, name: string, dec?: string, hex?: string) => {
    if (dec) return String.fromCodePoint(Number(dec));
    if (hex) return String.fromCodePoint(Number.parseInt(hex, 16));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[name] ?? '';
  });
}

/** S3 writes timestamps in XML as ISO 8601 with milliseconds. */
export const isoDate = (date: Date): string => date.toISOString();

function render(name: string, value: XmlValue): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) return value.map((v: XmlValue) => render(name, v)).join('');
  if (value instanceof Date) return `<${name}>${isoDate(value)}</${name}>`;
  if (typeof value === 'object') {
    const inner = Object.entries(value as XmlNode)
      .map(([child, v]) => render(child, v as XmlValue))
      .join('');
    return `<${name}>${inner}</${name}>`;
  }
  return `<${name}>${escapeXml(String(value))}</${name}>`;
}

/** A whole response document with the S3 namespace on its root element. */
export function xmlDocument(root: string, body: XmlNode): string {
  const inner = Object.entries(body)
    .map(([child, v]) => render(child, v as XmlValue))
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="${S3_NAMESPACE}">${inner}</${root}>`;
}

/** The error document (its root carries no namespace). */
export function errorDocument(fields: Record<string, string>): string {
  const inner = Object.entries(fields)
    .map(([k, v]) => render(k, v))
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${inner}</Error>`;
}

/** Text of each <name>…</name> directly inside `xml` (no nesting of the same name). */
export function elements(xml: string, name: string): string[] {
  const found: string[] = [];
  const re = new RegExp(`<${name}(?:\\s[^>]*)?>([\\s\\S]*?)</${name}>|<${name}(?:\\s[^>]*)?/>`, 'g');
  for (const match of xml.matchAll(re)) found.push(match[1] ?? '');
  return found;
}

/** The single <root> element's content, or undefined when the document has another root. */
export function rootContent(xml: string, root: string): string | undefined {
  const trimmed = xml.replace(/^\s*<\?xml[^>]*\?>/, '').trim();
  const match = new RegExp(`^<${root}(?:\\s[^>]*)?>([\\s\\S]*)</${root}>$`).exec(trimmed);
  return match?.[1];
}
