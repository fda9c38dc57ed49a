/**
 * `resizeBilinear`'s two passes as WebAssembly SIMD code (i32x4), compiled once per thread by
 * wabt (`prepareResizeSimd`) on a memory of its own. They compute exactly what the JS passes
 * compute: the same 22-bit fixed-point weights (`axisTaps`), the same sums in int32, the same
 * rounding and clamping (an arithmetic shift, then saturating narrows to 0..255), so the output
 * is identical sample for sample. Until the module is ready, or where it cannot build, the JS
 * passes run.
 *
 * Layout of one call in the module's memory: the horizontal taps (first index, then weights,
 * grey rows padded to whole groups of four taps), the vertical taps, the source, the rows of the
 * horizontal pass, the output; each region 16-byte aligned with 16 bytes of slack, because the
 * vector loops read up to 3 bytes past a source row (ignored lanes, or weight 0) and write whole
 * 4- or 16-byte vectors past a row's end (into the next row, written after, or the slack).
 */
import { createRequire } from 'node:module';

const HALF = 1 << 21;
const SHIFT = 22;

/** The clamp `clip8` does: (acc >> 22) saturated to 0..255, in lane 0-3 (i32x4 `acc`) as bytes. */
function narrow(acc: string, zero = '(v128.const i32x4 0 0 0 0)'): string {
  return `(i8x16.narrow_i16x8_u (i16x8.narrow_i32x4_s (i32x4.shr_s ${acc} (i32.const ${SHIFT})) ${zero}) ${zero})`;
}

/** `from` widened: 4 bytes at `at` as unsigned i32x4. */
function load4(at: string): string {
  return `(i32x4.extend_low_i16x8_u (i16x8.extend_low_i8x16_u (v128.load32_zero ${at})))`;
}

/** A counted loop: `body` while $var < `limit`, then $var += 1. */
function upTo(label: string, variable: string, limit: string, body: string): string {
  return `(local.set $${variable} (i32.const 0))
    (block $${label}Done (loop $${label}
      (br_if $${label}Done (i32.ge_u (local.get $${variable}) ${limit}))
      ${body}
      (local.set $${variable} (i32.add (local.get $${variable}) (i32.const 1)))
      (br $${label})))`;
}

const WAT = `(module
  (memory (export "memory") 1)

  ;; Horizontal pass, 2-4 channels: one output pixel is one i32x4 (its channels in lanes 0-3), each
  ;; tap adds a source pixel (4 bytes read, lanes past the channels ignored) times its weight.
  (func (export "horizontalPixels") (param $src i32) (param $srcRow i32) (param $rows i32) (param $ch i32)
      (param $first i32) (param $weights i32) (param $taps i32) (param $outWidth i32) (param $mid i32)
    (local $y i32) (local $x i32) (local $t i32) (local $at i32) (local $w i32) (local $o i32) (local $acc v128)
    (local.set $o (local.get $mid))
    ${upTo('rows', 'y', '(local.get $rows)', `
      (local.set $w (local.get $weights))
      ${upTo('pixels', 'x', '(local.get $outWidth)', `
        (local.set $at (i32.add (local.get $src)
          (i32.mul (i32.load (i32.add (local.get $first) (i32.shl (local.get $x) (i32.const 2)))) (local.get $ch))))
        (local.set $acc (v128.const i32x4 ${HALF} ${HALF} ${HALF} ${HALF}))
        ${upTo('taps', 't', '(local.get $taps)', `
          (local.set $acc (i32x4.add (local.get $acc) (i32x4.mul ${load4('(local.get $at)')} (i32x4.splat (i32.load (local.get $w))))))
          (local.set $at (i32.add (local.get $at) (local.get $ch)))
          (local.set $w (i32.add (local.get $w) (i32.const 4)))`)}
        (v128.store32_lane 0 (local.get $o) ${narrow('(local.get $acc)')})
        (local.set $o (i32.add (local.get $o) (local.get $ch)))`)}
      (local.set $src (i32.add (local.get $src) (local.get $srcRow)))`)})

  ;; Horizontal pass, grey: each output sample takes its taps four at a time (weights padded with
  ;; zeros to $groups * 4 per sample), lanes summed at the end.
  (func (export "horizontalGrey") (param $src i32) (param $srcRow i32) (param $rows i32)
      (param $first i32) (param $weights i32) (param $groups i32) (param $outWidth i32) (param $mid i32)
    (local $y i32) (local $x i32) (local $g i32) (local $at i32) (local $w i32) (local $o i32) (local $acc v128) (local $sum i32)
    (local.set $o (local.get $mid))
    ${upTo('rows', 'y', '(local.get $rows)', `
      (local.set $w (local.get $weights))
      ${upTo('samples', 'x', '(local.get $outWidth)', `
        (local.set $at (i32.add (local.get $src) (i32.load (i32.add (local.get $first) (i32.shl (local.get $x) (i32.const 2))))))
        (local.set $acc (v128.const i32x4 ${HALF} 0 0 0))
        ${upTo('groups', 'g', '(local.get $groups)', `
          (local.set $acc (i32x4.add (local.get $acc) (i32x4.mul ${load4('(local.get $at)')} (v128.load (local.get $w)))))
          (local.set $at (i32.add (local.get $at) (i32.const 4)))
          (local.set $w (i32.add (local.get $w) (i32.const 16)))`)}
        (local.set $sum (i32.shr_s (i32.add
          (i32.add (i32x4.extract_lane 0 (local.get $acc)) (i32x4.extract_lane 1 (local.get $acc)))
          (i32.add (i32x4.extract_lane 2 (local.get $acc)) (i32x4.extract_lane 3 (local.get $acc)))) (i32.const ${SHIFT})))
        (i32.store8 (local.get $o)
          (select (i32.const 0) (select (i32.const 255) (local.get $sum) (i32.gt_s (local.get $sum) (i32.const 255))) (i32.lt_s (local.get $sum) (i32.const 0))))
        (local.set $o (i32.add (local.get $o) (i32.const 1)))`)}
      (local.set $src (i32.add (local.get $src) (local.get $srcRow)))`)})

  ;; Vertical pass: 16 samples of an output row at a time, each tap adding 16 bytes of a row of
  ;; the horizontal pass times its weight. $first holds row indices into $mid.
  (func (export "vertical") (param $mid i32) (param $midRow i32) (param $first i32) (param $weights i32) (param $taps i32)
      (param $outHeight i32) (param $out i32)
    (local $y i32) (local $i i32) (local $t i32) (local $p i32) (local $w i32) (local $v v128) (local $k v128) (local $lo v128) (local $hi v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $r0 i32)
    ${upTo('rows', 'y', '(local.get $outHeight)', `
      (local.set $r0 (i32.add (local.get $mid) (i32.mul (i32.load (i32.add (local.get $first) (i32.shl (local.get $y) (i32.const 2)))) (local.get $midRow))))
      (local.set $i (i32.const 0))
      (block $samplesDone (loop $samples
        (br_if $samplesDone (i32.ge_u (local.get $i) (local.get $midRow)))
        (local.set $a0 (v128.const i32x4 ${HALF} ${HALF} ${HALF} ${HALF}))
        (local.set $a1 (local.get $a0))
        (local.set $a2 (local.get $a0))
        (local.set $a3 (local.get $a0))
        (local.set $p (i32.add (local.get $r0) (local.get $i)))
        (local.set $w (i32.add (local.get $weights) (i32.shl (i32.mul (local.get $y) (local.get $taps)) (i32.const 2))))
        ${upTo('taps', 't', '(local.get $taps)', `
          (local.set $v (v128.load (local.get $p)))
          (local.set $k (i32x4.splat (i32.load (local.get $w))))
          (local.set $lo (i16x8.extend_low_i8x16_u (local.get $v)))
          (local.set $hi (i16x8.extend_high_i8x16_u (local.get $v)))
          (local.set $a0 (i32x4.add (local.get $a0) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $lo)) (local.get $k))))
          (local.set $a1 (i32x4.add (local.get $a1) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $lo)) (local.get $k))))
          (local.set $a2 (i32x4.add (local.get $a2) (i32x4.mul (i32x4.extend_low_i16x8_u (local.get $hi)) (local.get $k))))
          (local.set $a3 (i32x4.add (local.get $a3) (i32x4.mul (i32x4.extend_high_i16x8_u (local.get $hi)) (local.get $k))))
          (local.set $p (i32.add (local.get $p) (local.get $midRow)))
          (local.set $w (i32.add (local.get $w) (i32.const 4)))`)}
        (v128.store (local.get $out) (i8x16.narrow_i16x8_u
          (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a0) (i32.const ${SHIFT})) (i32x4.shr_s (local.get $a1) (i32.const ${SHIFT})))
          (i16x8.narrow_i32x4_s (i32x4.shr_s (local.get $a2) (i32.const ${SHIFT})) (i32x4.shr_s (local.get $a3) (i32.const ${SHIFT})))))
        (local.set $out (i32.add (local.get $out) (i32.const 16)))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $samples)))
      ;; The row's last vector ran past its end: step back to where the next row starts.
      (local.set $out (i32.sub (local.get $out) (i32.sub (local.get $i) (local.get $midRow))))`)})
)`;

interface ResizeExports {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  horizontalPixels(src: number, srcRow: number, rows: number, ch: number, first: number, weights: number, taps: number, outWidth: number, mid: number): void;
  horizontalGrey(src: number, srcRow: number, rows: number, first: number, weights: number, groups: number, outWidth: number, mid: number): void;
  vertical(mid: number, midRow: number, first: number, weights: number, taps: number, outHeight: number, out: number): void;
}

interface WabtModule {
  parseWat(name: string, text: string, features: Record<string, boolean>): { toBinary(o: object): { buffer: Uint8Array }; destroy(): void };
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let kernels: ResizeExports | undefined;
let preparing: Promise<boolean> | undefined;
let failure: string | undefined;

/**
 * Builds this thread's resize kernels (once; later calls share the first). Resolves false, with
 * a warning on stderr, where they cannot build: resizing then stays on the JS passes.
 */
export function prepareResizeSimd(): Promise<boolean> {
  preparing ??= (async () => {
    try {
      const init = createRequire(import.meta.url)('wabt') as () => Promise<WabtModule>;
      const wabt = await init();
      const parsed = wabt.parseWat('durable-vision-resize.wat', WAT, { simd: true });
      try {
        const module = new Wasm.Module(parsed.toBinary({}).buffer);
        kernels = new Wasm.Instance(module, {}).exports as unknown as ResizeExports;
      } finally {
        parsed.destroy();
      }
      return true;
    } catch (err) {
      failure = `the SIMD resize did not build: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
      process.emitWarning(`${failure}; images are resized by the JS passes instead`, { code: 'DV_SIMD_RESIZE' });
      return false;
    }
  })();
  return preparing;
}

/** Why the SIMD resize is not in use, or undefined when it is (or is still being built). */
export function resizeSimdUnavailableReason(): string | undefined {
  return failure;
}

/** Whether `resizeSimd` can run on this thread now. */
export function resizeSimdReady(): boolean {
  return kernels !== undefined;
}

/** Taps along one axis, as `axisTaps` makes them. */
export interface Taps {
  first: Int32Array;
  taps: number;
  weights: Int32Array;
}

const align = (n: number): number => (n + 31) & ~15;

/**
 * Both passes of `resizeBilinear` in the SIMD module: source rows [rowFirst, rowEnd) of `src`
 * through the horizontal taps `h`, then the vertical taps `v` (whose `first` are absolute source
 * rows), into `out` at `offset`. False when the module is not ready (nothing written).
 */
export function resizeSimd(src: Uint8Array, width: number, channels: number, rowFirst: number, rowEnd: number, h: Taps, v: Taps, outWidth: number, outHeight: number, out: Uint8Array, offset: number): boolean {
  const k = kernels;
  if (k === undefined) return false;
  const grey = channels === 1;
  const groups = Math.ceil(h.taps / 4);
  const hWeights = grey ? outWidth * groups * 4 : h.weights.length;
  const srcRow = width * channels;
  const rows = rowEnd - rowFirst;
  const midRow = outWidth * channels;
  const outBytes = outHeight * midRow;
  // Regions: h.first, h.weights, v.first, v.weights, source rows, mid rows, output.
  const at: number[] = [0];
  for (const size of [4 * outWidth, 4 * hWeights, 4 * outHeight, 4 * v.weights.length, rows * srcRow, rows * midRow, outBytes]) {
    at.push((at[at.length - 1] as number) + align(size));
  }
  const [hFirstAt, hWeightsAt, vFirstAt, vWeightsAt, srcAt, midAt, outAt, end] = at as [number, number, number, number, number, number, number, number];
  const have = k.memory.buffer.byteLength;
  if (end > have) k.memory.grow(Math.ceil((end - have) / 65536));
  const buffer = k.memory.buffer;
  new Int32Array(buffer, hFirstAt, outWidth).set(h.first);
  const hw = new Int32Array(buffer, hWeightsAt, hWeights);
  if (grey) {
    hw.fill(0);
    for (let x = 0; x < outWidth; x++) hw.set(h.weights.subarray(x * h.taps, (x + 1) * h.taps), x * groups * 4);
  } else {
    hw.set(h.weights);
  }
  const vFirst = new Int32Array(buffer, vFirstAt, outHeight);
  for (let y = 0; y < outHeight; y++) vFirst[y] = (v.first[y] as number) - rowFirst;
  new Int32Array(buffer, vWeightsAt, v.weights.length).set(v.weights);
  new Uint8Array(buffer, srcAt, rows * srcRow).set(src.subarray(rowFirst * srcRow, rowEnd * srcRow));
  if (grey) k.horizontalGrey(srcAt, srcRow, rows, hFirstAt, hWeightsAt, groups, outWidth, midAt);
  else k.horizontalPixels(srcAt, srcRow, rows, channels, hFirstAt, hWeightsAt, h.taps, outWidth, midAt);
  k.vertical(midAt, midRow, vFirstAt, vWeightsAt, v.taps, outHeight, outAt);
  out.set(new Uint8Array(buffer, outAt, outBytes), offset);
  return true;
}
