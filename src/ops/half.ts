/**
 * Packed-f16 copies of f32 tensors (the storage of f16 saved activations); defined in the tensor
 * layer so that autograd's saved tensors can pack and unpack.
 * @module
 */
export { fromHalf, toHalf } from "../tensor/half.ts";
