// Push: every commit announces the new cursor; /api/v1/events streams those to devices
// as Server-Sent Events. Devices then pull /changes?since= — the event carries no data
// that could be missed, only "there is something past N".
import { EventEmitter } from 'node:events';

export class ChangeEvents {
  private readonly emitter = new EventEmitter();
  private latest = 0;

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish(cursor: number): void {
    if (cursor <= this.latest) return;
    this.latest = cursor;
    this.emitter.emit('changed', cursor);
  }

  subscribe(fn: (cursor: number) => void): () => void {
    this.emitter.on('changed', fn);
    return () => this.emitter.off('changed', fn);
  }

  /** Revocation: every open stream of that device is told to close. */
  disconnect(deviceId: string): void {
    this.emitter.emit(`disconnect:${deviceId}`);
  }

  onDisconnect(deviceId: string, fn: () => void): () => void {
    this.emitter.once(`disconnect:${deviceId}`, fn);
    return () => this.emitter.off(`disconnect:${deviceId}`, fn);
  }
}
