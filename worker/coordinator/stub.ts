// How one Durable Object finds another: a coordinator per workflow, a pool per resource group of a workspace.
import { poolName } from "../core/tenancy.ts";

export function coordinatorFor(env: Env, workflowId: string) {
  return env.COORDINATOR.get(env.COORDINATOR.idFromName(workflowId));
}

/** A resource group belongs to its workspace (DESIGN §1): another workspace's group of the same name is another pool. */
export function poolFor(env: Env, workspaceId: string, resourceGroup: string) {
  return env.POOL.get(env.POOL.idFromName(poolName(workspaceId, resourceGroup)));
}
