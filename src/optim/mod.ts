/**
 * Optimizers, gradient clipping and learning-rate schedules.
 * @module
 */
export {
  AdamW,
  type AdamWOptions,
  type AdamWParamState,
  type AdamWStateDict,
  type AdamWStateDictInput,
  type ParamGroup,
  type ParamGroupInput,
  type ParamsInput,
  type StepOptions,
} from "./adamw.ts";
export { clip_grad_norm_, clipGradNorm, clipGradNormCoef, type ClipResult } from "./clip.ts";
export {
  get_linear_schedule_with_warmup,
  getConstantScheduleWithWarmup,
  getCosineScheduleWithWarmup,
  getLinearScheduleWithWarmup,
  LambdaLR,
  type LrLambda,
  type SchedulableOptimizer,
} from "./schedule.ts";
