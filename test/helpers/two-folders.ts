// Two device folders side by side for the transfer tests that call the chunked upload and
// download directly: A's folder, B's folder with its `.synmac/tmp`, and each one's index
// (with its chunk index), all under `root`.
import fs from 'node:fs';
import path from 'node:path';
import { ChunkIndex } from '../../src/client/chunk-index.js';
import { IndexDb } from '../../src/client/index-db.js';

export interface TwoFolders {
  a: string;
  b: string;
  tmpB: string;
  idxA: IndexDb;
  idxB: IndexDb;
  chunksA: ChunkIndex;
  chunksB: ChunkIndex;
  close(): void;
}

export function twoFolders(root: string): TwoFolders {
  const a = path.join(root, 'a');
  const b = path.join(root, 'b');
  const tmpB = path.join(b, '.synmac', 'tmp');
  fs.mkdirSync(a, { recursive: true });
  fs.mkdirSync(tmpB, { recursive: true });
  const idxA = new IndexDb(path.join(root, 'a.sqlite'));
  const idxB = new IndexDb(path.join(root, 'b.sqlite'));
  return {
    a,
    b,
    tmpB,
    idxA,
    idxB,
    chunksA: new ChunkIndex(idxA),
    chunksB: new ChunkIndex(idxB),
    close() {
      idxA.close();
      idxB.close();
    },
  };
}
