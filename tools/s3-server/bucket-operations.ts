import { receiveDocument } from './body.js';
import { s3Errors } from './errors.js';
import { intParam, OWNER, sendEmpty, sendXml, type Exchange } from './exchange.js';
import { compareKeys, type ObjectRecord, type UploadRecord } from './storage.js';
import { elements, rootContent, unescapeXml } from './xml.js';

/** CreateBucket: PUT /bucket (a CreateBucketConfiguration body is accepted and ignored). */
export async function createBucket(ex: Exchange): Promise<void> {
  if (ex.req.headers['content-length'] && ex.req.headers['content-length'] !== '0') {
    await receiveDocument(ex.req, ex.payload, (n) => {
      ex.stats.bytesIn += n;
    });
  }
  ex.storage.createBucket(ex.bucketName);
  sendEmpty(ex, 200, { Location: `/${ex.bucketName}` });
}

/** HeadBucket: 200 with the bucket's region, or 404 (no body, it is a HEAD). */
export function headBucket(ex: Exchange): void {
  ex.storage.bucket(ex.bucketName);
  sendEmpty(ex, 200, { 'x-amz-bucket-region': ex.region });
}

export function deleteBucket(ex: Exchange): void {
  ex.storage.deleteBucket(ex.bucketName);
  sendEmpty(ex, 204);
}

/** ListBuckets: GET /. */
export function listBuckets(ex: Exchange): void {
  sendXml(ex, 200, 'ListAllMyBucketsResult', {
    Owner: OWNER,
    Buckets: { Bucket: ex.storage.listBuckets().map((b) => ({ Name: b.name, CreationDate: b.created })) },
  });
}

const urlEncodeKey = (key: string) => encodeURIComponent(key).replace(/%2F/g, '/');

/** ListObjectsV2: GET /bucket?list-type=2 with prefix, delimiter, start-after, continuation-token, max-keys. */
export function listObjectsV2(ex: Exchange): void {
  const bucket = ex.storage.bucket(ex.bucketName);
  const prefix = ex.query.get('prefix') ?? '';
  const delimiter = ex.query.get('delimiter') ?? '';
  const maxKeys = intParam(ex.query, 'max-keys', 1000, 0, 1000);
  const startAfter = ex.query.get('start-after');
  const token = ex.query.get('continuation-token');
  const encodingType = ex.query.get('encoding-type');
  if (encodingType !== undefined && encodingType !== 'url') {
    throw s3Errors.invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', encodingType);
  }
  let after = startAfter ?? '';
  if (token !== undefined) {
    const decoded = Buffer.from(token, 'base64url').toString('utf8');
    if (!decoded.startsWith('k:')) throw s3Errors.invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
    after = decoded.slice(2);
  }
  const sorted = [...bucket.objects.values()]
    .filter((o) => o.key.startsWith(prefix) && compareKeys(o.key, after) > 0)
    .sort((a, b) => compareKeys(a.key, b.key));
  const contents: ObjectRecord[] = [];
  const prefixes: string[] = [];
  let last = '';
  let truncated = false;
  for (const object of sorted) {
    const cut = delimiter ? object.key.indexOf(delimiter, prefix.length) : -1;
    const common = cut >= 0 ? object.key.slice(0, cut + delimiter.length) : undefined;
    if (common !== undefined && common === prefixes.at(-1)) continue;
    if (contents.length + prefixes.length >= maxKeys) {
      truncated = true;
      break;
    }
    if (common !== undefined) {
      prefixes.push(common);
      // Resume after every key under this prefix.
      last = `${common}\u{10FFFF}`;
    } else {
      contents.push(object);
      last = object.key;
    }
  }
  const encode = (text: string) => (encodingType === 'url' ? urlEncodeKey(text) : text);
  sendXml(ex, 200, 'ListBucketResult', {
    Name: bucket.name,
    Prefix: encode(prefix),
    ...(delimiter ? { Delimiter: encode(delimiter) } : {}),
    MaxKeys: maxKeys,
    ...(encodingType ? { EncodingType: encodingType } : {}),
    KeyCount: contents.length + prefixes.length,
    IsTruncated: truncated,
    ...(token !== undefined ? { ContinuationToken: token } : {}),
    ...(truncated ? { NextContinuationToken: Buffer.from(`k:${last}`, 'utf8').toString('base64url') } : {}),
    ...(startAfter !== undefined ? { StartAfter: encode(startAfter) } : {}),
    Contents: contents.map((o) => ({
      Key: encode(o.key),
      LastModified: o.lastModified,
      ETag: o.etag,
      Size: o.size,
      StorageClass: 'STANDARD',
    })),
    CommonPrefixes: prefixes.map((p) => ({ Prefix: encode(p) })),
  });
}

/** ListMultipartUploads: GET /bucket?uploads with prefix, key-marker, upload-id-marker, max-uploads. */
export function listMultipartUploads(ex: Exchange): void {
  const bucket = ex.storage.bucket(ex.bucketName);
  if (ex.query.has('delimiter')) throw s3Errors.notImplemented('delimiter on ListMultipartUploads is not implemented by this server');
  const prefix = ex.query.get('prefix') ?? '';
  const keyMarker = ex.query.get('key-marker') ?? '';
  // S3 ignores upload-id-marker unless key-marker is given.
  const uploadIdMarker = keyMarker ? (ex.query.get('upload-id-marker') ?? '') : '';
  const maxUploads = intParam(ex.query, 'max-uploads', 1000, 0, 1000);
  const encodingType = ex.query.get('encoding-type');
  if (encodingType !== undefined && encodingType !== 'url') {
    throw s3Errors.invalidArgument('Invalid Encoding Method specified in Request', 'encoding-type', encodingType);
  }
  const ordered = [...bucket.uploads.values()]
    .filter((u) => u.key.startsWith(prefix))
    .sort((a, b) => compareKeys(a.key, b.key) || a.initiated.getTime() - b.initiated.getTime() || compareKeys(a.uploadId, b.uploadId));
  let start = 0;
  if (keyMarker) {
    const markerIndex = uploadIdMarker ? ordered.findIndex((u) => u.key === keyMarker && u.uploadId === uploadIdMarker) : -1;
    start = markerIndex >= 0 ? markerIndex + 1 : ordered.findIndex((u) => compareKeys(u.key, keyMarker) > 0);
    if (start < 0) start = ordered.length;
  }
  const listed: UploadRecord[] = ordered.slice(start, start + maxUploads);
  const truncated = start + listed.length < ordered.length;
  const encode = (text: string) => (encodingType === 'url' ? urlEncodeKey(text) : text);
  sendXml(ex, 200, 'ListMultipartUploadsResult', {
    Bucket: bucket.name,
    KeyMarker: encode(keyMarker),
    UploadIdMarker: uploadIdMarker,
    NextKeyMarker: encode(listed.at(-1)?.key ?? ''),
    NextUploadIdMarker: listed.at(-1)?.uploadId ?? '',
    Prefix: encode(prefix),
    MaxUploads: maxUploads,
    IsTruncated: truncated,
    ...(encodingType ? { EncodingType: encodingType } : {}),
    Upload: listed.map((u) => ({
      Key: encode(u.key),
      UploadId: u.uploadId,
      Initiator: OWNER,
      Owner: OWNER,
      StorageClass: 'STANDARD',
      Initiated: u.initiated,
    })),
  });
}

/** DeleteObjects: POST /bucket?delete; needs Content-MD5 or an x-amz-checksum-* header. */
export async function deleteObjects(ex: Exchange): Promise<void> {
  const bucket = ex.storage.bucket(ex.bucketName);
  const document = await receiveDocument(ex.req, ex.payload, (n) => {
    ex.stats.bytesIn += n;
  }, { requireIntegrity: true });
  const content = rootContent(document, 'Delete');
  if (content === undefined) throw s3Errors.malformedXml();
  const quiet = (elements(content, 'Quiet')[0] ?? 'false').trim() === 'true';
  const objects = elements(content, 'Object');
  if (objects.length === 0 || objects.length > 1000) throw s3Errors.malformedXml();
  const keys = objects.map((o) => {
    const key = elements(o, 'Key')[0];
    if (key === undefined) throw s3Errors.malformedXml();
    if (elements(o, 'VersionId').length > 0) throw s3Errors.notImplemented('VersionId in DeleteObjects is not implemented by this server');
    return unescapeXml(key);
  });
  for (const key of keys) await ex.storage.deleteObject(bucket, key);
  sendXml(ex, 200, 'DeleteResult', { Deleted: quiet ? [] : keys.map((Key) => ({ Key })) });
}
