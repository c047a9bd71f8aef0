/**
 * Refusal of PyTorch pickle checkpoints (`pytorch_model.bin`, `.pt`, `.pth`): velora never
 * unpickles; it asks for a conversion to safetensors instead.
 *
 * @module
 */

const PICKLE_EXTENSIONS = [".bin", ".pt", ".pth", ".ckpt", ".pkl"];

/**
 * The command that converts a Hugging Face model directory's PyTorch weights to safetensors.
 *
 * @param dir the model directory (or hub id) to put in the command
 */
export function conversionCommand(dir: string): string {
  return `python -c "from transformers import AutoModel; ` +
    `AutoModel.from_pretrained('${dir}').save_pretrained('${dir}', safe_serialization=True)"`;
}

/** The error message for a refused PyTorch checkpoint at `path`. */
export function pytorchRefusalMessage(path: string): string {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const dir = slash >= 0 ? path.slice(0, slash) || "/" : ".";
  return `${path}: PyTorch pickle checkpoints are not loaded (unsafe and unsupported); ` +
    `convert the model to safetensors first, e.g. ${conversionCommand(dir)} ` +
    `(use the model's own class instead of AutoModel to keep task heads), ` +
    `then load model.safetensors`;
}

/**
 * True when the first bytes are those of `torch.save`: a zip entry (`PK\x03\x04`, torch >= 1.6)
 * or the legacy pickled magic number (`\x80\x02\x8a\x0a`). Read as a safetensors header length
 * either is far over the 100 MB limit, so no valid safetensors file matches.
 */
export function looksLikePytorch(first: Uint8Array): boolean {
  const starts = (sig: number[]) => sig.every((b, i) => first[i] === b);
  return starts([0x50, 0x4b, 0x03, 0x04]) || starts([0x80, 0x02, 0x8a, 0x0a]);
}

/**
 * Throws when `path` names a PyTorch checkpoint by its extension.
 *
 * @throws Error naming the file, with the conversion command to run.
 */
export function refuseNonSafetensors(path: string): void {
  const lower = path.toLowerCase();
  if (PICKLE_EXTENSIONS.some((ext) => lower.endsWith(ext))) {
    throw new Error(pytorchRefusalMessage(path));
  }
}
