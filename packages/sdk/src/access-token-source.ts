// AccessTokenSource: how the SDK gets the bearer token for calls and long
// connections. AuthClient is the usual source (it refreshes before expiry);
// staticAccessToken serves tests and apps that manage tokens themselves.

export interface AccessTokenOptions {
  /**
   * The server rejected the last token (UNAUTHENTICATED): get a new one instead
   * of a cached one, if the source can.
   */
  readonly forceRefresh?: boolean;
}

export interface AccessTokenSource {
  /** A currently valid access token (JWT). Rejects when none can be had (logged out, refresh token dead). */
  getAccessToken(options?: AccessTokenOptions): Promise<string>;
}

/** A source that always returns the same token and cannot refresh it. */
export function staticAccessToken(accessToken: string): AccessTokenSource {
  return { getAccessToken: async () => accessToken };
}
