export type VerificationStatus = 'verified' | 'mismatch' | 'unverified';

export interface Verification {
  readonly status: VerificationStatus;
  /** What the server says it computed over the stored bytes. */
  readonly serverSha256: string | null;
  /** Tessera-Upload-Status of the upload (done, failed, pending ...). */
  readonly serverStatus: string | null;
  readonly httpStatus: number;
}

/**
 * Asks the server (HEAD) what it stored: a verified upload answers `Tessera-Upload-Status:
 * done` and the `Tessera-Sha256` it computed, which must equal the digest computed here.
 */
export async function verifyUpload(uploadUrl: string, localSha256: string): Promise<Verification> {
  const res = await fetch(uploadUrl, { method: 'HEAD', headers: { 'Tus-Resumable': '1.0.0' }, cache: 'no-store' });
  const serverSha256 = res.headers.get('Tessera-Sha256');
  const serverStatus = res.headers.get('Tessera-Upload-Status');
  let status: VerificationStatus = 'unverified';
  if (serverSha256 !== null && serverSha256.toLowerCase() !== localSha256.toLowerCase()) status = 'mismatch';
  else if (res.ok && serverStatus === 'done' && serverSha256 !== null) status = 'verified';
  return { status, serverSha256, serverStatus, httpStatus: res.status };
}
