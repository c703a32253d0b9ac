// Parameters (DESIGN §2.3): references, dates, resolution and safe substitution into node code.
export { builtinParams, evaluateDateExpression, runClock, type RunClock } from "./dates.ts";
export { checkReferences } from "./check.ts";
export { prepareNodeCode, type PreparedCode } from "./prepare.ts";
export { resolveText, type ResolveContext } from "./resolve.ts";
export { referencesIn, type Reference } from "./template.ts";
