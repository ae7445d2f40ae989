import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { s3Errors } from './errors.js';

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/** What the body must hash to, per the signed `x-amz-content-sha256`. */
export type PayloadCheck = { readonly kind: 'unsigned' } | { readonly kind: 'sha256'; readonly hex: string };

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_SKEW_MS = 15 * 60 * 1000;

/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
const uriEncode = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** The raw query as decoded name/value pairs, in order ('a&b=1' → [['a',''],['b','1']]). */
export function queryPairs(rawQuery: string): [string, string][] {
  if (rawQuery === '') return [];
  return rawQuery.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    return [decodeURIComponent(name), decodeURIComponent(value)];
  });
}

/**
 * Verifies an `Authorization: AWS4-HMAC-SHA256 ...` header (Signature Version 4, header
 * auth) for S3: the canonical URI is the path exactly as sent (S3 does not normalise or
 * double-encode it), the payload hash is the signed `x-amz-content-sha256` value.
 * Returns how the body has to be checked once it has arrived.
 */
export function verifySignature(
  req: { readonly method: string; readonly rawPath: string; readonly rawQuery: string; readonly headers: IncomingHttpHeaders },
  credentials: Credentials,
  region: string,
  now = Date.now(),
): PayloadCheck {
  const authorization = header(req.headers, 'authorization');
  if (!authorization) throw s3Errors.accessDenied();
  if (!authorization.startsWith(`${ALGORITHM} `)) {
    throw s3Errors.invalidArgument('Unsupported Authorization Type', 'Authorization', authorization.split(' ')[0]);
  }
  const fields = new Map<string, string>();
  for (const part of authorization.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature) {
    throw s3Errors.authorizationHeaderMalformed('The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.');
  }
  const [accessKeyId, date, scopeRegion, service, terminator] = credential.split('/');
  if (accessKeyId !== credentials.accessKeyId) throw s3Errors.invalidAccessKeyId(accessKeyId ?? '');
  if (!date || !scopeRegion || service !== 's3' || terminator !== 'aws4_request') {
    throw s3Errors.authorizationHeaderMalformed(`The authorization header is malformed; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`);
  }
  if (scopeRegion !== region) {
    throw s3Errors.authorizationHeaderMalformed(`The authorization header is malformed; the region '${scopeRegion}' is wrong; expecting '${region}'`);
  }
  const amzDate = header(req.headers, 'x-amz-date');
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) throw s3Errors.accessDenied();
  const when = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (Math.abs(now - when) > MAX_SKEW_MS) throw s3Errors.requestTimeTooSkewed();
  if (amzDate.slice(0, 8) !== date) {
    throw s3Errors.authorizationHeaderMalformed(`The authorization header is malformed; Invalid credential date. Date is not the same as X-Amz-Date: ${date}.`);
  }
  const payloadHash = header(req.headers, 'x-amz-content-sha256');
  if (!payloadHash) throw s3Errors.missingSecurityHeader('x-amz-content-sha256');

  const names = signedHeaders.split(';');
  if (!names.includes('host')) throw s3Errors.signatureDoesNotMatch();
  checkSignature(req, queryPairs(req.rawQuery), { names, signedHeaders, payloadHash, date, region: scopeRegion, amzDate, signature }, credentials);

  if (payloadHash === 'UNSIGNED-PAYLOAD') return { kind: 'unsigned' };
  if (/^[0-9a-f]{64}$/.test(payloadHash)) return { kind: 'sha256', hex: payloadHash };
  // aws-chunked bodies (STREAMING-...): the framing would be stored verbatim by a server
  // that does not decode it; refuse them loudly instead.
  throw s3Errors.notImplemented(`x-amz-content-sha256: ${payloadHash} (aws-chunked uploads) is not implemented by this server`);
}

/**
 * Verifies a presigned request (Signature Version 4, query-string auth: `X-Amz-Algorithm`,
 * `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature`),
 * as a presigned GetObject or UploadPart URL is: the payload is unsigned, and the URL stops working once
 * `X-Amz-Expires` seconds have passed since `X-Amz-Date`.
 */
export function verifyPresigned(
  req: { readonly method: string; readonly rawPath: string; readonly rawQuery: string; readonly headers: IncomingHttpHeaders },
  credentials: Credentials,
  region: string,
  now = Date.now(),
): PayloadCheck {
  const pairs = queryPairs(req.rawQuery);
  const query = new Map(pairs);
  if (query.get('X-Amz-Algorithm') !== ALGORITHM) throw s3Errors.accessDenied();
  const credential = query.get('X-Amz-Credential') ?? '';
  const amzDate = query.get('X-Amz-Date') ?? '';
  const expires = Number(query.get('X-Amz-Expires'));
  const signedHeaders = query.get('X-Amz-SignedHeaders') ?? '';
  const signature = query.get('X-Amz-Signature') ?? '';
  const [accessKeyId, date, scopeRegion, service, terminator] = credential.split('/');
  if (accessKeyId !== credentials.accessKeyId) throw s3Errors.invalidAccessKeyId(accessKeyId ?? '');
  if (!date || scopeRegion !== region || service !== 's3' || terminator !== 'aws4_request') throw s3Errors.accessDenied();
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || amzDate.slice(0, 8) !== date) throw s3Errors.accessDenied();
  if (!Number.isInteger(expires) || expires < 1 || expires > 604_800) throw s3Errors.accessDenied();
  const when = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8), +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (now > when + expires * 1000) throw s3Errors.expiredPresignedUrl();
  const names = signedHeaders.split(';');
  if (!names.includes('host')) throw s3Errors.signatureDoesNotMatch();
  const signedQuery = pairs.filter(([name]) => name !== 'X-Amz-Signature');
  checkSignature(req, signedQuery, { names, signedHeaders, payloadHash: 'UNSIGNED-PAYLOAD', date, region: scopeRegion, amzDate, signature }, credentials);
  return { kind: 'unsigned' };
}

/** Recomputes a SigV4 signature over the canonical request and compares it with the one given. */
function checkSignature(
  req: { readonly method: string; readonly rawPath: string; readonly headers: IncomingHttpHeaders },
  query: readonly [string, string][],
  signed: { names: string[]; signedHeaders: string; payloadHash: string; date: string; region: string; amzDate: string; signature: string },
  credentials: Credentials,
): void {
  const canonicalHeaders = signed.names.map((name) => `${name}:${(header(req.headers, name) ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const canonicalQuery = query
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
  const canonicalRequest = [req.method, req.rawPath, canonicalQuery, canonicalHeaders, signed.signedHeaders, signed.payloadHash].join('\n');
  const scope = `${signed.date}/${signed.region}/s3/aws4_request`;
  const stringToSign = [ALGORITHM, signed.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, signed.date), signed.region), 's3'), 'aws4_request');
  const expected = hmac(signingKey, stringToSign);
  const given = Buffer.from(signed.signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw s3Errors.signatureDoesNotMatch();
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');
