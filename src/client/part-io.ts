// Positioned reads and writes that carry on after a short one: a download's .part and the
// local files whose chunks it reuses are read and written by offset, never by stream.
import type fs from 'node:fs';

export async function readAt(fh: fs.promises.FileHandle, length: number, position: number): Promise<Buffer> {
  return readInto(fh, Buffer.allocUnsafe(length), position);
}

/** Fills `buf` from `position` (a shorter buffer back at the end of the file). */
export async function readInto(fh: fs.promises.FileHandle, buf: Buffer, position: number): Promise<Buffer> {
  let off = 0;
  while (off < buf.length) {
    const { bytesRead } = await fh.read(buf, off, buf.length - off, position + off);
    if (bytesRead === 0) break;
    off += bytesRead;
  }
  return off === buf.length ? buf : buf.subarray(0, off);
}

export async function writeAt(fh: fs.promises.FileHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}

/** Writes `parts` one after the other from `position` (one writev; carries on after a short write). */
export async function writePartsAt(fh: fs.promises.FileHandle, parts: readonly Buffer[], position: number): Promise<void> {
  if (parts.length === 1) return writeAt(fh, parts[0], position);
  let todo = [...parts];
  let pos = position;
  while (todo.length) {
    let { bytesWritten } = await fh.writev(todo, pos);
    pos += bytesWritten;
    while (todo.length && bytesWritten >= todo[0].length) bytesWritten -= todo.shift()!.length;
    if (todo.length && bytesWritten > 0) todo[0] = todo[0].subarray(bytesWritten);
  }
}
