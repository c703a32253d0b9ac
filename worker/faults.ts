// Fault injection for the fault-injection suite (test/faults): every hook is inert unless the SLUICE_FAULTS binding is set.

/** Faults the suite asked for, by hook name, with how many more times each fires. Empty in production. */
const armed = new Map<string, number>();
/** Faults that fired, by hook family (the name up to its first `:`), for the suite's report. */
const fired = new Map<string, number>();

/** The error an armed hook throws, so logs tell an injected failure from a real one. */
export class InjectedFault extends Error {
  override readonly name = "InjectedFault";
}

/** A hook: throws when the suite armed `hook` and the SLUICE_FAULTS binding is on; otherwise does nothing. */
export function injectFault(env: Env, hook: string): void {
  if (!env.SLUICE_FAULTS) return;
  const left = armed.get(hook) ?? 0;
  if (left === 0) return;
  if (left === 1) armed.delete(hook);
  else armed.set(hook, left - 1);
  const family = hook.split(":")[0]!;
  fired.set(family, (fired.get(family) ?? 0) + 1);
  throw new InjectedFault(`injected fault at ${hook}`);
}

/** Test-only: the next `times` passes through the hook named `hook` throw. */
export function armFault(hook: string, times = 1): void {
  armed.set(hook, (armed.get(hook) ?? 0) + times);
}

/** Test-only: forgets the faults of `hook` (all hooks when omitted) that have not fired yet. */
export function disarmFaults(hook?: string): void {
  if (hook === undefined) armed.clear();
  else armed.delete(hook);
}

/** Test-only: how many faults fired, by hook family. */
export function faultsFired(): Record<string, number> {
  return Object.fromEntries(fired);
}
