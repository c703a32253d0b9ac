// The Cloudflare Workflows peer of the benchmarks: a chain of noop steps and a one-step workflow, created and read over HTTP.
import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";

interface Env {
  CHAIN: Workflow<ChainParams>;
  SINGLE: Workflow;
}

interface ChainParams {
  steps: number;
}

/** What every instance returns: its first step's start and the end of `run`, on the Worker's clock (ms). */
export interface PeerOutput {
  startedAt: number;
  finishedAt: number;
}

/** `steps` noop steps one after another in one instance: the peer of Sluice's 400-node noop chain. */
export class ChainWorkflow extends WorkflowEntrypoint<Env, ChainParams> {
  override async run(event: WorkflowEvent<ChainParams>, step: WorkflowStep): Promise<PeerOutput> {
    const startedAt = await step.do("s0", async () => Date.now());
    for (let i = 1; i < event.payload.steps; i++) await step.do(`s${i}`, async () => i);
    return { startedAt, finishedAt: Date.now() };
  }
}

/** One step that records when it started: the peer of a one-`noop` Sluice workflow. */
export class SingleStepWorkflow extends WorkflowEntrypoint<Env> {
  override async run(_event: WorkflowEvent<unknown>, step: WorkflowStep): Promise<PeerOutput> {
    const startedAt = await step.do("a", async () => Date.now());
    return { startedAt, finishedAt: Date.now() };
  }
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;
    try {
      if (route === "GET /health") return json({ ok: true });
      // One instance per request, as a client of the Workflows binding would start one.
      if (route === "POST /chain") {
        const { steps } = (await request.json()) as ChainParams;
        return json({ id: (await env.CHAIN.create({ params: { steps } })).id }, 201);
      }
      if (route === "POST /single") return json({ id: (await env.SINGLE.create()).id }, 201);
      // createBatch: up to 100 instances in one call, Workflows' own way to start many.
      if (route === "POST /single/batch") {
        const { count } = (await request.json()) as { count: number };
        const { created, errors } = await env.SINGLE.createBatch({ count });
        return json({ ids: created.map((i) => i.id), errors }, errors.length ? 500 : 201);
      }
      // Statuses of many instances in one request, so the client's polling costs one round trip.
      if (route === "POST /status") {
        const { workflow, ids } = (await request.json()) as { workflow: "chain" | "single"; ids: string[] };
        const binding = workflow === "chain" ? env.CHAIN : env.SINGLE;
        // An id createBatch just returned can be not_found for a moment (its engine starts in the background): still pending.
        const items = await Promise.all(
          ids.map(async (id) => {
            try {
              const { status, error, output } = await (await binding.get(id)).status();
              return { id, status, error, output };
            } catch {
              return { id, status: "unknown" };
            }
          }),
        );
        return json({ items });
      }
      return json({ error: `no route ${route}` }, 404);
    } catch (err) {
      return json({ error: err instanceof Error ? err.message : String(err) }, 500);
    }
  },
} satisfies ExportedHandler<Env>;
