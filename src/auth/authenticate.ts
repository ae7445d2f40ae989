/** Who is making a request. */
export interface Principal {
  /** Stable id of the caller; every upload they create records it as its owner. */
  readonly owner: string;
}

/**
 * Identifies the caller of a tus request; resolves undefined (or throws) when the request
 * carries no valid credentials, which is answered 401.
 */
export type Authenticate = (req: Request) => Promise<Principal | undefined>;
