import { hash, verify } from '@node-rs/argon2';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { generate, generateSecret, generateURI, verify as verifyTotp } from 'otplib';

/** Passwords: argon2id (the library's default algorithm), with OWASP's minimum cost. */
export const minPasswordLength = 12;

export function hashPassword(password: string): Promise<string> {
  return hash(password, { memoryCost: 19_456, timeCost: 2, parallelism: 1 });
}

export async function verifyPassword(stored: string, password: string): Promise<boolean> {
  try {
    return await verify(stored, password);
  } catch {
    return false;
  }
}

/** A hash to compare against when the account does not exist, so timing does not tell. */
let decoy: Promise<string> | undefined;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  return decoy;
}

export function passwordProblem(password: string): string | undefined {
  if (password.length < minPasswordLength) return `a password needs at least ${minPasswordLength} characters`;
  if (password.length > 256) return 'a password may have at most 256 characters';
  return undefined;
}

/** API tokens: shown once, stored as SHA-256 (they are random, so no slow hash is needed). */
export interface NewToken {
  readonly token: string;
  readonly hash: string;
  readonly prefix: string;
}

export function newApiToken(): NewToken {
  const secret = randomBytes(32).toString('base64url');
  const token = `stw_${secret}`;
  return { token, hash: hashToken(token), prefix: token.slice(0, 12) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function looksLikeToken(value: string): boolean {
  return /^stw_[A-Za-z0-9_-]{43}$/.test(value);
}

/** TOTP (RFC 6238): 6 digits, 30-second steps, one step of clock drift either way. */
export function newTotpSecret(): string {
  return generateSecret();
}

export function totpUri(secret: string, account: string, issuer = 'Steward'): string {
  return generateURI({ issuer, label: account, secret });
}

export function totpCode(secret: string, at: Date): Promise<string> {
  return generate({ secret, epoch: Math.floor(at.getTime() / 1000) });
}

/** Returns the matched time step, or undefined. The caller refuses a step already used. */
export async function checkTotp(secret: string, code: string, at: Date): Promise<number | undefined> {
  if (!/^\d{6}$/.test(code)) return undefined;
  const result = await verifyTotp({
    secret,
    token: code,
    epoch: Math.floor(at.getTime() / 1000),
    epochTolerance: 30,
  });
  if (!result.valid) return undefined;
  const matched = (result as { epoch?: number }).epoch ?? at.getTime() / 1000;
  return Math.floor(matched / 30);
}

/** Recovery codes: ten, single use, stored hashed. */
export function newRecoveryCodes(count = 10): string[] {
  return Array.from({ length: count }, () => {
    const raw = randomBytes(10).toString('hex');
    return `${raw.slice(0, 5)}-${raw.slice(5, 10)}-${raw.slice(10, 15)}-${raw.slice(15, 20)}`;
  });
}

export function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(code.trim().toLowerCase()).digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}
