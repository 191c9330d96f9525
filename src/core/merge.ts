// Three-way merge of text files, line by line: when two devices edited the same text file
// and their edits touch different lines, the device that syncs second merges them against
// the base both started from, instead of making a conflict copy. Pure: bytes in, bytes out.
//
// What it promises (test/unit/merge.property.test.ts checks each):
// - a line changed (edited, added or removed) by one side only is in the merge as that
//   side left it, and a line neither side touched stays;
// - changes of both sides that touch the same lines, or meet with no untouched line
//   between them, are never merged: the answer is a conflict (the caller keeps both
//   versions as today, with a conflict copy);
// - merge(o, a, o) = a, merge(o, o, b) = b, merge(o, a, a) = a, byte for byte.
//
// Lines keep their own endings: a line is compared and copied together with its "\n",
// "\r\n" or "\r", so a CRLF file stays CRLF and a file with mixed endings keeps each one.
// (An editor that rewrites every ending changes every line: that edit merges with nothing
// and gives a conflict copy, which is the safe answer.) Whether the file ends with a
// newline is merged on its own, as one more thing a side may change, so a final newline
// added or removed by one side is neither lost nor doubled.
import { diff3Merge } from 'node-diff3';

/** The extensions merged by default (lower case, no dot): prose and plain-text formats. */
export const DEFAULT_MERGE_EXTENSIONS: readonly string[] = [
  'md',
  'markdown',
  'txt',
  'text',
  'org',
  'rst',
  'adoc',
  'tex',
  'csv',
  'tsv',
];

/** Above this (any of the three versions), a file is not merged: 1 MiB. */
export const DEFAULT_MERGE_MAX_BYTES = 1024 * 1024;

export interface MergeSettings {
  /** file extensions to merge, without the dot, compared case-insensitively; empty = never merge */
  extensions: readonly string[];
  /** the largest version (in bytes) that is merged */
  maxBytes: number;
}

export const DEFAULT_MERGE_SETTINGS: MergeSettings = { extensions: DEFAULT_MERGE_EXTENSIONS, maxBytes: DEFAULT_MERGE_MAX_BYTES };

/** `.MD`, `md` and `Md` all mean the same extension. */
export function normalizeExtension(ext: string): string {
  return ext.trim().replace(/^\.+/, '').toLowerCase();
}

/**
 * Whether a path is one this device merges, by its name alone: its extension is in the
 * list. A name without an extension (`README`) or a dot file (`.bashrc`) has none.
 */
export function isMergeablePath(path: string, settings: MergeSettings): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot <= 0 || dot === name.length - 1) return false;
  const ext = name.slice(dot + 1).toLowerCase();
  return settings.extensions.some((e) => normalizeExtension(e) === ext);
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** The text of `bytes` when they are valid UTF-8 without a NUL; null for anything else (binary). */
export function decodeText(bytes: Uint8Array): string | null {
  if (bytes.includes(0)) return null;
  try {
    // ignoreBOM: a byte-order mark stays part of the first line, so it survives the merge.
    return decoder.decode(bytes);
  } catch {
    return null;
  }
}

export type TextMerge =
  | { result: 'merged'; text: string }
  /** overlapping changes: how many places the two sides clash */
  | { result: 'conflict'; conflicts: number };

export type BytesMerge =
  | { result: 'merged'; bytes: Uint8Array }
  | { result: 'conflict'; conflicts: number }
  /** not merged at all: too large, or not text */
  | { result: 'not_text'; reason: string };

/** Each line with its own ending; the last line may have none. */
export function splitLines(text: string): string[] {
  return text.match(/[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+$/g) ?? [];
}

const endsWithNewline = (text: string) => text === '' || /[\r\n]$/.test(text);

/** The last line break in `text` (a file's own kind), or null when it has none. */
function lastBreak(text: string): string | null {
  const m = /(\r\n|\n|\r)[^\r\n]*$/.exec(text);
  return m ? m[1] : null;
}

/**
 * The lines to compare: every line ends with a line break, the last one too, so a missing
 * final newline does not make the last line a different line from the same line followed
 * by more. The break it gets is the text's own last one (else another version's), so a CRLF file
 * that gains a line after an unterminated last line only gains that line.
 */
function comparableLines(text: string, fallbackBreak: string): string[] {
  const lines = splitLines(text);
  if (!endsWithNewline(text)) lines[lines.length - 1] += lastBreak(text) ?? fallbackBreak;
  return lines;
}

interface Anchor {
  o: number;
  a: number;
  b: number;
}

/** Positions of each line that occurs exactly once in `lines`. */
function uniquePositions(lines: string[]): Map<string, number> {
  const seen = new Map<string, number>();
  for (let i = 0; i < lines.length; i++) seen.set(lines[i], seen.has(lines[i]) ? -1 : i);
  return seen;
}

/** The longest subsequence of `items` whose `key` strictly increases (patience sorting). */
function longestIncreasing<T>(items: T[], key: (t: T) => number): T[] {
  const tails: number[] = []; // index into items of the smallest tail of each length
  const prev = new Array<number>(items.length);
  for (let i = 0; i < items.length; i++) {
    const k = key(items[i]);
    let lo = 0;
    let hi = tails.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (key(items[tails[mid]]) < k) lo = mid + 1;
      else hi = mid;
    }
    prev[i] = lo > 0 ? tails[lo - 1] : -1;
    tails[lo] = i;
  }
  const out: T[] = [];
  for (let i = tails.length ? tails[tails.length - 1] : -1; i >= 0; i = prev[i]) out.push(items[i]);
  return out.reverse();
}

/**
 * Lines unique in each of the three versions, in increasing order in all three (as in
 * patience diff): each is a line neither side changed, where the merge can be cut.
 */
function anchors(o: string[], a: string[], b: string[]): Anchor[] {
  const [uo, ua, ub] = [o, a, b].map(uniquePositions);
  const candidates: Anchor[] = [];
  for (let i = 0; i < o.length; i++) {
    if (uo.get(o[i]) !== i) continue;
    const ai = ua.get(o[i]) ?? -1;
    const bi = ub.get(o[i]) ?? -1;
    if (ai >= 0 && bi >= 0) candidates.push({ o: i, a: ai, b: bi });
  }
  return longestIncreasing(longestIncreasing(candidates, (c) => c.a), (c) => c.b);
}

/** Three-way merge of `ours` and `theirs`, both edited from `base`. */
export function mergeText(base: string, ours: string, theirs: string): TextMerge {
  // A version without any line break takes the kind the others use (when the two sides
  // disagree, plain "\n": the answer must not depend on which side is ours).
  const [ob, ab, bb] = [lastBreak(base), lastBreak(ours), lastBreak(theirs)];
  const fallback = ob ?? (ab === null ? bb : bb === null || bb === ab ? ab : null) ?? '\n';
  const [o, a, b] = [base, ours, theirs].map((t) => comparableLines(t, fallback));
  // diff3's LCS costs O(lines²) on similar files (an 18k-line file: seconds). Lines that
  // occur once in each version, in the same order in all three, are lines neither side
  // touched: cut there, and diff3 only runs on the pieces between them. A change on one
  // side of such a line and a change on the other are separated by an untouched line, so
  // cutting never hides a clash (test/unit/merge.property.test.ts holds it to the oracle).
  const lines: string[] = [];
  let conflicts = 0;
  let from = { o: 0, a: 0, b: 0 };
  for (const cut of [...anchors(o, a, b), { o: o.length, a: a.length, b: b.length }]) {
    // Between two neighbouring anchors there is mostly nothing at all: skip the call.
    if (cut.o > from.o || cut.a > from.a || cut.b > from.b) {
      const regions = diff3Merge(a.slice(from.a, cut.a), o.slice(from.o, cut.o), b.slice(from.b, cut.b), { excludeFalseConflicts: true });
      for (const r of regions) {
        if (r.conflict) conflicts++;
        else if (r.ok) lines.push(...r.ok);
      }
    }
    if (cut.o < o.length) lines.push(o[cut.o]);
    from = { o: cut.o + 1, a: cut.a + 1, b: cut.b + 1 };
  }
  if (conflicts > 0) return { result: 'conflict', conflicts };
  // The final newline is one more thing a side may have changed: the side that changed
  // it wins (both can only have changed it the same way: it is a yes or a no).
  const finalNewline = endsWithNewline(ours) !== endsWithNewline(base) ? endsWithNewline(ours) : endsWithNewline(theirs);
  let text = lines.join('');
  if (!finalNewline) text = text.replace(/(?:\r\n|\n|\r)$/, '');
  return { result: 'merged', text };
}

/**
 * The merge of three versions of a file as bytes. Anything that is not text (not valid
 * UTF-8, or holding a NUL) or larger than `maxBytes` is `not_text`: the caller keeps both
 * versions with a conflict copy, as for any other file.
 */
export function mergeBytes(base: Uint8Array, ours: Uint8Array, theirs: Uint8Array, maxBytes: number = DEFAULT_MERGE_MAX_BYTES): BytesMerge {
  const largest = Math.max(base.length, ours.length, theirs.length);
  if (largest > maxBytes) return { result: 'not_text', reason: `larger than ${maxBytes} bytes` };
  const texts = [base, ours, theirs].map(decodeText);
  if (texts.some((t) => t === null)) return { result: 'not_text', reason: 'not UTF-8 text' };
  const [o, a, b] = texts as string[];
  const m = mergeText(o, a, b);
  if (m.result === 'conflict') return m;
  return { result: 'merged', bytes: encoder.encode(m.text) };
}
