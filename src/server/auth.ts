// Credentials: one admin token (the owner's), one API key per device, one-time enrollment
// codes. Only SHA-256 hashes of keys and codes are stored; a lookup by hash means the
// secret itself is never compared byte by byte, and the admin token is compared in
// constant time.
import { createHash, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { validateDeviceName } from '../core/device-name.js';
import { ApiError } from './errors.js';
import type { Schema } from './db/schema.js';

export const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

export interface DeviceIdentity {
  id: string;
  name: string;
}

export const DEFAULT_CODE_TTL_SECONDS = 15 * 60;
// No 0/O or 1/I/L: codes are read off one screen and typed on another machine.
const CODE_ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

export function newEnrollmentCode(): string {
  let s = '';
  for (let i = 0; i < 12; i++) s += CODE_ALPHABET[randomInt(CODE_ALPHABET.length)];
  return `${s.slice(0, 4)}-${s.slice(4, 8)}-${s.slice(8)}`;
}

/** Codes are compared without dashes, spaces or case, so a hand-typed code works. */
export const canonicalCode = (code: string): string => code.toUpperCase().replace(/[^A-Z0-9]/g, '');

export function constantTimeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

export class AdminToken {
  private checkedAt = 0;
  private mtimeMs = 0;

  constructor(
    private token: string,
    private readonly file?: string,
  ) {}

  /**
   * Compares in constant time. When the token lives in a file, a rotation
   * (`synmac server rotate-admin-token`) is picked up within a second, without a restart.
   */
  async matches(candidate: string): Promise<boolean> {
    await this.refresh();
    return constantTimeEqual(candidate, this.token);
  }

  /**
   * A short digest of the current token: console sessions remember the one they signed in
   * under, so rotating the token ends every session made with the old one.
   */
  async fingerprint(): Promise<string> {
    await this.refresh();
    return createHash('sha256').update(`console-session:${this.token}`).digest('base64url').slice(0, 22);
  }

  private async refresh(): Promise<void> {
    if (!this.file || Date.now() - this.checkedAt < 1000) return;
    this.checkedAt = Date.now();
    try {
      const st = await fs.stat(this.file);
      if (st.mtimeMs !== this.mtimeMs) {
        const next = (await fs.readFile(this.file, 'utf8')).trim();
        if (next) this.token = next;
        this.mtimeMs = st.mtimeMs;
      }
    } catch {
      // A missing or unreadable file keeps the token in memory: never lock the owner out.
    }
  }

  /** Reads DIR/admin-token, creating it (mode 0600) on first start. */
  static async load(dataDir: string): Promise<{ token: AdminToken; created: string | null }> {
    const file = path.join(dataDir, 'admin-token');
    try {
      const existing = (await fs.readFile(file, 'utf8')).trim();
      if (existing) return { token: new AdminToken(existing, file), created: null };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const fresh = await AdminToken.write(dataDir);
    return { token: new AdminToken(fresh, file), created: fresh };
  }

  /** Writes a new token atomically (temp file, fsync, rename) and returns it. */
  static async write(dataDir: string): Promise<string> {
    const file = path.join(dataDir, 'admin-token');
    const token = `sma_${randomBytes(32).toString('base64url')}`;
    const tmp = `${file}.${process.pid}.tmp`;
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(`${token}\n`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.chmod(tmp, 0o600);
    await fs.rename(tmp, file);
    return token;
  }
}

export class DeviceAuth {
  constructor(private readonly db: Kysely<Schema>) {}

  async createCode(ttlSeconds = DEFAULT_CODE_TTL_SECONDS): Promise<{ code: string; expires_at: number }> {
    const code = newEnrollmentCode();
    const now = Date.now();
    const expires_at = now + ttlSeconds * 1000;
    await this.db
      .insertInto('enrollment_codes')
      .values({ code_hash: sha256Hex(canonicalCode(code)), created_at: now, expires_at, used_at: null, used_by: null })
      .execute();
    return { code, expires_at };
  }

  /** Spends a code and creates the device, in one transaction: a code works once. */
  async register(code: string, rawName: string): Promise<{ device_id: string; name: string; api_key: string }> {
    let name: string;
    try {
      name = validateDeviceName(rawName);
    } catch (err) {
      throw new ApiError(400, 'invalid_device_name', (err as Error).message);
    }
    const codeHash = sha256Hex(canonicalCode(code));
    const apiKey = `smk_${randomBytes(32).toString('base64url')}`;
    const id = randomUUID();
    const now = Date.now();
    return this.db.transaction().execute(async (tx) => {
      // The conditional UPDATE is the claim: of two concurrent registrations with one
      // code, exactly one changes a row.
      const claimed = await tx
        .updateTable('enrollment_codes')
        .set({ used_at: now, used_by: id })
        .where('code_hash', '=', codeHash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) {
        throw new ApiError(401, 'invalid_enrollment_code', 'the enrollment code is unknown, already used or expired; ask the server owner for a new one (synmac invite)');
      }
      const taken = await tx.selectFrom('devices').select('id').where('name', '=', name).executeTakeFirst();
      if (taken) {
        throw new ApiError(409, 'device_name_taken', `a device named "${name}" already exists; choose another name`);
      }
      await tx
        .insertInto('devices')
        .values({ id, name, key_hash: sha256Hex(apiKey), created_at: now, revoked_at: null, last_seen_at: null })
        .execute();
      return { device_id: id, name, api_key: apiKey };
    });
  }

  async authenticate(apiKey: string): Promise<DeviceIdentity | null> {
    const row = await this.db
      .selectFrom('devices')
      .select(['id', 'name', 'revoked_at'])
      .where('key_hash', '=', sha256Hex(apiKey))
      .executeTakeFirst();
    if (!row || row.revoked_at !== null) return null;
    return { id: row.id, name: row.name };
  }

  /** Whether any device was ever enrolled (the start-up hint about the admin token ends then). */
  async anyEnrolled(): Promise<boolean> {
    return (await this.db.selectFrom('devices').select('id').limit(1).executeTakeFirst()) !== undefined;
  }

  async revoke(idOrName: string): Promise<{ id: string; name: string }> {
    const row = await this.db
      .selectFrom('devices')
      .select(['id', 'name', 'revoked_at'])
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
      .executeTakeFirst();
    if (!row) throw new ApiError(404, 'device_not_found', 'no device with that name or id');
    if (row.revoked_at === null) {
      await this.db.updateTable('devices').set({ revoked_at: Date.now() }).where('id', '=', row.id).execute();
    }
    return { id: row.id, name: row.name };
  }

  async touch(id: string): Promise<void> {
    await this.db.updateTable('devices').set({ last_seen_at: Date.now() }).where('id', '=', id).execute();
  }
}
