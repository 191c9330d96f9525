// The gear-hash inner loop of the chunker as a tiny WebAssembly function: the same
// arithmetic as the TypeScript loop in chunker.ts (fp = (fp << 1) + GEAR[byte] in 32 bits,
// stop after the first byte where fp & mask == 0), about 2–3× faster per byte in V8. The
// module is 118 bytes, written out below with its text form beside each instruction, so
// there is no toolchain and no binary file in the repository; the tests check that both
// loops cut every input identically.
//
// (module
//   (memory (export "mem") 17)            ;; GEAR at 0..1023, the data window at 1024..
//   (global $fp (export "fp") (mut i32) (i32.const 0))
//   (func (export "find") (param $p i32) (param $end i32) (param $fp i32) (param $mask i32) (result i32)
//     (block $out
//       (loop $next
//         (br_if $out (i32.ge_u (local.get $p) (local.get $end)))
//         (local.set $fp (i32.add (i32.shl (local.get $fp) (i32.const 1))
//                                 (i32.load (i32.shl (i32.load8_u (local.get $p)) (i32.const 2)))))
//         (local.set $p (i32.add (local.get $p) (i32.const 1)))
//         (br_if $out (i32.eqz (i32.and (local.get $fp) (local.get $mask))))
//         (br $next)))
//     (global.set $fp (local.get $fp))
//     (local.get $p)))
import { GEAR } from './gear-table.js';

/** Where the data window starts in the module's memory, and how big it is. */
export const WASM_BASE = 1024;
export const WASM_WINDOW = 1 << 20;
const PAGES = Math.ceil((WASM_BASE + WASM_WINDOW) / 65536);

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

const name = (s: string) => [s.length, ...Buffer.from(s, 'latin1')];
const I32 = 0x7f;

const CODE = [
  0x00, // no locals beyond the parameters
  0x02, 0x40, //   block $out
  0x03, 0x40, //     loop $next
  0x20, 0x00, 0x20, 0x01, 0x4f, 0x0d, 0x01, // br_if $out (p >= end)
  0x20, 0x02, 0x41, 0x01, 0x74, //   fp << 1
  0x20, 0x00, 0x2d, 0x00, 0x00, //   i32.load8_u [p]
  0x41, 0x02, 0x74, 0x28, 0x02, 0x00, //   i32.load [byte << 2]  (GEAR[byte])
  0x6a, 0x21, 0x02, //   fp = (fp << 1) + GEAR[byte]
  0x20, 0x00, 0x41, 0x01, 0x6a, 0x21, 0x00, // p = p + 1
  0x20, 0x02, 0x20, 0x03, 0x71, 0x45, 0x0d, 0x01, // br_if $out ((fp & mask) == 0)
  0x0c, 0x00, //       br $next
  0x0b, //     end loop
  0x0b, //   end block
  0x20, 0x02, 0x24, 0x00, // global.set $fp
  0x20, 0x00, // p
  0x0b, // end
];

export const GEAR_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [0x01, 0x60, 0x04, I32, I32, I32, I32, 0x01, I32]), // type: (i32 i32 i32 i32) -> i32
  ...section(3, [0x01, 0x00]), // one function of type 0
  ...section(5, [0x01, 0x00, ...uleb(PAGES)]), // one memory, PAGES pages, no maximum
  ...section(6, [0x01, I32, 0x01, 0x41, 0x00, 0x0b]), // global $fp: mut i32 = 0
  ...section(7, [0x03, ...name('mem'), 0x02, 0x00, ...name('find'), 0x00, 0x00, ...name('fp'), 0x03, 0x00]),
  ...section(10, [0x01, ...uleb(CODE.length), ...CODE]),
]);

export interface GearWasm {
  /** the module's memory as bytes: copy a window of data to WASM_BASE before `find` */
  mem: Uint8Array;
  /** scans [p, end) of memory; returns the position after the first matching byte, or end */
  find(p: number, end: number, fp: number, mask: number): number;
  /** the hash after the last `find` */
  fp(): number;
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}

let instance: GearWasm | null | undefined;

/** The WebAssembly loop, or null where WebAssembly is unavailable (the TypeScript loop is used). */
export function gearWasm(): GearWasm | null {
  if (instance !== undefined) return instance;
  try {
    // Typed by hand: this project's type libraries do not declare the WebAssembly global.
    const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    const inst = new WA.Instance(new WA.Module(GEAR_WASM), {});
    const ex = inst.exports as { mem: { buffer: ArrayBuffer }; find: GearWasm['find']; fp: { value: number } };
    const mem = new Uint8Array(ex.mem.buffer);
    const dv = new DataView(ex.mem.buffer);
    for (let i = 0; i < 256; i++) dv.setInt32(i * 4, GEAR[i], true);
    instance = { mem, find: ex.find, fp: () => ex.fp.value };
  } catch {
    instance = null;
  }
  return instance;
}
