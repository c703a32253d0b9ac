// How one Durable Object finds another: a coordinator per workflow, a pool per resource group.

export function coordinatorFor(env: Env, workflowId: string) {
  return env.COORDINATOR.get(env.COORDINATOR.idFromName(workflowId));
}

export function poolFor(env: Env, resourceGroup: string) {
  return env.POOL.get(env.POOL.idFromName(resourceGroup));
}
