import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { AuthConfig } from '../config/config.js';
import type { Authenticate } from './authenticate.js';

/**
 * Bearer-token authentication: a valid JWT's `sub` is the owner. Verified with the HS256/384/512
 * secret, or with keys from a JSON Web Key Set URL (RS*, ES*, EdDSA; fetched and cached by jose).
 */
export function jwtAuthenticator(options: AuthConfig): Authenticate {
  const key: Uint8Array | JWTVerifyGetKey = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl))
    : new TextEncoder().encode(options.jwtSecret ?? '');
  const verifyOptions = {
    ...(options.issuer ? { issuer: options.issuer } : {}),
    ...(options.audience ? { audience: options.audience } : {}),
    ...(options.requireExp ? { requiredClaims: ['exp'] } : {}),
  };
  return async (req) => {
    const token = /^Bearer\s+(\S+)$/i.exec(req.headers.get('authorization') ?? '')?.[1];
    if (!token) return undefined;
    // jwtVerify takes a key or a key getter through two overloads.
    const { payload } =
      typeof key === 'function' ? await jwtVerify(token, key, verifyOptions) : await jwtVerify(token, key, verifyOptions);
    return typeof payload.sub === 'string' && payload.sub !== '' ? { owner: payload.sub } : undefined;
  };
}
