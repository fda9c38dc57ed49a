/**
 * The text of this project's WebAssembly SIMD kernels (f32x4), compiled at run time by
 * `simd-kernels.ts` and instantiated on the tfjs wasm backend's own memory, so they read and
 * write tensors where they lie. Every pointer is a byte offset into that memory; counts are in
 * elements. Each function processes whole vectors of four floats: callers pass counts that are
 * multiples of four (channel counts, or an element count rounded down, the tail done in JS).
 *
 * Each kernel computes exactly what the JS loop it replaces computed, as float32 operations
 * (wasm's f32x4 arithmetic rounds like Math.fround; min and max propagate NaN as the JS
 * comparisons did), except where a doc comment says otherwise.
 */

/** Lanes 0-1 of a float32x4 expression as float64x2. */
function lo(e: string): string {
  return `(f64x2.promote_low_f32x4 ${e})`;
}

/** Lanes 2-3 of a float32x4 expression as float64x2. */
function hi(e: string): string {
  return `(f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 ${e} ${e}))`;
}

/** acc (float64x2 at byte address \`at\`) += value. */
function accumulate(at: string, value: string): string {
  return `(v128.store ${at} (f64x2.add (v128.load ${at}) ${value}))`;
}

/** The sums of one half (lanes 0-1 or 2-3) of four rows, as batchNormGradRows adds them. */
function fourRowSums(half: (e: string) => string, m: string): { dy: string; dyXm: string } {
  const g = [0, 1, 2, 3].map((i) => half(`(local.get $g${i})`));
  const xm = [0, 1, 2, 3].map((i) => `(f64x2.sub ${half(`(local.get $x${i})`)} ${m})`);
  const t = (i: number): string => `(f64x2.mul ${g[i]} ${xm[i]})`;
  return {
    dy: `(f64x2.add (f64x2.add ${g[0]} ${g[1]}) (f64x2.add ${g[2]} ${g[3]}))`,
    dyXm: `(f64x2.add (f64x2.add ${t(0)} ${t(1)}) (f64x2.add ${t(2)} ${t(3)}))`,
  };
}


/** Pointer updates: each of `pointers` steps on by `bytes`. */
function stepPointers(pointers: string[], bytes: string): string {
  return pointers.map((p) => `(local.set $${p} (i32.add (local.get $${p}) ${bytes}))`).join('\n      ');
}

/** `body` for each 4 channels of a row, $j their byte offset in it. Expects locals $j, $cBytes. */
function eachChannelVector(label: string, body: string): string {
  return `(local.set $j (i32.const 0))
      (block $${label}Done (loop $${label}
        (br_if $${label}Done (i32.ge_u (local.get $j) (local.get $cBytes)))
        ${body}
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $${label})))`;
}

/**
 * From row $r on, one row of c floats at a time until $rows: `body` for each 4 channels, then
 * `pointers` step on by a row. Expects locals $r (its start), $j, $cBytes (c * 4), param $rows.
 */
function eachRow(pointers: string[], body: string): string {
  return `
    (block $onesDone (loop $ones
      (br_if $onesDone (i32.ge_u (local.get $r) (local.get $rows)))
      ${eachChannelVector('channels1', body)}
      ${stepPointers(pointers, '(local.get $cBytes)')}
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $ones)))`;
}

/**
 * The loop the row reductions share: four rows at a time (`four`, for each 4 channels), then
 * the rest one at a time (`one`, by `eachRow`); `pointers` step on by the rows done.
 */
function fourRowsThenOnes(pointers: string[], four: string, one: string): string {
  return `
    (block $foursDone (loop $fours
      (br_if $foursDone (i32.gt_u (i32.add (local.get $r) (i32.const 4)) (local.get $rows)))
      ${eachChannelVector('channels4', four)}
      ${stepPointers(pointers, '(i32.shl (local.get $cBytes) (i32.const 2))')}
      (local.set $r (i32.add (local.get $r) (i32.const 4)))
      (br $fours)))${eachRow(pointers, one)}`;
}

/** Loads of the same 4 channels from four consecutive rows at $p into $x0..$x3 (or $g0..$g3). */
function loadFourRows(name: string, p: string): string {
  const at = ['(local.get $P)', '(i32.add (local.get $P) (local.get $cBytes))', '(i32.add (local.get $P) (i32.shl (local.get $cBytes) (i32.const 1)))', '(i32.add (local.get $P) (i32.mul (local.get $cBytes) (i32.const 3)))'];
  return at.map((a, i) => `(local.set $${name}${i} (v128.load ${a.replaceAll('$P', `$${p}`)}))`).join('\n        ');
}

/** sq (float64x2 pairs at $sp) += each of \`vectors\` squared in float64, one after another. */
function squaresInOrder(vectors: string[]): string {
  const add = (half: (e: string) => string, at: string): string => {
    const sum = vectors.reduce((acc, v) => `(f64x2.add ${acc} (f64x2.mul ${half(`(local.get $${v})`)} ${half(`(local.get $${v})`)}))`, `(v128.load ${at})`);
    return `(v128.store ${at} ${sum})`;
  };
  return `${add(lo, '(local.get $sp)')}
        ${add(hi, '(i32.add (local.get $sp) (i32.const 16))')}`;
}

/**
 * acc[j] (float64) += the sum over \`rows\` rows of c floats from x, four rows at a time as
 * acc + ((x0 + x1) + (x2 + x3)) in float64, then one row at a time. With `squares` the same pass
 * also adds x * x to sq[j] (float64), row after row.
 */
function rowSumsPass(name: string, squares: boolean): string {
  const sqParam = squares ? ' (param $sq i32)' : '';
  const setSp = squares ? `
        (local.set $sp (i32.add (local.get $sq) (i32.shl (local.get $j) (i32.const 1))))` : '';
  return `
  (func (export "${name}") (param $x i32) (param $acc i32)${sqParam} (param $rows i32) (param $c i32)
    (local $cBytes i32) (local $j i32) (local $p i32) (local $ap i32) (local $sp i32) (local $r i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local.set $cBytes (i32.shl (local.get $c) (i32.const 2)))
    ${fourRowsThenOnes(['x'], `(local.set $p (i32.add (local.get $x) (local.get $j)))
        (local.set $ap (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 1))))${setSp}
        ${loadFourRows('x', 'p')}
        ${accumulate('(local.get $ap)', `(f64x2.add (f64x2.add ${lo('(local.get $x0)')} ${lo('(local.get $x1)')}) (f64x2.add ${lo('(local.get $x2)')} ${lo('(local.get $x3)')}))`)}
        ${accumulate('(i32.add (local.get $ap) (i32.const 16))', `(f64x2.add (f64x2.add ${hi('(local.get $x0)')} ${hi('(local.get $x1)')}) (f64x2.add ${hi('(local.get $x2)')} ${hi('(local.get $x3)')}))`)}
        ${squares ? squaresInOrder(['x0', 'x1', 'x2', 'x3']) : ''}`,
    `(local.set $x0 (v128.load (i32.add (local.get $x) (local.get $j))))
        (local.set $ap (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 1))))${setSp}
        ${accumulate('(local.get $ap)', lo('(local.get $x0)'))}
        ${accumulate('(i32.add (local.get $ap) (i32.const 16))', hi('(local.get $x0)'))}
        ${squares ? squaresInOrder(['x0']) : ''}`)})`;
}

const LOW = fourRowSums(lo, '(local.get $mLo)');
const HIGH = fourRowSums(hi, '(local.get $mHi)');

const HARD_ACTIVATIONS = `
  ;; y = x * clamp(x + 3, 0, 6) / 6
  (func (export "hardSwish") (param $x i32) (param $y i32) (param $n i32)
    (local $end i32) (local $v v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $v (v128.load (local.get $x)))
      (v128.store (local.get $y)
        (f32x4.mul (local.get $v)
          (f32x4.div
            (f32x4.min (f32x4.max (f32x4.add (local.get $v) (v128.const f32x4 3 3 3 3)) (v128.const f32x4 0 0 0 0)) (v128.const f32x4 6 6 6 6))
            (v128.const f32x4 6 6 6 6))))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $y (i32.add (local.get $y) (i32.const 16)))
      (br $next))))

  ;; y = clamp(x + 3, 0, 6) / 6
  (func (export "hardSigmoid") (param $x i32) (param $y i32) (param $n i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (v128.store (local.get $y)
        (f32x4.div
          (f32x4.min (f32x4.max (f32x4.add (v128.load (local.get $x)) (v128.const f32x4 3 3 3 3)) (v128.const f32x4 0 0 0 0)) (v128.const f32x4 6 6 6 6))
          (v128.const f32x4 6 6 6 6)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $y (i32.add (local.get $y) (i32.const 16)))
      (br $next))))

  ;; u = x + 3: dx = 0 where u <= 0, dy where u > 6, else dy * (u / 6) + (dy * x) / 6
  (func (export "hardSwishGrad") (param $dy i32) (param $x i32) (param $dx i32) (param $n i32)
    (local $end i32) (local $v v128) (local $g v128) (local $u v128) (local $mid v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $v (v128.load (local.get $x)))
      (local.set $g (v128.load (local.get $dy)))
      (local.set $u (f32x4.add (local.get $v) (v128.const f32x4 3 3 3 3)))
      (local.set $mid
        (f32x4.add
          (f32x4.mul (local.get $g) (f32x4.div (local.get $u) (v128.const f32x4 6 6 6 6)))
          (f32x4.div (f32x4.mul (local.get $g) (local.get $v)) (v128.const f32x4 6 6 6 6))))
      (v128.store (local.get $dx)
        (v128.andnot
          (v128.bitselect (local.get $g) (local.get $mid) (f32x4.gt (local.get $u) (v128.const f32x4 6 6 6 6)))
          (f32x4.le (local.get $u) (v128.const f32x4 0 0 0 0))))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
      (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
      (br $next))))

  ;; u = x + 3: dx = dy / 6 where 0 < u <= 6, else 0
  (func (export "hardSigmoidGrad") (param $dy i32) (param $x i32) (param $dx i32) (param $n i32)
    (local $end i32) (local $u v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $u (f32x4.add (v128.load (local.get $x)) (v128.const f32x4 3 3 3 3)))
      (v128.store (local.get $dx)
        (v128.and
          (f32x4.div (v128.load (local.get $dy)) (v128.const f32x4 6 6 6 6))
          (v128.and (f32x4.gt (local.get $u) (v128.const f32x4 0 0 0 0)) (f32x4.le (local.get $u) (v128.const f32x4 6 6 6 6)))))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
      (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
      (br $next))))
`;

const MAX_POOL_GRAD = `
  ;; One output row of a 2x2/stride-2 max pool's gradient: for each of outWidth windows starting
  ;; at x00 (the next one 2 * c floats on; the row below rowBytes on), dy goes to the window's
  ;; first maximum per channel (a wins ties over b, b over c, c over d; NaN compares false, so a
  ;; window with one goes to d), 0 to the other three. dx has x's layout (dx00 matches x00).
  (func (export "maxPoolGrad2x2Row") (param $x00 i32) (param $rowBytes i32) (param $dy i32) (param $dx00 i32) (param $outWidth i32) (param $c i32)
    (local $cBytes i32) (local $ow i32) (local $k i32) (local $xp i32) (local $dp i32)
    (local $a v128) (local $b v128) (local $cc v128) (local $d v128) (local $g v128)
    (local $isA v128) (local $isB v128) (local $isC v128) (local $taken v128)
    (local.set $cBytes (i32.shl (local.get $c) (i32.const 2)))
    (block $rowDone (loop $window
      (br_if $rowDone (i32.ge_u (local.get $ow) (local.get $outWidth)))
      (local.set $k (i32.const 0))
      (block $windowDone (loop $channels
        (br_if $windowDone (i32.ge_u (local.get $k) (local.get $cBytes)))
        (local.set $xp (i32.add (local.get $x00) (local.get $k)))
        (local.set $dp (i32.add (local.get $dx00) (local.get $k)))
        (local.set $a (v128.load (local.get $xp)))
        (local.set $b (v128.load (i32.add (local.get $xp) (local.get $cBytes))))
        (local.set $cc (v128.load (i32.add (local.get $xp) (local.get $rowBytes))))
        (local.set $d (v128.load (i32.add (i32.add (local.get $xp) (local.get $rowBytes)) (local.get $cBytes))))
        (local.set $g (v128.load (i32.add (local.get $dy) (local.get $k))))
        (local.set $isA (v128.and (v128.and (f32x4.ge (local.get $a) (local.get $b)) (f32x4.ge (local.get $a) (local.get $cc))) (f32x4.ge (local.get $a) (local.get $d))))
        (local.set $isB (v128.andnot (v128.and (f32x4.ge (local.get $b) (local.get $cc)) (f32x4.ge (local.get $b) (local.get $d))) (local.get $isA)))
        (local.set $taken (v128.or (local.get $isA) (local.get $isB)))
        (local.set $isC (v128.andnot (f32x4.ge (local.get $cc) (local.get $d)) (local.get $taken)))
        (v128.store (local.get $dp) (v128.and (local.get $g) (local.get $isA)))
        (v128.store (i32.add (local.get $dp) (local.get $cBytes)) (v128.and (local.get $g) (local.get $isB)))
        (v128.store (i32.add (local.get $dp) (local.get $rowBytes)) (v128.and (local.get $g) (local.get $isC)))
        (v128.store (i32.add (i32.add (local.get $dp) (local.get $rowBytes)) (local.get $cBytes))
          (v128.andnot (local.get $g) (v128.or (local.get $taken) (local.get $isC))))
        (local.set $k (i32.add (local.get $k) (i32.const 16)))
        (br $channels)))
      (local.set $x00 (i32.add (local.get $x00) (i32.shl (local.get $cBytes) (i32.const 1))))
      (local.set $dx00 (i32.add (local.get $dx00) (i32.shl (local.get $cBytes) (i32.const 1))))
      (local.set $dy (i32.add (local.get $dy) (local.get $cBytes)))
      (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
      (br $window))))
`;

const PER_CHANNEL = `
  ;; y[r, j] = x[r, j] * a[j] + b[j] over rows of c channels (two roundings: a multiply, then an
  ;; add, as the backend's own kernel does).
  (func (export "affineRows") (param $x i32) (param $y i32) (param $a i32) (param $b i32) (param $rows i32) (param $c i32)
    (local $cBytes i32) (local $j i32) (local $r i32)
    (local.set $cBytes (i32.shl (local.get $c) (i32.const 2)))
    ${eachRow(['x', 'y'], `(v128.store (i32.add (local.get $y) (local.get $j))
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $j))) (v128.load (i32.add (local.get $a) (local.get $j))))
            (v128.load (i32.add (local.get $b) (local.get $j)))))`)})

${rowSumsPass('sumRowsInto', false)}
${rowSumsPass('sumAndSquaresInto', true)}

  ;; out[j] = float32(acc[j] * scale) for c channels.
  (func (export "storeScaled") (param $acc i32) (param $out i32) (param $c i32) (param $scale f64)
    (local $end i32) (local $s v128)
    (local.set $s (f64x2.splat (local.get $scale)))
    (local.set $end (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $out) (local.get $end)))
      (v128.store (local.get $out)
        (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
          (f32x4.demote_f64x2_zero (f64x2.mul (v128.load (local.get $acc)) (local.get $s)))
          (f32x4.demote_f64x2_zero (f64x2.mul (v128.load (i32.add (local.get $acc) (i32.const 16))) (local.get $s)))))
      (local.set $acc (i32.add (local.get $acc) (i32.const 32)))
      (local.set $out (i32.add (local.get $out) (i32.const 16)))
      (br $next))))
`;

/**
 * A batch-norm gradient's sums over rows of c channels, in float64: accDy[j] += dy,
 * accXm[j] += dy * (x - m[j]); four rows at a time as acc + ((a0 + a1) + (a2 + a3)), then one
 * row at a time. With `writeDx` the same pass also writes dx = dy * k[j] (float32).
 */
function batchNormGradPass(name: string, writeDx: boolean): string {
  const dxParams = writeDx ? '(param $dx i32) ' : '';
  const kParam = writeDx ? ' (param $k i32)' : '';
  const stores4 = writeDx ? `
        (local.set $o (i32.add (local.get $dx) (local.get $j)))
        (local.set $kv (v128.load (i32.add (local.get $k) (local.get $j))))
        (v128.store (local.get $o) (f32x4.mul (local.get $g0) (local.get $kv)))
        (v128.store (i32.add (local.get $o) (local.get $cBytes)) (f32x4.mul (local.get $g1) (local.get $kv)))
        (v128.store (i32.add (local.get $o) (i32.shl (local.get $cBytes) (i32.const 1))) (f32x4.mul (local.get $g2) (local.get $kv)))
        (v128.store (i32.add (local.get $o) (i32.mul (local.get $cBytes) (i32.const 3))) (f32x4.mul (local.get $g3) (local.get $kv)))` : '';
  const store1 = writeDx ? `
        (v128.store (i32.add (local.get $dx) (local.get $j)) (f32x4.mul (local.get $g0) (v128.load (i32.add (local.get $k) (local.get $j)))))` : '';
  return `
  (func (export "${name}") (param $dy i32) (param $x i32) ${dxParams}(param $m i32)${kParam}
      (param $accDy i32) (param $accXm i32) (param $rows i32) (param $c i32)
    (local $cBytes i32) (local $j i32) (local $r i32) (local $p i32) (local $q i32) (local $o i32) (local $a i32)
    (local $g0 v128) (local $g1 v128) (local $g2 v128) (local $g3 v128)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128)
    (local $kv v128) (local $mv v128) (local $mLo v128) (local $mHi v128)
    (local.set $cBytes (i32.shl (local.get $c) (i32.const 2)))
    ${fourRowsThenOnes(writeDx ? ['dy', 'x', 'dx'] : ['dy', 'x'], `(local.set $p (i32.add (local.get $dy) (local.get $j)))
        (local.set $q (i32.add (local.get $x) (local.get $j)))
        ${loadFourRows('g', 'p')}
        ${loadFourRows('x', 'q')}
        (local.set $mv (v128.load (i32.add (local.get $m) (local.get $j))))
        (local.set $mLo ${lo('(local.get $mv)')})
        (local.set $mHi ${hi('(local.get $mv)')})${stores4}
        (local.set $a (i32.shl (local.get $j) (i32.const 1)))
        ${accumulate('(i32.add (local.get $accDy) (local.get $a))', LOW.dy)}
        ${accumulate('(i32.add (i32.add (local.get $accDy) (local.get $a)) (i32.const 16))', HIGH.dy)}
        ${accumulate('(i32.add (local.get $accXm) (local.get $a))', LOW.dyXm)}
        ${accumulate('(i32.add (i32.add (local.get $accXm) (local.get $a)) (i32.const 16))', HIGH.dyXm)}`,
    `(local.set $g0 (v128.load (i32.add (local.get $dy) (local.get $j))))
        (local.set $x0 (v128.load (i32.add (local.get $x) (local.get $j))))
        (local.set $mv (v128.load (i32.add (local.get $m) (local.get $j))))${store1}
        (local.set $a (i32.shl (local.get $j) (i32.const 1)))
        ${accumulate('(i32.add (local.get $accDy) (local.get $a))', lo('(local.get $g0)'))}
        ${accumulate('(i32.add (i32.add (local.get $accDy) (local.get $a)) (i32.const 16))', hi('(local.get $g0)'))}
        ${accumulate('(i32.add (local.get $accXm) (local.get $a))', `(f64x2.mul ${lo('(local.get $g0)')} (f64x2.sub ${lo('(local.get $x0)')} ${lo('(local.get $mv)')}))`)}
        ${accumulate('(i32.add (i32.add (local.get $accXm) (local.get $a)) (i32.const 16))', `(f64x2.mul ${hi('(local.get $g0)')} (f64x2.sub ${hi('(local.get $x0)')} ${hi('(local.get $mv)')}))`)}`)})
`;
}

/** batchNormGradRows: the pass of tfjs's FusedBatchNorm gradient (kernels/batch-norm-grad.ts), writing dx = dy * k[j]. */
const BATCH_NORM_GRAD = batchNormGradPass('batchNormGradRows', true);

/**
 * The training batch norm's own gradient (kernels/batch-norm-train.ts), in two passes over rows of
 * c channels:
 * batchNormGradSums: the sums of batchNormGradRows, nothing written;
 * affine2Rows: dx = (dy * k[j] + x * p[j]) + q[j] in float32.
 */
const BATCH_NORM_TRAIN_GRAD = `${batchNormGradPass('batchNormGradSums', false)}
  (func (export "affine2Rows") (param $dy i32) (param $x i32) (param $dx i32) (param $k i32) (param $p i32) (param $q i32) (param $rows i32) (param $c i32)
    (local $cBytes i32) (local $j i32) (local $r i32)
    (local.set $cBytes (i32.shl (local.get $c) (i32.const 2)))
    ${eachRow(['dy', 'x', 'dx'], `(v128.store (i32.add (local.get $dx) (local.get $j))
          (f32x4.add
            (f32x4.add
              (f32x4.mul (v128.load (i32.add (local.get $dy) (local.get $j))) (v128.load (i32.add (local.get $k) (local.get $j))))
              (f32x4.mul (v128.load (i32.add (local.get $x) (local.get $j))) (v128.load (i32.add (local.get $p) (local.get $j)))))
            (v128.load (i32.add (local.get $q) (local.get $j)))))`)})
`;

const DEPTHWISE_FILTER_GRAD = `
  ;; One tap of a depthwise filter gradient (channel multiplier 1) over \`rows\` output rows of
  ;; \`count\` columns each: for each 4 channels and each row, s = the float32 sum of x * dy over
  ;; the row's columns (even and odd columns in two sums, then added; x stepping xStep bytes, dy
  ;; c floats), then sums[channel] (float64) += s, row after row. The next row's x and dy start
  ;; xRowStep and dyRowStep bytes further.
  (func (export "depthwiseFilterTap") (param $x i32) (param $dy i32) (param $count i32) (param $xStep i32) (param $sums i32) (param $c i32)
        (param $rows i32) (param $xRowStep i32) (param $dyRowStep i32)
    (local $cBytes i32) (local $j i32) (local $xi i32) (local $di i32) (local $n i32) (local $at i32) (local $r i32)
    (local $xr i32) (local $dr i32) (local $xStep2 i32) (local $cBytes2 i32)
    (local $s0 v128) (local $s1 v128) (local $sLo v128) (local $sHi v128)
    (local.set $cBytes (i32.shl (local.get $c) (i32.const 2)))
    (local.set $cBytes2 (i32.shl (local.get $cBytes) (i32.const 1)))
    (local.set $xStep2 (i32.shl (local.get $xStep) (i32.const 1)))
    (block $done (loop $channels
      (br_if $done (i32.ge_u (local.get $j) (local.get $cBytes)))
      (local.set $at (i32.add (local.get $sums) (i32.shl (local.get $j) (i32.const 1))))
      (local.set $sLo (v128.load (local.get $at)))
      (local.set $sHi (v128.load offset=16 (local.get $at)))
      (local.set $xr (i32.add (local.get $x) (local.get $j)))
      (local.set $dr (i32.add (local.get $dy) (local.get $j)))
      (local.set $r (local.get $rows))
      (block $rowsDone (loop $eachRow
        (br_if $rowsDone (i32.eqz (local.get $r)))
        (local.set $s0 (v128.const i64x2 0 0))
        (local.set $s1 (v128.const i64x2 0 0))
        (local.set $xi (local.get $xr))
        (local.set $di (local.get $dr))
        (local.set $n (local.get $count))
        (block $pairsDone (loop $pairs
          (br_if $pairsDone (i32.lt_u (local.get $n) (i32.const 2)))
          (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (v128.load (local.get $xi)) (v128.load (local.get $di)))))
          (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (v128.load (i32.add (local.get $xi) (local.get $xStep))) (v128.load (i32.add (local.get $di) (local.get $cBytes))))))
          (local.set $xi (i32.add (local.get $xi) (local.get $xStep2)))
          (local.set $di (i32.add (local.get $di) (local.get $cBytes2)))
          (local.set $n (i32.sub (local.get $n) (i32.const 2)))
          (br $pairs)))
        (if (local.get $n)
          (then (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (v128.load (local.get $xi)) (v128.load (local.get $di)))))))
        (local.set $s0 (f32x4.add (local.get $s0) (local.get $s1)))
        (local.set $sLo (f64x2.add (local.get $sLo) ${lo('(local.get $s0)')}))
        (local.set $sHi (f64x2.add (local.get $sHi) ${hi('(local.get $s0)')}))
        (local.set $xr (i32.add (local.get $xr) (local.get $xRowStep)))
        (local.set $dr (i32.add (local.get $dr) (local.get $dyRowStep)))
        (local.set $r (i32.sub (local.get $r) (i32.const 1)))
        (br $eachRow)))
      (v128.store (local.get $at) (local.get $sLo))
      (v128.store offset=16 (local.get $at) (local.get $sHi))
      (local.set $j (i32.add (local.get $j) (i32.const 16)))
      (br $channels))))
`;


/**
 * Elementwise passes the training step runs on every biased ReLU layer, n in fours:
 * reluGrad: dx = dy * step(x), step(x) = 1 for x > 0, NaN for NaN, else 0 (tfjs's gradient,
 * Multiply(dy, Cast(Step(x))), as one pass, the same float32 products);
 * addRows: y[r, :] = x[r, :] + b for rows of c floats (a bias added to [..., c]).
 */
const ELEMENTWISE = `
  (func (export "reluGrad") (param $dy i32) (param $x i32) (param $dx i32) (param $n i32)
    (local $end i32) (local $v v128) (local $s v128)
    (local.set $end (i32.add (local.get $x) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $x) (local.get $end)))
      (local.set $v (v128.load (local.get $x)))
      (local.set $s (v128.and (f32x4.gt (local.get $v) (v128.const f32x4 0 0 0 0)) (v128.const f32x4 1 1 1 1)))
      (local.set $s (v128.bitselect (local.get $v) (local.get $s) (f32x4.ne (local.get $v) (local.get $v))))
      (v128.store (local.get $dx) (f32x4.mul (v128.load (local.get $dy)) (local.get $s)))
      (local.set $x (i32.add (local.get $x) (i32.const 16)))
      (local.set $dy (i32.add (local.get $dy) (i32.const 16)))
      (local.set $dx (i32.add (local.get $dx) (i32.const 16)))
      (br $next))))

  (func (export "addRows") (param $x i32) (param $b i32) (param $y i32) (param $rows i32) (param $c i32)
    (local $cBytes i32) (local $j i32) (local $r i32)
    (local.set $cBytes (i32.shl (local.get $c) (i32.const 2)))
    ${eachRow(['x', 'y'], `(v128.store (i32.add (local.get $y) (local.get $j))
          (f32x4.add (v128.load (i32.add (local.get $x) (local.get $j))) (v128.load (i32.add (local.get $b) (local.get $j)))))`)})
`;

/**
 * im2col for positions whose whole window lies inside the image: for each of \`count\`
 * positions, \`segs\` segments (filter rows) of \`segLen\` floats each (a filter row's KW * CI
 * contiguous input floats), segment k read \`segStep\` bytes after segment k - 1, written one
 * after another, then zeros up to the position's \`stride\` bytes. The next position's window
 * starts \`xStep\` bytes further in x. Copies run four floats at a time, never past a segment.
 */
const IM2COL = `
  (func (export "im2colRun") (param $x i32) (param $cols i32) (param $count i32) (param $xStep i32) (param $segLen i32)
        (param $segs i32) (param $segStep i32) (param $stride i32)
    (local $p i32) (local $k i32) (local $src i32) (local $dst i32) (local $end i32) (local $posEnd i32)
    (local $segBytes i32)
    (local.set $segBytes (i32.shl (local.get $segLen) (i32.const 2)))
    (block $done (loop $positions
      (br_if $done (i32.ge_u (local.get $p) (local.get $count)))
      (local.set $dst (local.get $cols))
      (local.set $k (i32.const 0))
      (block $segsDone (loop $eachSeg
        (br_if $segsDone (i32.ge_u (local.get $k) (local.get $segs)))
        (local.set $src (i32.add (local.get $x) (i32.mul (local.get $k) (local.get $segStep))))
        (local.set $end (i32.add (local.get $dst) (local.get $segBytes)))
        (block $vecDone (loop $vec
          (br_if $vecDone (i32.gt_u (i32.add (local.get $dst) (i32.const 16)) (local.get $end)))
          (v128.store (local.get $dst) (v128.load (local.get $src)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
          (local.set $src (i32.add (local.get $src) (i32.const 16)))
          (br $vec)))
        (block $tailDone (loop $tail
          (br_if $tailDone (i32.ge_u (local.get $dst) (local.get $end)))
          (f32.store (local.get $dst) (f32.load (local.get $src)))
          (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
          (local.set $src (i32.add (local.get $src) (i32.const 4)))
          (br $tail)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $eachSeg)))
      (local.set $posEnd (i32.add (local.get $cols) (local.get $stride)))
      (block $zerosDone (loop $zeros
        (br_if $zerosDone (i32.ge_u (local.get $dst) (local.get $posEnd)))
        (f32.store (local.get $dst) (f32.const 0))
        (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
        (br $zeros)))
      (local.set $cols (local.get $posEnd))
      (local.set $x (i32.add (local.get $x) (local.get $xStep)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $positions))))
`;

/** Accumulator k (0-7) of a pointwise block: row k >> 1 (ci), vector k & 1 (co), at $ap. */
function accAddress(k: number): string {
  const row = k >> 1;
  const base = row === 0 ? '(local.get $ap)' : `(i32.add (local.get $ap) (i32.mul (local.get $dRow) (i32.const ${row})))`;
  return base;
}
const LOAD_ACC = [0, 1, 2, 3, 4, 5, 6, 7]
  .map((k) => `(local.set $a${k} (v128.load${k & 1 ? ' offset=16' : ''} ${accAddress(k)}))`)
  .join('\n          ');
const STORE_ACC = [0, 1, 2, 3, 4, 5, 6, 7]
  .map((k) => `(v128.store${k & 1 ? ' offset=16' : ''} ${accAddress(k)} (local.get $a${k}))`)
  .join('\n          ');
const MACS = [0, 1, 2, 3]
  .map((lane) => `(local.set $s (v128.load32_splat offset=${4 * lane} (local.get $xp)))
            (local.set $a${2 * lane} (f32x4.add (local.get $a${2 * lane}) (f32x4.mul (local.get $s) (local.get $d0))))
            (local.set $a${2 * lane + 1} (f32x4.add (local.get $a${2 * lane + 1}) (f32x4.mul (local.get $s) (local.get $d1))))`)
  .join('\n            ');

/**
 * The filter gradient of a 1x1, stride-1 convolution: acc[ci][co] += sum over `pixels` of
 * x[p][ci] * dy[p][co] (float32), for ci in fours and co in eights. x's pixels lie `xStride`
 * floats apart (ci for a whole tensor; more for a slice of its channels, or a strided tap), dy's
 * pixels and acc's rows `dStride` (co, or more for a slice of the output channels). Pixels go in tiles of 64 so
 * a tile's x and dy rows stay in L1 while every (4 ci x 8 co) block of accumulators, held in
 * eight f32x4 locals, runs over them. Each x value is splatted straight from memory
 * (load32_splat): against a vector load and four lane extracts, 25-45 % faster.
 */
const POINTWISE_FILTER_GRAD = `
  (func (export "pointwiseFilterGrad") (param $x i32) (param $dy i32) (param $acc i32) (param $pixels i32) (param $ci i32) (param $co i32) (param $xStride i32) (param $dStride i32)
    (local $t0 i32) (local $tn i32) (local $cb i32) (local $ob i32) (local $n i32) (local $xp i32) (local $dp i32) (local $ap i32)
    (local $xRow i32) (local $dRow i32) (local $d0 v128) (local $d1 v128) (local $s v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128) (local $a4 v128) (local $a5 v128) (local $a6 v128) (local $a7 v128)
    (local.set $xRow (i32.shl (local.get $xStride) (i32.const 2)))
    (local.set $dRow (i32.shl (local.get $dStride) (i32.const 2)))
    (block $tilesDone (loop $tiles
      (br_if $tilesDone (i32.ge_u (local.get $t0) (local.get $pixels)))
      (local.set $tn (select (i32.const 64) (i32.sub (local.get $pixels) (local.get $t0))
        (i32.le_u (i32.const 64) (i32.sub (local.get $pixels) (local.get $t0)))))
      (local.set $cb (i32.const 0))
      (block $cDone (loop $cBlocks
        (br_if $cDone (i32.ge_u (local.get $cb) (local.get $ci)))
        (local.set $ob (i32.const 0))
        (block $oDone (loop $oBlocks
          (br_if $oDone (i32.ge_u (local.get $ob) (local.get $co)))
          (local.set $ap (i32.add (local.get $acc) (i32.shl (i32.add (i32.mul (local.get $cb) (local.get $dStride)) (local.get $ob)) (i32.const 2))))
          ${LOAD_ACC}
          (local.set $xp (i32.add (local.get $x) (i32.shl (i32.add (i32.mul (local.get $t0) (local.get $xStride)) (local.get $cb)) (i32.const 2))))
          (local.set $dp (i32.add (local.get $dy) (i32.shl (i32.add (i32.mul (local.get $t0) (local.get $dStride)) (local.get $ob)) (i32.const 2))))
          (local.set $n (local.get $tn))
          (block $pDone (loop $pixelsLoop
            (br_if $pDone (i32.eqz (local.get $n)))
            (local.set $d0 (v128.load (local.get $dp)))
            (local.set $d1 (v128.load offset=16 (local.get $dp)))
            ${MACS}
            (local.set $xp (i32.add (local.get $xp) (local.get $xRow)))
            (local.set $dp (i32.add (local.get $dp) (local.get $dRow)))
            (local.set $n (i32.sub (local.get $n) (i32.const 1)))
            (br $pixelsLoop)))
          ${STORE_ACC}
          (local.set $ob (i32.add (local.get $ob) (i32.const 8)))
          (br $oBlocks)))
        (local.set $cb (i32.add (local.get $cb) (i32.const 4)))
        (br $cBlocks)))
      (local.set $t0 (i32.add (local.get $t0) (i32.const 64)))
      (br $tiles))))
`;

/** Horizontal sum of f32x4 local $v (lanes added pairwise: (0 + 2) + (1 + 3)). */
function laneSum(v: string): string {
  const swapHalves = `(i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get ${v}) (local.get ${v}))`;
  const pairs = `(f32x4.add (local.get ${v}) ${swapHalves})`;
  return `(f32.add (f32x4.extract_lane 0 ${pairs}) (f32x4.extract_lane 1 ${pairs}))`;
}
const DOT_TILE = [0, 1, 2, 3, 4, 5, 6, 7];
/**
 * out[p][i] = sum over k of a[p][k] * b[i][k] (a times b transposed: a dense layer's input
 * gradient dy W^T) for p < m, i < n, k and n in fours: tiles of 2 rows of a x 4 rows of b hold
 * eight f32x4 partial sums over k, then add each one's lanes. b's rows go in blocks of \`block\`
 * (a multiple of 4) that stay in cache while every row pair of a passes over them, writing out
 * row segments of \`block\` floats (out rows outStride floats apart). m odd: the last row pairs
 * with itself (computed twice, stored once).
 */
const ROW_DOTS = `
  (func (export "rowDots") (param $a i32) (param $b i32) (param $out i32) (param $m i32) (param $n i32) (param $k i32) (param $outStride i32)
        (param $block i32)
    (local $i i32) (local $i0 i32) (local $iEnd i32) (local $p i32) (local $q i32) (local $kb i32) (local $kBytes i32) (local $a0 i32)
    (local $a1 i32) (local $b0 i32) (local $o i32)
    (local $x0 v128) (local $x1 v128) (local $w v128)
    ${DOT_TILE.map((t) => `(local $s${t} v128)`).join(' ')}
    (local.set $kBytes (i32.shl (local.get $k) (i32.const 2)))
    (block $blocksDone (loop $eachBlock
      (br_if $blocksDone (i32.ge_u (local.get $i0) (local.get $n)))
      (local.set $iEnd (select (local.get $n) (i32.add (local.get $i0) (local.get $block))
        (i32.lt_u (local.get $n) (i32.add (local.get $i0) (local.get $block)))))
      (local.set $p (i32.const 0))
      (block $pDone (loop $eachP
        (br_if $pDone (i32.ge_u (local.get $p) (local.get $m)))
        ;; the second row of the pair: p + 1, or p again for an odd m's last row
        (local.set $q (select (i32.add (local.get $p) (i32.const 1)) (local.get $p) (i32.lt_u (i32.add (local.get $p) (i32.const 1)) (local.get $m))))
        (local.set $a0 (i32.add (local.get $a) (i32.mul (local.get $p) (local.get $kBytes))))
        (local.set $a1 (i32.add (local.get $a) (i32.mul (local.get $q) (local.get $kBytes))))
        (local.set $i (local.get $i0))
        (block $iDone (loop $eachI
          (br_if $iDone (i32.ge_u (local.get $i) (local.get $iEnd)))
          (local.set $b0 (i32.add (local.get $b) (i32.mul (local.get $i) (local.get $kBytes))))
          ${DOT_TILE.map((t) => `(local.set $s${t} (v128.const i64x2 0 0))`).join(' ')}
          (local.set $kb (i32.const 0))
          (block $kDone (loop $eachK
            (br_if $kDone (i32.ge_u (local.get $kb) (local.get $kBytes)))
            (local.set $x0 (v128.load (i32.add (local.get $a0) (local.get $kb))))
            (local.set $x1 (v128.load (i32.add (local.get $a1) (local.get $kb))))
            ${[0, 1, 2, 3].map((c) => `(local.set $w (v128.load (i32.add (i32.add (local.get $b0) (i32.mul (local.get $kBytes) (i32.const ${c}))) (local.get $kb))))
            (local.set $s${c} (f32x4.add (local.get $s${c}) (f32x4.mul (local.get $x0) (local.get $w))))
            (local.set $s${c + 4} (f32x4.add (local.get $s${c + 4}) (f32x4.mul (local.get $x1) (local.get $w))))`).join('\n            ')}
            (local.set $kb (i32.add (local.get $kb) (i32.const 16)))
            (br $eachK)))
          (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $p) (local.get $outStride)) (local.get $i)) (i32.const 2))))
          ${[0, 1, 2, 3].map((c) => `(f32.store offset=${4 * c} (local.get $o) ${laneSum(`$s${c}`)})`).join('\n          ')}
          (if (i32.ne (local.get $q) (local.get $p)) (then
            (local.set $o (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $q) (local.get $outStride)) (local.get $i)) (i32.const 2))))
            ${[0, 1, 2, 3].map((c) => `(f32.store offset=${4 * c} (local.get $o) ${laneSum(`$s${c + 4}`)})`).join('\n            ')}))
          (local.set $i (i32.add (local.get $i) (i32.const 4)))
          (br $eachI)))
        (local.set $p (i32.add (local.get $p) (i32.const 2)))
        (br $eachP)))
      (local.set $i0 (i32.add (local.get $i0) (local.get $block)))
      (br $eachBlock))))
`;

const TAP_ACC = [0, 1, 2, 3, 4, 5, 6, 7];
/** Accumulator k of a 4-pixel x 8-channel tile: pixel k >> 1, vector k & 1. */
const tileLoads = TAP_ACC.map((k) => `(local.set $a${k} (v128.load offset=${(k & 1) * 16} (i32.add (local.get $xp) (i32.mul (local.get $ciBytes) (i32.const ${k >> 1})))))`).join('\n            ');
const tileStores = TAP_ACC.map((k) => `(v128.store offset=${(k & 1) * 16} (i32.add (local.get $xp) (i32.mul (local.get $ciBytes) (i32.const ${k >> 1}))) (local.get $a${k}))`).join('\n            ');
const tileMacs = [0, 1, 2, 3].map((p) => `(local.set $s (v128.load32_splat ${p === 0 ? '(local.get $dp)' : `(i32.add (local.get $dp) (i32.mul (local.get $coBytes) (i32.const ${p})))`}))
              (local.set $a${2 * p} (f32x4.add (local.get $a${2 * p}) (f32x4.mul (local.get $s) (local.get $w0))))
              (local.set $a${2 * p + 1} (f32x4.add (local.get $a${2 * p + 1}) (f32x4.mul (local.get $s) (local.get $w1))))`).join('\n              ');
/**
 * One filter tap's share of a stride-1 convolution's input gradient over a block of \`rows\` x
 * \`count\` pixels: dx[p][i] += sum over o of dy[p][o] * wt[o][i] (wt: the tap's filter, [co][ci]),
 * for ci in eights. Tiles of 4 pixels x 8 channels hold their dx values in eight f32x4 locals
 * while the co products accumulate (a row's last 0-3 pixels one at a time). Pixels within a row
 * are consecutive (co floats apart in dy, ci in dx); rows start dyRowStep and dxRowStep bytes apart.
 */
const TAP_INPUT_GRAD = `
  (func (export "tapInputRows") (param $dy i32) (param $wt i32) (param $dx i32) (param $count i32) (param $rows i32)
        (param $co i32) (param $ci i32) (param $dyRowStep i32) (param $dxRowStep i32)
    (local $r i32) (local $p i32) (local $nb i32) (local $k i32) (local $dp i32) (local $xp i32) (local $wp i32) (local $s v128)
    (local $dyRow i32) (local $dxRow i32) (local $ciBytes i32) (local $coBytes i32) (local $w0 v128) (local $w1 v128) (local $tiles i32)
    ${TAP_ACC.map((j) => `(local $a${j} v128)`).join(' ')}
    (local.set $ciBytes (i32.shl (local.get $ci) (i32.const 2)))
    (local.set $coBytes (i32.shl (local.get $co) (i32.const 2)))
    (local.set $tiles (i32.and (local.get $count) (i32.const -4)))
    (local.set $dyRow (local.get $dy))
    (local.set $dxRow (local.get $dx))
    (block $rowsDone (loop $eachRow
      (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows)))
      (local.set $p (i32.const 0))
      (block $tilesDone (loop $eachTile
        (br_if $tilesDone (i32.ge_u (local.get $p) (local.get $tiles)))
        (local.set $nb (i32.const 0))
        (block $blocksDone (loop $eachBlock
          (br_if $blocksDone (i32.ge_u (local.get $nb) (local.get $ciBytes)))
          (local.set $xp (i32.add (i32.add (local.get $dxRow) (i32.mul (local.get $p) (local.get $ciBytes))) (local.get $nb)))
          ${tileLoads}
          (local.set $dp (i32.add (local.get $dyRow) (i32.mul (local.get $p) (local.get $coBytes))))
          (local.set $wp (i32.add (local.get $wt) (local.get $nb)))
          (local.set $k (local.get $co))
          (block $kDone (loop $eachK
            (br_if $kDone (i32.eqz (local.get $k)))
            (local.set $w0 (v128.load (local.get $wp)))
            (local.set $w1 (v128.load offset=16 (local.get $wp)))
            ${tileMacs}
            (local.set $dp (i32.add (local.get $dp) (i32.const 4)))
            (local.set $wp (i32.add (local.get $wp) (local.get $ciBytes)))
            (local.set $k (i32.sub (local.get $k) (i32.const 1)))
            (br $eachK)))
          ${tileStores}
          (local.set $nb (i32.add (local.get $nb) (i32.const 32)))
          (br $eachBlock)))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $eachTile)))
      (block $restDone (loop $eachRest
        (br_if $restDone (i32.ge_u (local.get $p) (local.get $count)))
        (local.set $nb (i32.const 0))
        (block $restBlocksDone (loop $eachRestBlock
          (br_if $restBlocksDone (i32.ge_u (local.get $nb) (local.get $ciBytes)))
          (local.set $xp (i32.add (i32.add (local.get $dxRow) (i32.mul (local.get $p) (local.get $ciBytes))) (local.get $nb)))
          (local.set $a0 (v128.load (local.get $xp)))
          (local.set $a1 (v128.load offset=16 (local.get $xp)))
          (local.set $dp (i32.add (local.get $dyRow) (i32.mul (local.get $p) (local.get $coBytes))))
          (local.set $wp (i32.add (local.get $wt) (local.get $nb)))
          (local.set $k (local.get $co))
          (block $restKDone (loop $eachRestK
            (br_if $restKDone (i32.eqz (local.get $k)))
            (local.set $s (v128.load32_splat (local.get $dp)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s) (v128.load (local.get $wp)))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s) (v128.load offset=16 (local.get $wp)))))
            (local.set $dp (i32.add (local.get $dp) (i32.const 4)))
            (local.set $wp (i32.add (local.get $wp) (local.get $ciBytes)))
            (local.set $k (i32.sub (local.get $k) (i32.const 1)))
            (br $eachRestK)))
          (v128.store (local.get $xp) (local.get $a0))
          (v128.store offset=16 (local.get $xp) (local.get $a1))
          (local.set $nb (i32.add (local.get $nb) (i32.const 32)))
          (br $eachRestBlock)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $eachRest)))
      (local.set $dyRow (i32.add (local.get $dyRow) (local.get $dyRowStep)))
      (local.set $dxRow (i32.add (local.get $dxRow) (local.get $dxRowStep)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $eachRow))))
`;

const DEPTHWISE_INPUT_GRAD = `
  ;; One dy row's part of a depthwise input gradient (channel multiplier 1), one filter row:
  ;; dx[iw][c] += dy[ow][c] * w[k][c] for every output column ow and tap k whose input column
  ;; iw = ow * stride + k - left lies in [0, inWidth); c in fours, rows of c floats.
  (func (export "depthwiseInputRow") (param $dy i32) (param $w i32) (param $dx i32) (param $outWidth i32) (param $inWidth i32)
    (param $taps i32) (param $stride i32) (param $left i32) (param $c i32)
    (local $ow i32) (local $k i32) (local $iw i32) (local $j i32) (local $cBytes i32) (local $dp i32) (local $wp i32) (local $xp i32)
    (local.set $cBytes (i32.shl (local.get $c) (i32.const 2)))
    (block $colsDone (loop $cols
      (br_if $colsDone (i32.ge_u (local.get $ow) (local.get $outWidth)))
      (local.set $dp (i32.add (local.get $dy) (i32.mul (local.get $ow) (local.get $cBytes))))
      (local.set $k (i32.const 0))
      (block $tapsDone (loop $tapLoop
        (br_if $tapsDone (i32.ge_u (local.get $k) (local.get $taps)))
        (local.set $iw (i32.sub (i32.add (i32.mul (local.get $ow) (local.get $stride)) (local.get $k)) (local.get $left)))
        ;; unsigned: a negative column is out of range too
        (if (i32.lt_u (local.get $iw) (local.get $inWidth)) (then
          (local.set $xp (i32.add (local.get $dx) (i32.mul (local.get $iw) (local.get $cBytes))))
          (local.set $wp (i32.add (local.get $w) (i32.mul (local.get $k) (local.get $cBytes))))
          (local.set $j (i32.const 0))
          (block $chDone (loop $ch
            (br_if $chDone (i32.ge_u (local.get $j) (local.get $cBytes)))
            (v128.store (i32.add (local.get $xp) (local.get $j))
              (f32x4.add (v128.load (i32.add (local.get $xp) (local.get $j)))
                (f32x4.mul (v128.load (i32.add (local.get $dp) (local.get $j))) (v128.load (i32.add (local.get $wp) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $ch)))))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $tapLoop)))
      (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
      (br $cols))))
`;

/** Splats of the optimizer step's f32 params, as locals $k_<name>. */
function splats(names: string[]): { params: string; locals: string; sets: string } {
  return {
    params: names.map((n) => `(param $${n} f32)`).join(' '),
    locals: names.map((n) => `(local $k_${n} v128)`).join(' '),
    sets: names.map((n) => `(local.set $k_${n} (f32x4.splat (local.get $${n})))`).join('\n    '),
  };
}

const ADAM = splats(['beta1', 'beta2', 'oneMinusBeta1', 'oneMinusBeta2', 'oneMinusAccBeta1', 'oneMinusAccBeta2', 'epsilon', 'negativeRate']);
const MOMENTUM = splats(['momentum', 'negativeRate']);

/** An optimizer step's loop: $gj = the next 4 gradients, `body`, then every pointer steps on by 16 bytes, until $g reaches n floats. */
function gradientLoop(pointers: string[], body: string): string {
  return `(local.set $end (i32.add (local.get $g) (i32.shl (local.get $n) (i32.const 2))))
    (block $done (loop $each
      (br_if $done (i32.ge_u (local.get $g) (local.get $end)))
      (local.set $gj (v128.load (local.get $g)))
      ${body}
      ${stepPointers(pointers, '(i32.const 16)')}
      (br $each)))`;
}

const OPTIMIZER_STEPS = `
  ;; One Adam step over n floats (a multiple of 4), as fused-optimizer.ts's adamPass:
  ;; m = m*b1 + g*(1-b1); v = v*b2 + (g*g)*(1-b2); next = ((m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)) * -rate + w
  (func (export "adamStep") (param $next i32) (param $w i32) (param $m i32) (param $v i32) (param $g i32) (param $n i32) ${ADAM.params}
    (local $end i32) (local $gj v128) (local $mj v128) (local $vj v128) ${ADAM.locals}
    ${ADAM.sets}
    ${gradientLoop(['next', 'w', 'm', 'v', 'g'], `(local.set $mj (f32x4.add (f32x4.mul (v128.load (local.get $m)) (local.get $k_beta1)) (f32x4.mul (local.get $gj) (local.get $k_oneMinusBeta1))))
      (local.set $vj (f32x4.add (f32x4.mul (v128.load (local.get $v)) (local.get $k_beta2))
        (f32x4.mul (f32x4.mul (local.get $gj) (local.get $gj)) (local.get $k_oneMinusBeta2))))
      (v128.store (local.get $m) (local.get $mj))
      (v128.store (local.get $v) (local.get $vj))
      (v128.store (local.get $next) (f32x4.add
        (f32x4.mul
          (f32x4.div (f32x4.div (local.get $mj) (local.get $k_oneMinusAccBeta1))
            (f32x4.add (f32x4.sqrt (f32x4.div (local.get $vj) (local.get $k_oneMinusAccBeta2))) (local.get $k_epsilon)))
          (local.get $k_negativeRate))
        (v128.load (local.get $w))))`)})

  ;; One momentum step over n floats (a multiple of 4), as fused-optimizer.ts's momentumPass:
  ;; a = momentum*a + g; next = -rate * (nesterov ? g + a*momentum : a) + w
  (func (export "momentumStep") (param $next i32) (param $w i32) (param $a i32) (param $g i32) (param $n i32) ${MOMENTUM.params} (param $nesterov i32)
    (local $end i32) (local $gj v128) (local $aj v128) (local $direction v128) ${MOMENTUM.locals}
    ${MOMENTUM.sets}
    ${gradientLoop(['next', 'w', 'a', 'g'], `(local.set $aj (f32x4.add (f32x4.mul (local.get $k_momentum) (v128.load (local.get $a))) (local.get $gj)))
      (v128.store (local.get $a) (local.get $aj))
      (local.set $direction (local.get $aj))
      (if (local.get $nesterov) (then
        (local.set $direction (f32x4.add (local.get $gj) (f32x4.mul (local.get $aj) (local.get $k_momentum))))))
      (v128.store (local.get $next) (f32x4.add (f32x4.mul (local.get $k_negativeRate) (local.get $direction)) (v128.load (local.get $w))))`)})
`;

/** The module, importing the backend's memory as `env.memory` (shared when the backend's is). */
export function kernelsWat(sharedMemory: boolean): string {
  const memory = sharedMemory ? '(memory 1 65536 shared)' : '(memory 1)';
  return `(module\n  (import "env" "memory" ${memory})\n${HARD_ACTIVATIONS}\n${MAX_POOL_GRAD}\n${PER_CHANNEL}\n${BATCH_NORM_GRAD}\n${BATCH_NORM_TRAIN_GRAD}\n${DEPTHWISE_FILTER_GRAD}\n${POINTWISE_FILTER_GRAD}\n${DEPTHWISE_INPUT_GRAD}\n${IM2COL}\n${ELEMENTWISE}\n${TAP_INPUT_GRAD}\n${ROW_DOTS}\n${OPTIMIZER_STEPS})\n`;
}
