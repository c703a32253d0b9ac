// The API's shapes as the console names them: aliases of the types generated from the OpenAPI document
// (schema.d.ts), so the console cannot drift from the server.
import type { components, paths } from "./schema.d.ts";

type Schemas = components["schemas"];
/** The JSON body of a path's answer (200 unless named). */
type Answer<P extends keyof paths, M extends keyof paths[P], S extends number = 200> = paths[P][M] extends {
  responses: { [K in S]: { content: { "application/json": infer T } } };
}
  ? T
  : never;

export type { ErrorDetail } from "./client.ts";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

// Workflows and their definitions
type Definition = Schemas["WorkflowDefinition"];
type NodeInput = Definition["nodes"][number];
type HttpInput = NonNullable<NodeInput["http"]>;
/** An http node's request as the server answers it (method and headers filled in). */
export type HttpRequest = HttpInput & Required<Pick<HttpInput, "method" | "headers">>;
/** A node as the server answers it: the fields it defaults are always there. */
export type NodeDefinition = Omit<NodeInput, "http"> & Required<Pick<NodeInput, "code" | "params" | "timeoutSeconds">> & { http?: HttpRequest };
/** A definition as the server answers it (defaults filled); the policy's own fields stay optional, as the editor keeps them. */
export type WorkflowDefinition = Omit<Definition, "nodes"> & Required<Pick<Definition, "description" | "params" | "policy" | "edges">> & { nodes: NodeDefinition[] };
export type SchedulingPolicy = NonNullable<Definition["policy"]>;
export type AlertRule = NonNullable<SchedulingPolicy["alerts"]>[number];
export type AlertEvent = AlertRule["on"][number];
export type OverlapPolicy = NonNullable<SchedulingPolicy["overlap"]>;
export type BranchCondition = NonNullable<NodeInput["conditions"]>[number];
export type Edge = Schemas["Edge"];
/** The priority levels (DESIGN §2.9); the document says `number`, a refinement checks the level. */
export type Priority = 1 | 3 | 5 | 7 | 8;
export type Workflow = Omit<Schemas["Workflow"], "definition"> & { definition: WorkflowDefinition };
export type WorkflowSummary = Schemas["WorkflowSummary"];
export type WorkflowListItem = Schemas["WorkflowListItem"];
export type LastRun = NonNullable<Schemas["LastRun"]>;
export type VersionSummary = Answer<"/api/v1/workflows/{id}/versions", "get">["items"][number];
export type WorkflowVersion = Omit<Schemas["WorkflowVersion"], "definition"> & { definition: WorkflowDefinition };
export type Comparison = Schemas["Comparison"];
export type FieldChange = Schemas["FieldChange"];
export type DiffHunk = Schemas["DiffHunk"];

// Runs and instances
export type RunRequest = Schemas["RunRequest"];
export type InstanceSummary = Schemas["InstanceSummary"];
export type Instance = Schemas["Instance"];
export type NodeRun = Schemas["NodeRun"];
export type Env = InstanceSummary["env"];
export type InstanceStatus = InstanceSummary["status"];
export type NodeStatus = NodeRun["status"];
export type TriggerType = InstanceSummary["triggerType"];
export type InstanceFilter = Pick<NonNullable<paths["/api/v1/instances"]["get"]["parameters"]["query"]>, "workflowId" | "status" | "env">;
export type BulkAction = Schemas["BulkRequest"]["action"];
export type BulkFilter = Schemas["BulkRequest"]["filter"];
export type BulkResult = Schemas["BulkResult"];
export type AlertDelivery = Schemas["AlertDelivery"];

// Triggers
/** A trigger; GET /triggers/{id} adds the workflows that select it, and the answer that created a webhook its secret. */
export type Trigger = Schemas["Trigger"] & Partial<Pick<Schemas["TriggerDetail"], "workflows">> & Partial<Pick<Schemas["CreatedTrigger"], "secret">>;
export type TriggerKind = Trigger["type"];
export type TriggerInput = Schemas["TriggerInput"];
/** Every type's config fields in one bag, as the trigger form edits them. */
export type TriggerConfig = Partial<Schemas["R2TriggerConfig"] & Schemas["QueueTriggerConfig"]>;
export type TriggerEvent = Schemas["TriggerEvent"];
export type EventOutcome = TriggerEvent["outcome"];
export type ReplayResult = Schemas["ReplayedEvent"];
export type ResumeResult = Schemas["ResumedTrigger"];
export type TriggerTestResult = Schemas["TriggerTestResult"];

// Runners and the workspace's Durable Objects
export type Runner = Answer<"/api/v1/runners", "get">["items"][number];
export type Stats = Schemas["Stats"];
