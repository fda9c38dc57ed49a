/**
 * Colour management of the common embedded profiles without lcms: matrix/TRC RGB profiles (Adobe
 * RGB, Display P3, ProPhoto and the like, what cameras and phones embed) and grey TRC profiles,
 * converted to sRGB in JS after the image has been resized.
 *
 * Why: libvips converts an embedded profile through lcms, which builds a new transform for every
 * image (6-12 ms here, whatever the image size) and applies it at full resolution before the
 * resize. A transform built once per distinct profile (cached by the profile's bytes) and applied
 * to the 224x224 result through lookup tables costs a fraction of a millisecond.
 *
 * The conversion is what lcms does for these profiles: each channel through its tone curve to
 * linear light, the profile's colorants (PCS XYZ, D50) into the colorants of sRGB (the sRGB
 * profile sharp converts to: lcms' built-in, ICC v4, D50-adapted), then the sRGB curve, rounded to
 * 8 bits. Profiles with lookup-table transforms (A2B0/A2B1/A2B2), a Lab PCS, or curves this parser
 * does not read are declined (`iccTransformFor` returns undefined) and stay with lcms.
 */
import { createHash } from 'node:crypto';

/** Converts 8-bit samples from a profile's space to sRGB in place. */
export interface IccTransform {
  /** 'rgb': a profile of RGB images; 'grey': of grey images. */
  readonly kind: 'rgb' | 'grey';
  /**
   * Converts `pixels` pixels of `channels` interleaved samples in `data`; a last alpha channel
   * (2 or 4 channels) is left as is. 'rgb' needs 3 or 4 channels; 'grey' converts each colour
   * sample by itself, so a grey image already copied into RGB converts too.
   */
  apply(data: Uint8Array, pixels: number, channels: number): void;
}

type Curve = (x: number) => number;

/** sRGB (lcms' built-in, which sharp's 'srgb' is) colorants in PCS XYZ, columns R, G, B. */
const SRGB_COLORANTS = [
  [0.43604, 0.3851, 0.14307],
  [0.22244, 0.71693, 0.06062],
  [0.0139, 0.09708, 0.71393],
] as const;

/** The sRGB curve, linear light to encoded (IEC 61966-2-1). */
function srgbEncode(y: number): number {
  return y <= 0.0031308 ? 12.92 * y : 1.055 * y ** (1 / 2.4) - 0.055;
}

const ENCODE_STEPS = 65535;
let encodeTable: Uint8Array | undefined;

/** Linear light in [0, 1] at 1/65535 steps to the nearest 8-bit sRGB level. */
function srgbEncodeTable(): Uint8Array {
  if (encodeTable) return encodeTable;
  const table = new Uint8Array(ENCODE_STEPS + 1);
  for (let i = 0; i <= ENCODE_STEPS; i++) table[i] = Math.round(srgbEncode(i / ENCODE_STEPS) * 255);
  encodeTable = table;
  return table;
}

function invert3(m: readonly (readonly number[])[]): number[][] {
  const [a, b, c] = m[0] as [number, number, number];
  const [d, e, f] = m[1] as [number, number, number];
  const [g, h, i] = m[2] as [number, number, number];
  const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
  if (!Number.isFinite(det) || Math.abs(det) < 1e-9) throw new Error('singular colorant matrix');
  return [
    [(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det],
    [(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det],
    [(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det],
  ];
}

function multiply3(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number[][] {
  return [0, 1, 2].map((r) => [0, 1, 2].map((c) => [0, 1, 2].reduce((s, k) => s + (a[r]![k] as number) * (b[k]![c] as number), 0)));
}

class Unsupported extends Error {}

/** A profile's tag table: signature to byte range. */
function readTags(p: Uint8Array, view: DataView): Map<string, [number, number]> {
  const count = view.getUint32(128);
  if (count > 200 || 132 + count * 12 > p.length) throw new Unsupported('tag table');
  const tags = new Map<string, [number, number]>();
  for (let i = 0; i < count; i++) {
    const at = 132 + i * 12;
    const offset = view.getUint32(at + 4);
    const size = view.getUint32(at + 8);
    if (offset + size > p.length || size < 8) throw new Unsupported('tag range');
    tags.set(signature(p, at), [offset, size]);
  }
  return tags;
}

function signature(p: Uint8Array, at: number): string {
  return String.fromCharCode(p[at] ?? 0, p[at + 1] ?? 0, p[at + 2] ?? 0, p[at + 3] ?? 0);
}

const s15 = (view: DataView, at: number): number => view.getInt32(at) / 65536;

function readXyz(p: Uint8Array, view: DataView, tags: Map<string, [number, number]>, name: string): [number, number, number] {
  const range = tags.get(name);
  if (!range || signature(p, range[0]) !== 'XYZ ' || range[1] < 20) throw new Unsupported(`${name} tag`);
  const at = range[0] + 8;
  return [s15(view, at), s15(view, at + 4), s15(view, at + 8)];
}

/** A tone curve ('curv' or 'para'), device value in [0, 1] to linear light. */
function readCurve(p: Uint8Array, view: DataView, tags: Map<string, [number, number]>, name: string): Curve {
  const range = tags.get(name);
  if (!range) throw new Unsupported(`${name} tag`);
  const [at, size] = range;
  const type = signature(p, at);
  if (type === 'curv') {
    const n = view.getUint32(at + 8);
    if (12 + n * 2 > size) throw new Unsupported('curv size');
    if (n === 0) return (x) => x;
    if (n === 1) {
      const gamma = view.getUint16(at + 12) / 256;
      return (x) => x ** gamma;
    }
    const table = new Float64Array(n);
    for (let i = 0; i < n; i++) table[i] = view.getUint16(at + 12 + i * 2) / 65535;
    return (x) => {
      const pos = Math.min(Math.max(x, 0), 1) * (n - 1);
      const i = Math.min(Math.floor(pos), n - 2);
      const t = pos - i;
      return (table[i] as number) * (1 - t) + (table[i + 1] as number) * t;
    };
  }
  if (type === 'para') {
    const kind = view.getUint16(at + 8);
    const counts = [1, 3, 4, 5, 7];
    const count = counts[kind];
    if (count === undefined || 12 + count * 4 > size) throw new Unsupported('para type');
    const [g = 1, a = 1, b = 0, c = 0, d = 0, e = 0, f = 0] = Array.from({ length: count }, (_, i) => s15(view, at + 12 + i * 4));
    const pow = (v: number): number => (v <= 0 ? 0 : v ** g);
    switch (kind) {
      case 0: return (x) => pow(x);
      case 1: return (x) => (x >= -b / a ? pow(a * x + b) : 0);
      case 2: return (x) => (x >= -b / a ? pow(a * x + b) + c : c);
      case 3: return (x) => (x >= d ? pow(a * x + b) : c * x);
      default: return (x) => (x >= d ? pow(a * x + b) + e : c * x + f);
    }
  }
  throw new Unsupported(`${name} type ${type}`);
}

/** The 256 device levels through a curve, clamped to [0, 1]. */
function levels(curve: Curve): Float32Array {
  const table = new Float32Array(256);
  for (let v = 0; v < 256; v++) table[v] = Math.min(Math.max(curve(v / 255), 0), 1);
  return table;
}

function rgbTransform(matrix: number[][], curves: [Curve, Curve, Curve]): IccTransform {
  const [lr, lg, lb] = curves.map(levels) as [Float32Array, Float32Array, Float32Array];
  const encode = srgbEncodeTable();
  const [m00, m01, m02] = matrix[0] as [number, number, number];
  const [m10, m11, m12] = matrix[1] as [number, number, number];
  const [m20, m21, m22] = matrix[2] as [number, number, number];
  const clampIndex = (y: number): number => (y <= 0 ? 0 : y >= 1 ? ENCODE_STEPS : (y * ENCODE_STEPS + 0.5) | 0);
  return {
    kind: 'rgb',
    apply(data, pixels, channels) {
      if (channels !== 3 && channels !== 4) throw new RangeError(`an RGB profile converts 3- or 4-channel pixels, got ${channels}`);
      for (let i = 0, at = 0; i < pixels; i++, at += channels) {
        const r = lr[data[at] as number] as number;
        const g = lg[data[at + 1] as number] as number;
        const b = lb[data[at + 2] as number] as number;
        data[at] = encode[clampIndex(m00 * r + m01 * g + m02 * b)] as number;
        data[at + 1] = encode[clampIndex(m10 * r + m11 * g + m12 * b)] as number;
        data[at + 2] = encode[clampIndex(m20 * r + m21 * g + m22 * b)] as number;
      }
    },
  };
}

function greyTransform(curve: Curve): IccTransform {
  const encode = srgbEncodeTable();
  const linear = levels(curve);
  const table = new Uint8Array(256);
  for (let v = 0; v < 256; v++) table[v] = encode[Math.round((linear[v] as number) * ENCODE_STEPS)] as number;
  return {
    kind: 'grey',
    apply(data, pixels, channels) {
      if (channels === 1 || channels === 3) {
        const n = pixels * channels;
        for (let i = 0; i < n; i++) data[i] = table[data[i] as number] as number;
        return;
      }
      if (channels !== 2 && channels !== 4) throw new RangeError(`pixels have 1 to 4 channels, got ${channels}`);
      const colours = channels - 1;
      for (let i = 0, at = 0; i < pixels; i++, at += channels) {
        for (let c = 0; c < colours; c++) data[at + c] = table[data[at + c] as number] as number;
      }
    },
  };
}

/** Builds the transform of one profile; undefined when it is not a plain matrix/TRC or grey TRC profile. */
export function buildIccTransform(profile: Uint8Array): IccTransform | undefined {
  try {
    if (profile.length < 132) return undefined;
    const view = new DataView(profile.buffer, profile.byteOffset, profile.byteLength);
    if (view.getUint32(0) > profile.length || signature(profile, 36) !== 'acsp') return undefined;
    const space = signature(profile, 16);
    if (signature(profile, 20) !== 'XYZ ') return undefined;
    const deviceClass = signature(profile, 12);
    if (deviceClass !== 'mntr' && deviceClass !== 'scnr' && deviceClass !== 'prtr') return undefined;
    const tags = readTags(profile, view);
    // lcms prefers the lookup tables of an A2B tag (or a D2B one, v4) over the colorants.
    for (const t of ['A2B0', 'A2B1', 'A2B2', 'D2B0', 'D2B1', 'D2B2']) if (tags.has(t)) return undefined;
    if (space === 'GRAY') return greyTransform(readCurve(profile, view, tags, 'kTRC'));
    if (space !== 'RGB ') return undefined;
    const columns = ['rXYZ', 'gXYZ', 'bXYZ'].map((t) => readXyz(profile, view, tags, t));
    const colorants = [0, 1, 2].map((row) => columns.map((column) => column[row] as number));
    const matrix = multiply3(invert3(SRGB_COLORANTS), colorants);
    const curves = ['rTRC', 'gTRC', 'bTRC'].map((t) => readCurve(profile, view, tags, t)) as [Curve, Curve, Curve];
    return rgbTransform(matrix, curves);
  } catch (err) {
    if (err instanceof Unsupported || err instanceof RangeError || (err instanceof Error && err.message === 'singular colorant matrix')) return undefined;
    throw err;
  }
}

const cache = new Map<string, IccTransform | null>();
const CACHE_LIMIT = 64;

/** `buildIccTransform`, cached by the profile's bytes (a dataset's images share a few profiles). */
export function iccTransformFor(profile: Uint8Array): IccTransform | undefined {
  const key = createHash('sha1').update(profile).digest('base64');
  const cached = cache.get(key);
  if (cached !== undefined) return cached ?? undefined;
  const built = buildIccTransform(profile);
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(key, built ?? null);
  return built;
}
