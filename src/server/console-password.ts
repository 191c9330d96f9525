// An optional console password, set from the CLI (`synmac server set-console-password`), so
// the owner can sign in to the console without pasting the admin token. Only a scrypt hash
// (random salt) is kept, in DATA_DIR/console-password (0600); it is read at each sign-in, so
// setting or changing it needs no restart. Like the admin token, it opens the console only.
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

const scrypt = (pw: string, salt: Buffer, len: number, opts: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(pw, salt, len, opts, (err, key) => (err ? reject(err) : resolve(key))));

const PARAMS = { N: 16384, r: 8, p: 1 };
export const MIN_PASSWORD_LENGTH = 12;

export async function writeConsolePassword(dataDir: string, password: string): Promise<void> {
  if ([...password].length < MIN_PASSWORD_LENGTH) throw new Error(`the password needs at least ${MIN_PASSWORD_LENGTH} characters`);
  const salt = randomBytes(16);
  const hash = await scrypt(password.normalize('NFC'), salt, 32, PARAMS);
  const line = `scrypt$${PARAMS.N}$${PARAMS.r}$${PARAMS.p}$${salt.toString('base64url')}$${hash.toString('base64url')}\n`;
  const file = path.join(dataDir, 'console-password');
  const tmp = `${file}.${process.pid}.tmp`;
  const fh = await fs.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(line);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.chmod(tmp, 0o600);
  await fs.rename(tmp, file);
}

export class ConsolePassword {
  constructor(private readonly file: string | null) {}

  private async stored(): Promise<string | null> {
    if (!this.file) return null;
    try {
      return (await fs.readFile(this.file, 'utf8')).trim() || null;
    } catch {
      return null;
    }
  }

  /** Whether a password is set and `candidate` is it (compared in constant time). */
  async matches(candidate: string): Promise<boolean> {
    const line = await this.stored();
    const m = line && /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([\w-]+)\$([\w-]+)$/.exec(line);
    if (!m) return false;
    const want = Buffer.from(m[5], 'base64url');
    const got = await scrypt(candidate.normalize('NFC'), Buffer.from(m[4], 'base64url'), want.length, { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]), maxmem: 64 * 1024 * 1024 });
    return got.length === want.length && timingSafeEqual(got, want);
  }

  /** Changes when the password is set or changed: sessions made before then end. */
  async fingerprint(): Promise<string> {
    const line = await this.stored();
    return line ? createHash('sha256').update(line).digest('base64url').slice(0, 16) : '-';
  }
}
