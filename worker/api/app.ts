// The Hono app: auth, one router per resource under /api/v1, the OpenAPI document and one error shape.
import { OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { HTTPException } from "hono/http-exception";
import { SluiceError } from "../core/errors.ts";
import { API_CONTENT_SECURITY_POLICY, COMMON_SECURITY_HEADERS } from "../core/security-headers.ts";
import { authenticate, bearerFromWebSocketProtocol } from "../auth/keys.ts";
import type { AppEnv } from "./context.ts";
import { alertsApi } from "./alerts.ts";
import { bucketsApi } from "./buckets.ts";
import { bulkApi } from "./bulk.ts";
import { documentHooks, hooksApi } from "./hooks.ts";
import { instancesApi } from "./instances.ts";
import { keysApi } from "./keys.ts";
import { queuesApi } from "./queues.ts";
import { runnerApi } from "./runner.ts";
import { runnersApi } from "./runners.ts";
import { statsApi } from "./stats.ts";
import { runsApi } from "./runs.ts";
import { SCHEMA_PATHS, schemasRoute } from "./schemas-route.ts";
import { workspacesApi } from "./workspaces.ts";
import { audit } from "../auth/audit.ts";
import { triggerActivityApi } from "./trigger-activity.ts";
import { triggersApi } from "./triggers.ts";
import { triggerOpsApi } from "./trigger-ops.ts";
import { versionsApi } from "./versions.ts";
import { workflowsApi } from "./workflows.ts";

export const MAX_REQUEST_BYTES = 2 * 1024 * 1024;

export function createApp() {
  const app = new OpenAPIHono<AppEnv>();

  app.onError((err, c) => {
    if (err instanceof SluiceError) return c.json(err.toJSON(), err.status);
    if (err instanceof HTTPException) {
      const status = err.status;
      const code = status === 413 ? "payload_too_large" : status === 401 ? "unauthorized" : "bad_request";
      return c.json({ error: { code, message: err.message || "bad request", details: [] } }, status);
    }
    console.error("unhandled error", err);
    return c.json({ error: { code: "internal", message: "internal error; the request may be retried", details: [] } }, 500);
  });
  app.notFound((c) => c.json({ error: { code: "not_found", message: `no route for ${c.req.method} ${c.req.path}`, details: [] } }, 404));

  // API answers are data, never pages: no sniffing, no framing, no referrers, no caching of secrets; the same
  // headers as the console's (core/security-headers.ts), with a policy that lets a JSON answer load nothing.
  // (A WebSocket upgrade's 101 answer is left alone: rebuilding it would drop the socket.)
  const headers = secureHeaders({ xFrameOptions: "DENY", referrerPolicy: "no-referrer", crossOriginResourcePolicy: "same-origin" });
  app.use("*", async (c, next) => {
    if (c.req.header("upgrade")) return next();
    await headers(c, next);
    for (const [name, value] of Object.entries(COMMON_SECURITY_HEADERS)) c.res.headers.set(name, value);
    c.res.headers.set("content-security-policy", API_CONTENT_SECURITY_POLICY);
    if (c.req.path.startsWith("/api/v1/") && !c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
  });

  app.get("/api/v1/health", (c) => c.json({ ok: true }));
  // The API reference is a static page of the console's assets (web/api-docs, under the console's policy).
  app.get("/api/docs", (c) => c.redirect("/api-docs/", 302));

  const apiBodyLimit = bodyLimit({
    maxSize: MAX_REQUEST_BYTES,
    onError: () => {
      throw new SluiceError(413, "payload_too_large", `request bodies are at most ${MAX_REQUEST_BYTES} bytes`);
    },
  });
  // Object uploads have their own, larger limit (buckets.ts).
  app.use("/api/*", (c, next) => (c.req.path.startsWith("/api/v1/buckets/") ? next() : apiBodyLimit(c, next)));
  app.use("/api/v1/*", async (c, next) => {
    if (c.req.path === "/api/v1/openapi.json" || SCHEMA_PATHS.includes(c.req.path)) return next();
    c.set("principal", await authenticate(c.env, c.req.header("authorization") ?? bearerFromWebSocketProtocol(c.req.header("sec-websocket-protocol"))));
    return next();
  });
  app.use("/api/v1/*", audit);

  for (const api of [workflowsApi, versionsApi, runsApi, instancesApi, runnerApi, runnersApi, statsApi, keysApi, workspacesApi, triggersApi, triggerActivityApi, triggerOpsApi, queuesApi, bucketsApi]) {
    app.route("/api/v1", api);
  }
  app.route("/", schemasRoute); // GET /api/v1/schemas/{workflow,trigger}.json, no key (DESIGN §8)
  app.route("/api/v1", bulkApi); // POST /instances/bulk (DESIGN §2.10)
  app.route("/api/v1", alertsApi); // /workflows/{id}/alerts (DESIGN §2.10)
  // Signed webhooks: outside /api/v1, so no bearer key; the Standard Webhooks signature is the auth.
  app.route("/", hooksApi);
  documentHooks(app);

  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", { type: "http", scheme: "bearer" });
  app.doc31("/api/v1/openapi.json", {
    openapi: "3.1.0",
    info: { title: "Sluice API", version: "1.0.0", description: "Triggered workflows on Cloudflare Workers" },
    security: [{ apiKey: [] }],
  });
  return app;
}
