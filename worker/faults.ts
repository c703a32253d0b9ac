// Fault injection for the fault-injection suite (test/faults): every hook is inert unless the SLUICE_FAULTS binding is set.

/** Faults the suite asked for, by hook name, with how many more times each fires. Empty in production. */
const armed = new Map<string, number>();

/** The error an armed hook throws, so logs tell an injected failure from a real one. */
export class InjectedFault extends Error {
  override readonly name = "InjectedFault";
}

/** Test-only: the next `times` passes through the hook named `hook` throw. */
export function armFault(hook: string, times = 1): void {
  armed.set(hook, (armed.get(hook) ?? 0) + times);
}

/** How many armed faults have not fired yet (the suite drains to zero before judging). */
export function armedFaults(): number {
  let n = 0;
  for (const left of armed.values()) n += left;
  return n;
}

/** A hook: throws when the suite armed `hook` and the SLUICE_FAULTS binding is on; otherwise does nothing. */
export function injectFault(env: Env, hook: string): void {
  if (!env.SLUICE_FAULTS) return;
  const left = armed.get(hook) ?? 0;
  if (left === 0) return;
  if (left === 1) armed.delete(hook);
  else armed.set(hook, left - 1);
  throw new InjectedFault(`injected fault at ${hook}`);
}
