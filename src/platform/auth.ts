import { randomUUID, webcrypto } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import { HttpError } from './errors.ts';

/** Who is calling: read from a verified access token, before any database work. */
export interface Auth {
  userId: number;
  companyId: number;
}

export type TokenType = 'access' | 'refresh';

export interface AccessClaims extends Auth {
  expiresAt: Date;
}

export interface RefreshClaims extends AccessClaims {
  familyId: string;
  jti: string;
}

/** SimpleJWT's answer for any token that does not verify; clients look for its code. */
export const tokenNotValid = (message = 'Token is invalid or expired') =>
  new HttpError(
    401,
    { detail: 'Given token not valid for any token type', code: 'token_not_valid', messages: [{ message }] },
    { 'www-authenticate': 'Bearer realm="api"' },
  );

/** No credentials that count; `detail` says why where the client can do better than sign in. */
export const notAuthenticated = (detail = 'Authentication credentials were not provided.') =>
  new HttpError(401, { detail }, { 'www-authenticate': 'Bearer realm="api"' });

/** About as many as people active within an access token's lifetime; the oldest leaves first. */
const VERIFIED_ACCESS_KEPT = 10_000;

/**
 * Signs and verifies the service's JWTs: HS256 only (the algorithm is pinned, so `alg: none` or a
 * public-key confusion cannot pass), with SimpleJWT's claims and a token_type that keeps access
 * and refresh tokens from standing in for each other.
 */
export class TokenService {
  /** Imported once: given raw bytes, jose imports the key again for every token. */
  private readonly key: Promise<webcrypto.CryptoKey>;
  /**
   * Access tokens already verified, by their exact text: a client sends the same one with every
   * request for its lifetime, and the HMAC through WebCrypto (a round trip to libuv's thread pool)
   * was a tenth of a list request's CPU in the server (README, Performance). A hit is checked for
   * expiry again, exactly as jose checks it; any other text is verified in full.
   */
  private readonly verifiedAccess = new Map<string, AccessClaims>();

  constructor(
    secret: string,
    private readonly accessTtlSeconds: number,
    readonly refreshTtlSeconds: number,
  ) {
    this.key = webcrypto.subtle.importKey(
      'raw',
      new TextEncoder().encode(secret),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    );
  }

  signAccess(auth: Auth): Promise<string> {
    return this.sign('access', auth, this.accessTtlSeconds, {});
  }

  async signRefresh(auth: Auth, familyId: string): Promise<{ token: string; jti: string; expiresAt: Date }> {
    const jti = randomUUID();
    const token = await this.sign('refresh', auth, this.refreshTtlSeconds, { family_id: familyId }, jti);
    return { token, jti, expiresAt: new Date(Date.now() + this.refreshTtlSeconds * 1000) };
  }

  private async sign(
    type: TokenType,
    auth: Auth,
    ttl: number,
    extra: Record<string, unknown>,
    jti: string = randomUUID(),
  ) {
    return new SignJWT({ token_type: type, user_id: auth.userId, company_id: auth.companyId, ...extra })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + ttl)
      .setJti(jti)
      .sign(await this.key);
  }

  /** Verifies signature, expiry and type; throws the 401 a client of SimpleJWT expects. */
  async verify(token: string, type: 'access'): Promise<AccessClaims>;
  async verify(token: string, type: 'refresh'): Promise<RefreshClaims>;
  async verify(token: string, type: TokenType): Promise<AccessClaims | RefreshClaims> {
    if (type === 'access') {
      const known = this.verifiedAccess.get(token);
      if (known !== undefined) {
        if (Date.now() < known.expiresAt.getTime()) return known;
        this.verifiedAccess.delete(token);
        throw tokenNotValid('Token is expired');
      }
    }
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, await this.key, { algorithms: ['HS256'] }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw tokenNotValid('Token is expired');
      throw tokenNotValid();
    }
    if (payload.token_type !== type) throw tokenNotValid('Token has wrong type');
    const userId = payload.user_id;
    const companyId = payload.company_id;
    if (!Number.isSafeInteger(userId) || !Number.isSafeInteger(companyId)) throw tokenNotValid();
    if (typeof payload.exp !== 'number') throw tokenNotValid();
    const claims: AccessClaims = {
      userId: userId as number,
      companyId: companyId as number,
      expiresAt: new Date(payload.exp * 1000),
    };
    if (type === 'access') {
      if (this.verifiedAccess.size >= VERIFIED_ACCESS_KEPT) {
        this.verifiedAccess.delete(this.verifiedAccess.keys().next().value as string);
      }
      // Frozen: every request with this token shares it.
      this.verifiedAccess.set(token, Object.freeze(claims));
      return claims;
    }
    if (typeof payload.family_id !== 'string' || typeof payload.jti !== 'string') throw tokenNotValid();
    return { ...claims, familyId: payload.family_id, jti: payload.jti };
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set for every route that is not marked public; a public route has none. */
    auth: Auth | null;
  }
  interface FastifyContextConfig {
    /** Routes are authenticated unless they say otherwise. */
    public?: boolean;
  }
}

export function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const [scheme, token, ...rest] = header.split(' ');
  if (scheme?.toLowerCase() !== 'bearer' || token === undefined || token === '' || rest.length > 0) {
    throw new HttpError(
      401,
      { detail: 'Authorization header must contain two space-delimited values', code: 'bad_authorization_header' },
      {
        'www-authenticate': 'Bearer realm="api"',
      },
    );
  }
  return token;
}

/** Authentication by default: a route opts out with `config: { public: true }`. */
export function registerAuthentication(app: FastifyInstance, tokens: TokenService) {
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.public === true) return;
    const token = bearerToken(request);
    if (token === undefined) throw notAuthenticated();
    request.auth = await tokens.verify(token, 'access');
  });
}

/** For handlers of authenticated routes: the caller, whom the hook has already verified. */
export function authOf(request: FastifyRequest): Auth {
  if (request.auth === null) throw notAuthenticated();
  return request.auth;
}
