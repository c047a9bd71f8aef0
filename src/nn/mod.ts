/**
 * `nn`: modules and layers with PyTorch names, flat and as the `nn` namespace:
 * `import { nn } from "./src/nn/mod.ts"; new nn.Linear(device, 4, 2)`.
 * @module
 */
export * from "./nn.ts";
export * as nn from "./nn.ts";
