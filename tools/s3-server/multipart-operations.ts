import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { closeFd, openSegments, readSegments, writeAll } from './files.js';
import { receiveDocument, receiveUpload } from './body.js';
import { s3Errors } from './errors.js';
import { headerOf, intParam, OWNER, sendEmpty, sendXml, userMetadata, type Exchange } from './exchange.js';
import { checkKey, MAX_PUT_SIZE } from './object-operations.js';
import type { BucketRecord, ObjectRecord, PartRecord, UploadRecord } from './storage.js';
import { elements, rootContent, unescapeXml } from './xml.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_NUMBER = 10_000;

/** CreateMultipartUpload: POST /bucket/key?uploads. */
export function createMultipartUpload(ex: Exchange): void {
  checkKey(ex.key);
  const bucket = ex.storage.bucket(ex.bucketName);
  const upload: UploadRecord = {
    key: ex.key,
    uploadId: randomBytes(32).toString('base64url'),
    initiated: new Date(),
    contentType: headerOf(ex.req, 'content-type') ?? 'binary/octet-stream',
    cacheControl: headerOf(ex.req, 'cache-control'),
    metadata: userMetadata(ex.req),
    parts: new Map(),
  };
  bucket.uploads.set(upload.uploadId, upload);
  sendXml(ex, 200, 'InitiateMultipartUploadResult', { Bucket: bucket.name, Key: upload.key, UploadId: upload.uploadId });
}

function partNumberOf(ex: Exchange): number {
  const raw = ex.query.get('partNumber') ?? '';
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > MAX_PART_NUMBER) {
    throw s3Errors.invalidArgument('Part number must be an integer between 1 and 10000, inclusive', 'partNumber', raw);
  }
  return value;
}

function uploadOf(ex: Exchange): { bucket: BucketRecord; upload: UploadRecord } {
  const bucket = ex.storage.bucket(ex.bucketName);
  return { bucket, upload: ex.storage.upload(bucket, ex.key, ex.query.get('uploadId') ?? '') };
}

/** UploadPart: PUT /bucket/key?partNumber=N&uploadId=U with the part as the body. */
export async function uploadPart(ex: Exchange): Promise<void> {
  const partNumber = partNumberOf(ex);
  const { bucket, upload } = uploadOf(ex);
  const declared = Number(headerOf(ex.req, 'content-length') ?? 0);
  if (declared > MAX_PUT_SIZE) throw s3Errors.entityTooLarge(declared, MAX_PUT_SIZE);
  const file = ex.storage.newFile();
  const body = await receiveUpload(ex, file);
  await storePart(ex, bucket, upload, { partNumber, size: body.size, etag: `"${body.md5.toString('hex')}"`, lastModified: new Date(), file });
  sendEmpty(ex, 200, { ETag: `"${body.md5.toString('hex')}"` });
}

async function storePart(ex: Exchange, bucket: BucketRecord, upload: UploadRecord, part: PartRecord): Promise<void> {
  // Aborted or completed while the bytes were arriving: S3 answers NoSuchUpload.
  if (bucket.uploads.get(upload.uploadId) !== upload) {
    await ex.storage.discard(part.file);
    throw s3Errors.noSuchUpload(upload.uploadId);
  }
  await ex.storage.putPart(upload, part);
}

/** `x-amz-copy-source: [/]bucket/key[?versionId=...]`, URL-encoded. */
function copySourceOf(ex: Exchange): { bucket: string; key: string } {
  const raw = headerOf(ex.req, 'x-amz-copy-source') ?? '';
  const [path = '', query] = raw.split('?', 2);
  if (query !== undefined) throw s3Errors.notImplemented('Copying a specific versionId is not implemented by this server');
  let decoded: string;
  try {
    decoded = decodeURIComponent(path.startsWith('/') ? path.slice(1) : path);
  } catch {
    throw s3Errors.invalidArgument('Invalid copy source encoding', 'x-amz-copy-source', raw);
  }
  const slash = decoded.indexOf('/');
  if (slash <= 0 || slash === decoded.length - 1) {
    throw s3Errors.invalidArgument('Copy Source must mention the source bucket and key: sourcebucket/sourcekey', 'x-amz-copy-source', raw);
  }
  return { bucket: decoded.slice(0, slash), key: decoded.slice(slash + 1) };
}

/** The x-amz-copy-source-if-* preconditions, in the order S3 evaluates them. */
function checkCopyConditions(ex: Exchange, source: ObjectRecord): void {
  const unquote = (etag: string) => etag.trim().replace(/^"|"$/g, '');
  const ifMatch = headerOf(ex.req, 'x-amz-copy-source-if-match');
  const ifNoneMatch = headerOf(ex.req, 'x-amz-copy-source-if-none-match');
  const ifUnmodified = headerOf(ex.req, 'x-amz-copy-source-if-unmodified-since');
  const ifModified = headerOf(ex.req, 'x-amz-copy-source-if-modified-since');
  const etag = unquote(source.etag);
  const seconds = Math.floor(source.lastModified.getTime() / 1000) * 1000;
  if (ifMatch !== undefined && !ifMatch.split(',').some((e) => unquote(e) === etag || e.trim() === '*')) {
    throw s3Errors.preconditionFailed('x-amz-copy-source-If-Match');
  }
  if (ifMatch === undefined && ifUnmodified !== undefined && seconds > Date.parse(ifUnmodified)) {
    throw s3Errors.preconditionFailed('x-amz-copy-source-If-Unmodified-Since');
  }
  if (ifNoneMatch !== undefined && ifNoneMatch.split(',').some((e) => unquote(e) === etag || e.trim() === '*')) {
    throw s3Errors.preconditionFailed('x-amz-copy-source-If-None-Match');
  }
  if (ifNoneMatch === undefined && ifModified !== undefined && seconds <= Date.parse(ifModified)) {
    throw s3Errors.preconditionFailed('x-amz-copy-source-If-Modified-Since');
  }
}

/** `x-amz-copy-source-range: bytes=first-last`, both ends required and inside the source. */
export function copyRangeOf(header: string | undefined, size: number): readonly [number, number] | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d+)-(\d+)$/.exec(header.trim());
  if (!match || Number(match[2]) < Number(match[1])) {
    throw s3Errors.invalidArgument(
      'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy',
      'x-amz-copy-source-range',
      header,
    );
  }
  const first = Number(match[1]);
  const last = Number(match[2]);
  if (last >= size) {
    throw s3Errors.invalidArgument(`Range specified is not valid for source object of size: ${size}`, 'x-amz-copy-source-range', header);
  }
  return [first, last];
}

/** UploadPartCopy: PUT /bucket/key?partNumber=N&uploadId=U with x-amz-copy-source[-range]. */
export async function uploadPartCopy(ex: Exchange): Promise<void> {
  const partNumber = partNumberOf(ex);
  const { bucket, upload } = uploadOf(ex);
  const sourceName = copySourceOf(ex);
  const source = ex.storage.bucket(sourceName.bucket).objects.get(sourceName.key);
  if (!source) throw s3Errors.noSuchKey(sourceName.key);
  checkCopyConditions(ex, source);
  const range = copyRangeOf(headerOf(ex.req, 'x-amz-copy-source-range'), source.size);
  const [first, last] = range ?? [0, source.size - 1];
  const length = source.size === 0 ? 0 : last - first + 1;
  if (length > MAX_PUT_SIZE) {
    throw s3Errors.invalidRequest(`The specified copy source is larger than the maximum allowable size for a copy source: ${MAX_PUT_SIZE}`);
  }
  // Opened at once: the source may be replaced or deleted while it is being copied.
  const open = openSegments(source.segments);
  const file = ex.storage.newFile();
  const out = fs.openSync(file, 'w');
  const md5 = createHash('md5');
  try {
    await writeAll(readSegments(open, first, first + length), out, (chunk) => {
      md5.update(chunk);
      ex.stats.bytesCopied += chunk.length;
    });
  } finally {
    await closeFd(out);
  }
  const etag = `"${md5.digest('hex')}"`;
  const lastModified = new Date();
  await storePart(ex, bucket, upload, { partNumber, size: length, etag, lastModified, file });
  sendXml(ex, 200, 'CopyPartResult', { LastModified: lastModified, ETag: etag });
}

/** ListParts: GET /bucket/key?uploadId=U[&max-parts=M&part-number-marker=P]. */
export function listParts(ex: Exchange): void {
  const { bucket, upload } = uploadOf(ex);
  const maxParts = intParam(ex.query, 'max-parts', 1000, 0, 1000);
  const marker = intParam(ex.query, 'part-number-marker', 0, 0, Number.MAX_SAFE_INTEGER);
  const after = [...upload.parts.values()].filter((p) => p.partNumber > marker).sort((a, b) => a.partNumber - b.partNumber);
  const listed = after.slice(0, maxParts);
  const truncated = after.length > listed.length;
  sendXml(ex, 200, 'ListPartsResult', {
    Bucket: bucket.name,
    Key: upload.key,
    UploadId: upload.uploadId,
    PartNumberMarker: marker,
    NextPartNumberMarker: listed.at(-1)?.partNumber ?? 0,
    MaxParts: maxParts,
    IsTruncated: truncated,
    Part: listed.map((p) => ({ PartNumber: p.partNumber, LastModified: p.lastModified, ETag: p.etag, Size: p.size })),
    Initiator: OWNER,
    Owner: OWNER,
    StorageClass: 'STANDARD',
  });
}

/** CompleteMultipartUpload: POST /bucket/key?uploadId=U with the chosen parts in the body. */
export async function completeMultipartUpload(ex: Exchange): Promise<void> {
  const { bucket, upload } = uploadOf(ex);
  const document = await receiveDocument(ex.req, ex.payload, (n) => {
    ex.stats.bytesIn += n;
  });
  const content = rootContent(document, 'CompleteMultipartUpload');
  if (content === undefined) throw s3Errors.malformedXml();
  const requested = elements(content, 'Part').map((part) => {
    const number = elements(part, 'PartNumber')[0];
    const etag = elements(part, 'ETag')[0];
    if (number === undefined || etag === undefined || !/^\s*\d+\s*$/.test(number)) throw s3Errors.malformedXml();
    return { partNumber: Number(number), etag: unescapeXml(etag).trim() };
  });
  if (requested.length === 0) throw s3Errors.malformedXml();
  const unquote = (etag: string) => etag.replace(/^"|"$/g, '');
  const chosen: PartRecord[] = [];
  for (const [index, { partNumber, etag }] of requested.entries()) {
    if (index > 0 && partNumber <= (requested[index - 1]?.partNumber ?? 0)) throw s3Errors.invalidPartOrder();
    const part = upload.parts.get(partNumber);
    if (!part || unquote(part.etag) !== unquote(etag)) throw s3Errors.invalidPart(partNumber);
    chosen.push(part);
  }
  for (const [index, part] of chosen.entries()) {
    if (index < chosen.length - 1 && part.size < MIN_PART_SIZE) throw s3Errors.entityTooSmall(part.size, MIN_PART_SIZE, part.partNumber);
  }
  // Claimed before the first await: a concurrent abort or second completion finds no upload.
  bucket.uploads.delete(upload.uploadId);
  const md5s = Buffer.concat(chosen.map((p) => Buffer.from(unquote(p.etag), 'hex')));
  const etag = `"${createHash('md5').update(md5s).digest('hex')}-${chosen.length}"`;
  await ex.storage.putObject(bucket, {
    key: upload.key,
    size: chosen.reduce((sum, p) => sum + p.size, 0),
    etag,
    lastModified: new Date(),
    contentType: upload.contentType,
    cacheControl: upload.cacheControl,
    metadata: upload.metadata,
    segments: chosen.map((p) => ({ file: p.file, size: p.size })),
  });
  // The chosen parts' files now belong to the object; the others go.
  await Promise.all([...upload.parts.values()].filter((p) => !chosen.includes(p)).map((p) => ex.storage.discard(p.file)));
  const host = headerOf(ex.req, 'host') ?? '127.0.0.1';
  sendXml(ex, 200, 'CompleteMultipartUploadResult', {
    Location: `http://${host}/${bucket.name}/${encodeURIComponent(upload.key).replace(/%2F/g, '/')}`,
    Bucket: bucket.name,
    Key: upload.key,
    ETag: etag,
  });
}

/** AbortMultipartUpload: DELETE /bucket/key?uploadId=U; its parts are gone afterwards. */
export async function abortMultipartUpload(ex: Exchange): Promise<void> {
  const { bucket, upload } = uploadOf(ex);
  await ex.storage.dropUpload(bucket, upload);
  sendEmpty(ex, 204);
}
