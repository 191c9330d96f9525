// What the owner sees about each device: online (holding the event stream right now),
// last seen and last sync to the second, and the client's version and platform, which the
// client sends as `User-Agent: synmac/<version> (<platform>)` on every request.
import type { Kysely } from 'kysely';
import type { Schema } from './db/schema.js';

const UA_RE = /^synmac\/([0-9A-Za-z.+-]{1,40})(?: \(([^()\r\n]{1,80})\))?/;

export function parseClientAgent(ua: string | undefined): { version: string; platform: string | null } | null {
  if (typeof ua !== 'string') return null;
  const m = UA_RE.exec(ua);
  return m ? { version: m[1], platform: m[2] ?? null } : null;
}

interface Seen {
  writtenAt: number;
  agent: string;
}

export class DevicePresence {
  private readonly streams = new Map<string, number>();
  private readonly seen = new Map<string, Seen>();
  private readonly syncedAt = new Map<string, number>();

  constructor(private readonly db: Kysely<Schema>) {}

  isOnline(deviceId: string): boolean {
    return (this.streams.get(deviceId) ?? 0) > 0;
  }

  onlineCount(): number {
    let n = 0;
    for (const v of this.streams.values()) if (v > 0) n++;
    return n;
  }

  /** A device opened its event stream; the returned function is called when it closes. */
  streamOpened(deviceId: string): () => void {
    this.streams.set(deviceId, (this.streams.get(deviceId) ?? 0) + 1);
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      const n = (this.streams.get(deviceId) ?? 1) - 1;
      if (n <= 0) this.streams.delete(deviceId);
      else this.streams.set(deviceId, n);
    };
  }

  /**
   * An authenticated request from the device. Written at most once a second per device
   * (last seen is shown to the second; a write per request would queue every read of a
   * burst behind the writer), and at once when the client's version or platform changed.
   */
  async touch(deviceId: string, userAgent: string | undefined, now = Date.now()): Promise<void> {
    const agent = parseClientAgent(userAgent);
    const key = agent ? `${agent.version}\u0000${agent.platform ?? ''}` : '';
    const prev = this.seen.get(deviceId);
    if (prev && prev.writtenAt > now - 1000 && prev.agent === key) return;
    this.seen.set(deviceId, { writtenAt: now, agent: key });
    const set: { last_seen_at: number; client_version?: string; platform?: string | null } = { last_seen_at: now };
    if (agent) {
      set.client_version = agent.version;
      set.platform = agent.platform;
    }
    await this.db.updateTable('devices').set(set).where('id', '=', deviceId).execute();
  }

  /** A successful /status or commit: the device and the server compared notes. */
  async synced(deviceId: string, now = Date.now()): Promise<void> {
    if ((this.syncedAt.get(deviceId) ?? 0) > now - 1000) return;
    this.syncedAt.set(deviceId, now);
    await this.db.updateTable('devices').set({ last_sync_at: now }).where('id', '=', deviceId).execute();
  }
}
