/**
 * The JS decode paths' WebAssembly SIMD kernels, compiled once per thread by wabt
 * (`prepareImageSimd`) on a memory of their own:
 * - `resizeBilinear`'s two passes (i32x4). They compute exactly what the JS passes compute: the
 *   same 22-bit fixed-point weights (`axisTaps`), the same sums in int32, the same rounding and
 *   clamping (an arithmetic shift, then saturating narrows to 0..255), so the output is identical
 *   sample for sample.
 * - PNG unfiltering (`unfilterSimd`): Up 16 bytes at a time; Sub, Average and Paeth one RGB or
 *   RGBA pixel per i16x8 vector; other strides byte by byte. Identical bytes to `unfilterJs`.
 * Until the module is ready, or where it cannot build, the JS code runs.
 *
 * Layout of a resize in the module's memory: the horizontal taps (first index, then weights,
 * grey rows padded to whole groups of four taps), the vertical taps, the source, the rows of the
 * horizontal pass, the output; each region 16-byte aligned with 16 bytes of slack, because the
 * vector loops read up to 3 bytes past a source row (ignored lanes, or weight 0) and write whole
 * 4- or 16-byte vectors past a row's end (into the next row, written after, or the slack).
 * Unfiltering likewise: a zero row (the row above the first), the filtered rows, the output.
 */
import { compileWat, Wasm } from '../core/compile-wat.js';

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

/** 4 bytes at `at` as unsigned i16x8 lanes 0-3. */
function widen(at: string): string {
  return `(i16x8.extend_low_i8x16_u (v128.load32_zero ${at}))`;
}

/**
 * The Paeth predictor of $va (left), $vb (up), $vc (up-left) per i16 lane: a where
 * |b - c| <= |a - c| and |b - c| <= |a + b - 2c|, else b where |a - c| <= |a + b - 2c|, else c
 * (the PNG specification's order of ties).
 */
const paethVector = `(v128.bitselect (local.get $va) (v128.bitselect (local.get $vb) (local.get $vc)
    (i16x8.le_s (i16x8.abs (i16x8.sub (local.get $va) (local.get $vc))) (i16x8.abs (i16x8.sub (i16x8.add (local.get $va) (local.get $vb)) (i16x8.add (local.get $vc) (local.get $vc))))))
  (v128.and
    (i16x8.le_s (i16x8.abs (i16x8.sub (local.get $vb) (local.get $vc))) (i16x8.abs (i16x8.sub (local.get $va) (local.get $vc))))
    (i16x8.le_s (i16x8.abs (i16x8.sub (local.get $vb) (local.get $vc))) (i16x8.abs (i16x8.sub (i16x8.add (local.get $va) (local.get $vb)) (i16x8.add (local.get $vc) (local.get $vc)))))))`;

/** The same predictor on one byte: $a, $b, $c, with $pa, $pb, $pc as scratch. */
const paethScalar = `(block (result i32)
    (local.set $pa (i32.sub (local.get $b) (local.get $c)))
    (local.set $pa (select (local.get $pa) (i32.sub (i32.const 0) (local.get $pa)) (i32.ge_s (local.get $pa) (i32.const 0))))
    (local.set $pb (i32.sub (local.get $a) (local.get $c)))
    (local.set $pb (select (local.get $pb) (i32.sub (i32.const 0) (local.get $pb)) (i32.ge_s (local.get $pb) (i32.const 0))))
    (local.set $pc (i32.sub (i32.add (local.get $a) (local.get $b)) (i32.shl (local.get $c) (i32.const 1))))
    (local.set $pc (select (local.get $pc) (i32.sub (i32.const 0) (local.get $pc)) (i32.ge_s (local.get $pc) (i32.const 0))))
    (select (local.get $a) (select (local.get $b) (local.get $c) (i32.le_s (local.get $pb) (local.get $pc)))
      (i32.and (i32.le_s (local.get $pa) (local.get $pb)) (i32.le_s (local.get $pa) (local.get $pc)))))`;

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

  ;; PNG unfiltering: rows of 1 filter byte + $rowBytes at $raw into rows of $rowBytes at $out.
  ;; $zero points at $rowBytes zero bytes, the row "above" the first. Returns -1, or the index of
  ;; the first row whose filter type is not 0-4 (rows before it are done).
  (func (export "unfilter") (param $raw i32) (param $out i32) (param $height i32) (param $rowBytes i32) (param $bpp i32) (param $zero i32) (result i32)
    (local $y i32) (local $ri i32) (local $oi i32) (local $pi i32) (local $filter i32) (local $i i32)
    (local $a i32) (local $b i32) (local $c i32) (local $pa i32) (local $pb i32) (local $pc i32)
    (local $va v128) (local $vb v128) (local $vc v128) (local $vx v128)
    (local.set $ri (i32.add (local.get $raw) (i32.const 1)))
    (local.set $oi (local.get $out))
    (local.set $pi (local.get $zero))
    ${upTo('rows', 'y', '(local.get $height)', `
      (local.set $filter (i32.load8_u (i32.sub (local.get $ri) (i32.const 1))))
      (if (i32.gt_u (local.get $filter) (i32.const 4)) (then (return (local.get $y))))
      ;; The first bpp bytes have no left neighbour (a = c = 0): Sub and Paeth take b (0 on Sub), Avg b >> 1.
      ${upTo('first', 'i', '(local.get $bpp)', `
        (local.set $b (i32.load8_u (i32.add (local.get $pi) (local.get $i))))
        (local.set $a (i32.load8_u (i32.add (local.get $ri) (local.get $i))))
        (i32.store8 (i32.add (local.get $oi) (local.get $i)) (i32.add (local.get $a)
          (select (i32.const 0) (select (i32.shr_u (local.get $b) (i32.const 1)) (local.get $b) (i32.eq (local.get $filter) (i32.const 3)))
            (i32.or (i32.eqz (local.get $filter)) (i32.eq (local.get $filter) (i32.const 1))))))`)}
      (block $done
        (if (i32.eqz (local.get $filter)) (then (memory.copy (local.get $oi) (local.get $ri) (local.get $rowBytes)) (br $done)))
        (if (i32.eq (local.get $filter) (i32.const 2)) (then
          (local.set $i (i32.const 0))
          (block $upDone (loop $up
            (br_if $upDone (i32.ge_u (local.get $i) (local.get $rowBytes)))
            (v128.store (i32.add (local.get $oi) (local.get $i))
              (i8x16.add (v128.load (i32.add (local.get $ri) (local.get $i))) (v128.load (i32.add (local.get $pi) (local.get $i)))))
            (local.set $i (i32.add (local.get $i) (i32.const 16)))
            (br $up)))
          (br $done)))
        (if (i32.or (i32.eq (local.get $bpp) (i32.const 3)) (i32.eq (local.get $bpp) (i32.const 4))) (then
          ;; One pixel per step, its channels in i16 lanes 0-3 (lane 3 of RGB is ignored: its byte
          ;; is the next pixel's first, written again by the next step).
          (local.set $va ${widen('(local.get $oi)')})
          (local.set $vc ${widen('(local.get $pi)')})
          (local.set $i (local.get $bpp))
          (block $pixelsDone (loop $pixels
            (br_if $pixelsDone (i32.ge_u (local.get $i) (local.get $rowBytes)))
            (local.set $vb ${widen('(i32.add (local.get $pi) (local.get $i))')})
            (local.set $vx ${widen('(i32.add (local.get $ri) (local.get $i))')})
            (local.set $va (v128.and (v128.const i16x8 255 255 255 255 255 255 255 255) (i16x8.add (local.get $vx)
              (if (result v128) (i32.eq (local.get $filter) (i32.const 1))
                (then (local.get $va))
                (else (if (result v128) (i32.eq (local.get $filter) (i32.const 3))
                  (then (i16x8.shr_u (i16x8.add (local.get $va) (local.get $vb)) (i32.const 1)))
                  (else ${paethVector})))))))
            (v128.store32_lane 0 (i32.add (local.get $oi) (local.get $i)) (i8x16.narrow_i16x8_u (local.get $va) (local.get $va)))
            (local.set $vc (local.get $vb))
            (local.set $i (i32.add (local.get $i) (local.get $bpp)))
            (br $pixels)))
          (br $done)))
        (if (i32.eq (local.get $bpp) (i32.const 1)) (then
          ;; Grey: the left and upper-left bytes carried in locals from one step to the next.
          (local.set $a (i32.load8_u (local.get $oi)))
          (local.set $c (i32.load8_u (local.get $pi)))
          (local.set $i (i32.const 1))
          (block $greyDone (loop $grey
            (br_if $greyDone (i32.ge_u (local.get $i) (local.get $rowBytes)))
            (local.set $b (i32.load8_u (i32.add (local.get $pi) (local.get $i))))
            (local.set $a (i32.and (i32.const 255) (i32.add (i32.load8_u (i32.add (local.get $ri) (local.get $i)))
              (if (result i32) (i32.eq (local.get $filter) (i32.const 1))
                (then (local.get $a))
                (else (if (result i32) (i32.eq (local.get $filter) (i32.const 3))
                  (then (i32.shr_u (i32.add (local.get $a) (local.get $b)) (i32.const 1)))
                  (else ${paethScalar})))))))
            (i32.store8 (i32.add (local.get $oi) (local.get $i)) (local.get $a))
            (local.set $c (local.get $b))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br $grey)))
          (br $done)))
        ;; Other strides (grey+alpha, 16-bit): byte by byte.
        (local.set $i (local.get $bpp))
        (block $bytesDone (loop $bytes
          (br_if $bytesDone (i32.ge_u (local.get $i) (local.get $rowBytes)))
          (local.set $a (i32.load8_u (i32.add (local.get $oi) (i32.sub (local.get $i) (local.get $bpp)))))
          (local.set $b (i32.load8_u (i32.add (local.get $pi) (local.get $i))))
          (local.set $c (i32.load8_u (i32.add (local.get $pi) (i32.sub (local.get $i) (local.get $bpp)))))
          (i32.store8 (i32.add (local.get $oi) (local.get $i)) (i32.add (i32.load8_u (i32.add (local.get $ri) (local.get $i)))
            (if (result i32) (i32.eq (local.get $filter) (i32.const 1))
              (then (local.get $a))
              (else (if (result i32) (i32.eq (local.get $filter) (i32.const 3))
                (then (i32.shr_u (i32.add (local.get $a) (local.get $b)) (i32.const 1)))
                (else ${paethScalar}))))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $bytes))))
      (local.set $pi (local.get $oi))
      (local.set $ri (i32.add (local.get $ri) (i32.add (local.get $rowBytes) (i32.const 1))))
      (local.set $oi (i32.add (local.get $oi) (local.get $rowBytes)))`)}
    (i32.const -1))

  ;; Horizontal flip of $rows rows of $width RGB pixels, $src to $dst: four pixels per vector (the
  ;; 4 bytes after them rewritten by the next step), the rest one at a time.
  (func (export "hflip3") (param $src i32) (param $dst i32) (param $rows i32) (param $width i32)
    (local $y i32) (local $j i32) (local $row i32) (local $whole i32)
    (local.set $row (i32.mul (local.get $width) (i32.const 3)))
    (local.set $whole (i32.and (local.get $width) (i32.const -4)))
    ${upTo('rows', 'y', '(local.get $rows)', `
      (local.set $j (i32.const 0))
      (block $quadsDone (loop $quads
        (br_if $quadsDone (i32.ge_u (local.get $j) (local.get $whole)))
        (v128.store (i32.add (local.get $dst) (i32.mul (local.get $j) (i32.const 3)))
          (i8x16.swizzle (v128.load (i32.add (local.get $src) (i32.mul (i32.sub (i32.sub (local.get $width) (i32.const 4)) (local.get $j)) (i32.const 3))))
            (v128.const i8x16 9 10 11 6 7 8 3 4 5 0 1 2 12 13 14 15)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $quads)))
      (block $restDone (loop $rest
        (br_if $restDone (i32.ge_u (local.get $j) (local.get $width)))
        (i32.store16 (i32.add (local.get $dst) (i32.mul (local.get $j) (i32.const 3)))
          (i32.load16_u (i32.add (local.get $src) (i32.mul (i32.sub (i32.sub (local.get $width) (i32.const 1)) (local.get $j)) (i32.const 3)))))
        (i32.store8 (i32.add (local.get $dst) (i32.add (i32.mul (local.get $j) (i32.const 3)) (i32.const 2)))
          (i32.load8_u (i32.add (local.get $src) (i32.add (i32.mul (i32.sub (i32.sub (local.get $width) (i32.const 1)) (local.get $j)) (i32.const 3)) (i32.const 2)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $rest)))
      (local.set $src (i32.add (local.get $src) (local.get $row)))
      (local.set $dst (i32.add (local.get $dst) (local.get $row)))`)})

  ;; Horizontal flip of $rows rows of $width grey pixels, $src to $dst: 16 per vector, the rest one at a time.
  (func (export "hflip1") (param $src i32) (param $dst i32) (param $rows i32) (param $width i32)
    (local $y i32) (local $j i32) (local $whole i32)
    (local.set $whole (i32.and (local.get $width) (i32.const -16)))
    ${upTo('rows', 'y', '(local.get $rows)', `
      (local.set $j (i32.const 0))
      (block $vectorsDone (loop $vectors
        (br_if $vectorsDone (i32.ge_u (local.get $j) (local.get $whole)))
        (v128.store (i32.add (local.get $dst) (local.get $j))
          (i8x16.swizzle (v128.load (i32.add (local.get $src) (i32.sub (i32.sub (local.get $width) (i32.const 16)) (local.get $j))))
            (v128.const i8x16 15 14 13 12 11 10 9 8 7 6 5 4 3 2 1 0)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $vectors)))
      (block $restDone (loop $rest
        (br_if $restDone (i32.ge_u (local.get $j) (local.get $width)))
        (i32.store8 (i32.add (local.get $dst) (local.get $j))
          (i32.load8_u (i32.add (local.get $src) (i32.sub (i32.sub (local.get $width) (i32.const 1)) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $rest)))
      (local.set $src (i32.add (local.get $src) (local.get $width)))
      (local.set $dst (i32.add (local.get $dst) (local.get $width)))`)})
)`;

interface ImageKernels {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  horizontalPixels(src: number, srcRow: number, rows: number, ch: number, first: number, weights: number, taps: number, outWidth: number, mid: number): void;
  horizontalGrey(src: number, srcRow: number, rows: number, first: number, weights: number, groups: number, outWidth: number, mid: number): void;
  vertical(mid: number, midRow: number, first: number, weights: number, taps: number, outHeight: number, out: number): void;
  unfilter(raw: number, out: number, height: number, rowBytes: number, bpp: number, zero: number): number;
  hflip3(src: number, dst: number, rows: number, width: number): void;
  hflip1(src: number, dst: number, rows: number, width: number): void;
}

let kernels: ImageKernels | undefined;
let preparing: Promise<boolean> | undefined;
let failure: string | undefined;

/**
 * Builds this thread's image kernels (once; later calls return the first call's promise, so
 * callers may ask on every miss). Resolves false, with a warning on stderr, where they cannot
 * build: the JS loops then do the work.
 */
export function prepareImageSimd(): Promise<boolean> {
  preparing ??= (async () => {
    try {
      const module = await compileWat('durable-vision-image.wat', WAT, { simd: true, bulk_memory: true });
      kernels = new Wasm.Instance(module, {}).exports as unknown as ImageKernels;
      return true;
    } catch (err) {
      failure = `the image SIMD kernels did not build: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
      process.emitWarning(`${failure}; images are decoded, resized and flipped by the JS loops instead`, { code: 'DV_SIMD_IMAGE' });
      return false;
    }
  })();
  return preparing;
}

/** Why the image SIMD kernels are not in use, or undefined when they are (or are still being built). */
export function imageSimdUnavailableReason(): string | undefined {
  return failure;
}

/** Whether the image SIMD kernels can run on this thread now. */
export function imageSimdReady(): boolean {
  return kernels !== undefined;
}

/** Taps along one axis, as `axisTaps` makes them. */
export interface Taps {
  first: Int32Array;
  taps: number;
  weights: Int32Array;
}

const align = (n: number): number => (n + 31) & ~15;

/** Where regions of these byte sizes start when laid out one after another from 0 (`align`ed), then where the last ends. */
function layout(sizes: number[]): number[] {
  const at = [0];
  for (const size of sizes) at.push((at[at.length - 1] as number) + align(size));
  return at;
}

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
  const [hFirstAt, hWeightsAt, vFirstAt, vWeightsAt, srcAt, midAt, outAt, end] = layout([
    4 * outWidth, 4 * hWeights, 4 * outHeight, 4 * v.weights.length, rows * srcRow, rows * midRow, outBytes,
  ]) as [number, number, number, number, number, number, number, number];
  const buffer = memoryFor(k, end);
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

/** The module's memory grown to at least `end` bytes; its buffer (views made before a growth are detached). */
function memoryFor(k: ImageKernels, end: number): ArrayBuffer {
  const have = k.memory.buffer.byteLength;
  if (end > have) k.memory.grow(Math.ceil((end - have) / 65536));
  return k.memory.buffer;
}

/**
 * PNG unfiltering in the SIMD module: `height` rows of a filter byte and `rowBytes` bytes from
 * `raw` into rows of `rowBytes` in `out`, `bpp` the filter's pixel stride. Returns -1 when done,
 * the index of the first row with a filter type other than 0-4 (nothing usable written), or
 * undefined when the module is not ready (nothing written).
 */
export function unfilterSimd(raw: Uint8Array, out: Uint8Array, height: number, rowBytes: number, bpp: number): number | undefined {
  const k = kernels;
  if (k === undefined) return undefined;
  const rawBytes = height * (rowBytes + 1);
  const outBytes = height * rowBytes;
  const [zeroAt, rawAt, outAt, end] = layout([rowBytes, rawBytes, outBytes]) as [number, number, number, number];
  const buffer = memoryFor(k, end);
  new Uint8Array(buffer, zeroAt, rowBytes + 16).fill(0);
  new Uint8Array(buffer, rawAt, rawBytes).set(raw.subarray(0, rawBytes));
  const bad = k.unfilter(rawAt, outAt, height, rowBytes, bpp, zeroAt);
  if (bad < 0) out.set(new Uint8Array(buffer, outAt, outBytes));
  return bad;
}

/**
 * Mirrors `height` rows of `width` grey or RGB pixels at `offset` in `buf` left to right, in the
 * SIMD module (copied in, flipped, copied back). False when the module is not ready or the
 * pixels have another channel count (nothing written).
 */
export function hflipSimd(buf: Uint8Array, offset: number, height: number, width: number, channels: number): boolean {
  const k = kernels;
  if (k === undefined || (channels !== 1 && channels !== 3)) return false;
  const bytes = height * width * channels;
  const [srcAt, dstAt, end] = layout([bytes, bytes]) as [number, number, number];
  const buffer = memoryFor(k, end);
  new Uint8Array(buffer, srcAt, bytes).set(buf.subarray(offset, offset + bytes));
  if (channels === 3) k.hflip3(srcAt, dstAt, height, width);
  else k.hflip1(srcAt, dstAt, height, width);
  buf.set(new Uint8Array(buffer, dstAt, bytes), offset);
  return true;
}
