/**
 * S3 error responses (codes, statuses and messages as in the Amazon S3 API reference,
 * "Error responses" / "List of error codes").
 */
export class S3Error extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
    message: string,
    /** Extra elements of the <Error> document (e.g. BucketName, Key, UploadId). */
    readonly details: Readonly<Record<string, string>> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export const s3Errors = {
  accessDenied: () => new S3Error('AccessDenied', 403, 'Access Denied'),
  expiredPresignedUrl: () => new S3Error('AccessDenied', 403, 'Request has expired'),
  authorizationHeaderMalformed: (message: string) => new S3Error('AuthorizationHeaderMalformed', 400, message),
  badDigest: () => new S3Error('BadDigest', 400, 'The Content-MD5 you specified did not match what we received.'),
  badChecksum: (algorithm: string) =>
    new S3Error('BadDigest', 400, `The ${algorithm} you specified did not match the calculated checksum.`),
  bucketAlreadyOwnedByYou: (bucket: string) =>
    new S3Error(
      'BucketAlreadyOwnedByYou',
      409,
      'Your previous request to create the named bucket succeeded and you already own it.',
      { BucketName: bucket },
    ),
  bucketNotEmpty: (bucket: string) =>
    new S3Error('BucketNotEmpty', 409, 'The bucket you tried to delete is not empty', { BucketName: bucket }),
  entityTooLarge: (size: number, max: number) =>
    new S3Error('EntityTooLarge', 400, 'Your proposed upload exceeds the maximum allowed object size.', {
      ProposedSize: String(size),
      MaxSizeAllowed: String(max),
    }),
  entityTooSmall: (size: number, min: number, partNumber: number) =>
    new S3Error('EntityTooSmall', 400, 'Your proposed upload is smaller than the minimum allowed object size.', {
      ProposedSize: String(size),
      MinSizeAllowed: String(min),
      PartNumber: String(partNumber),
    }),
  incompleteBody: () =>
    new S3Error('IncompleteBody', 400, 'You did not provide the number of bytes specified by the Content-Length HTTP header'),
  invalidAccessKeyId: (id: string) =>
    new S3Error('InvalidAccessKeyId', 403, 'The AWS Access Key Id you provided does not exist in our records.', {
      AWSAccessKeyId: id,
    }),
  invalidArgument: (message: string, name?: string, value?: string) =>
    new S3Error('InvalidArgument', 400, message, {
      ...(name !== undefined ? { ArgumentName: name } : {}),
      ...(value !== undefined ? { ArgumentValue: value } : {}),
    }),
  invalidBucketName: (bucket: string) =>
    new S3Error('InvalidBucketName', 400, 'The specified bucket is not valid.', { BucketName: bucket }),
  invalidDigest: () => new S3Error('InvalidDigest', 400, 'The Content-MD5 you specified is not valid.'),
  invalidPart: (partNumber: number) =>
    new S3Error(
      'InvalidPart',
      400,
      "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
      { PartNumber: String(partNumber) },
    ),
  invalidPartOrder: () =>
    new S3Error('InvalidPartOrder', 400, 'The list of parts was not in ascending order. Parts must be ordered by part number.'),
  invalidRange: (size: number) =>
    new S3Error('InvalidRange', 416, 'The requested range is not satisfiable', { ActualObjectSize: String(size) }, {
      'Content-Range': `bytes */${size}`,
    }),
  invalidRequest: (message: string) => new S3Error('InvalidRequest', 400, message),
  keyTooLong: () => new S3Error('KeyTooLongError', 400, 'Your key is too long'),
  malformedXml: () =>
    new S3Error('MalformedXML', 400, 'The XML you provided was not well-formed or did not validate against our published schema'),
  methodNotAllowed: (method: string, resource: string) =>
    new S3Error('MethodNotAllowed', 405, 'The specified method is not allowed against this resource.', {
      Method: method,
      ResourceType: resource,
    }),
  missingContentLength: () => new S3Error('MissingContentLength', 411, 'You must provide the Content-Length HTTP header.'),
  missingSecurityHeader: (header: string) =>
    new S3Error('InvalidRequest', 400, `Missing required header for this request: ${header}`),
  noSuchBucket: (bucket: string) =>
    new S3Error('NoSuchBucket', 404, 'The specified bucket does not exist', { BucketName: bucket }),
  noSuchKey: (key: string) => new S3Error('NoSuchKey', 404, 'The specified key does not exist.', { Key: key }),
  noSuchUpload: (uploadId: string) =>
    new S3Error(
      'NoSuchUpload',
      404,
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      { UploadId: uploadId },
    ),
  notImplemented: (message = 'A header you provided implies functionality that is not implemented') =>
    new S3Error('NotImplemented', 501, message),
  preconditionFailed: (condition: string) =>
    new S3Error('PreconditionFailed', 412, 'At least one of the pre-conditions you specified did not hold', {
      Condition: condition,
    }),
  requestTimeTooSkewed: () =>
    new S3Error('RequestTimeTooSkewed', 403, "The difference between the request time and the server's time is too large."),
  signatureDoesNotMatch: () =>
    new S3Error(
      'SignatureDoesNotMatch',
      403,
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    ),
  contentSha256Mismatch: () =>
    new S3Error('XAmzContentSHA256Mismatch', 400, "The provided 'x-amz-content-sha256' header does not match what was computed."),
} as const;
