/** Recognising the torch engine's model bytes (engines/torch/durable_vision_torch/model_bytes.py). */
const TORCH_MODEL_MAGIC = 'DVTM0001';

/** True when `bytes` hold a model the torch engine wrote (its 'DVTM0001' header). */
export function isTorchModel(bytes: Uint8Array): boolean {
  if (bytes.length < TORCH_MODEL_MAGIC.length) return false;
  for (let i = 0; i < TORCH_MODEL_MAGIC.length; i++) if (bytes[i] !== TORCH_MODEL_MAGIC.charCodeAt(i)) return false;
  return true;
}

/** The ModelSpec stored in a torch model's header. */
export function torchModelSpec(bytes: Uint8Array): { architecture: string; inputShape: [number, number, number]; numClasses: number } {
  if (!isTorchModel(bytes)) throw new Error('not a torch-engine model (no DVTM0001 header)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + length))) as { spec: ReturnType<typeof torchModelSpec> };
  return header.spec;
}
