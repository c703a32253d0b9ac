// Objects: PUT/DELETE /buckets/{bucket}/objects/{key...} in R2 and, locally, R2's notification emulated (DESIGN §2.7).
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { SluiceError, notFound } from "../core/errors.ts";
import type { R2Notification } from "../core/triggers/index.ts";
import { requirePermission } from "../auth/keys.ts";
import { requireGrant } from "../db/sources.ts";
import { BUCKETS } from "../ingest/sources.ts";
import type { AppEnv } from "./context.ts";
import { router } from "./context.ts";
import { errors, json } from "./schemas.ts";

export const bucketsApi = router();

/** Workers accept request bodies up to 100 MB; larger files go to R2 directly (its notification rule still fires). */
export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;

const ObjectResult = z
  .object({
    bucket: z.string(),
    key: z.string(),
    size: z.number().optional(),
    eTag: z.string().optional(),
    notification: z.enum(["sent", "by-r2"]).openapi({ description: "sent: emulated by the Worker (EMULATE_R2_NOTIFICATIONS); by-r2: left to R2's notification rule" }),
  })
  .openapi("ObjectResult");

const params = z.object({
  bucket: z.string().openapi({ param: { name: "bucket", in: "path" }, example: "uploads" }),
  key: z.string().openapi({ param: { name: "key", in: "path" }, example: "input/test_file_20260310.csv" }),
});
const about =
  "`key` is the rest of the path and may contain `/` (percent-encode other reserved characters). With EMULATE_R2_NOTIFICATIONS on (the local default), " +
  "the Worker then sends the event notification R2 would, to the same queue; in production R2's notification rule does it.";

bucketsApi.openAPIRegistry.registerPath({
  method: "put",
  path: "/buckets/{bucket}/objects/{key}",
  tags: ["triggers"],
  summary: "Upload an object (PutObject)",
  description: about,
  request: { params, body: { content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } } },
  responses: { 201: json(ObjectResult, "Stored"), ...errors },
});
bucketsApi.openAPIRegistry.registerPath({
  method: "delete",
  path: "/buckets/{bucket}/objects/{key}",
  tags: ["triggers"],
  summary: "Delete an object (DeleteObject)",
  description: about,
  request: { params },
  responses: { 200: json(ObjectResult, "Deleted (deleting a missing key is not an error, as in R2)"), ...errors },
});

/**
 * The bucket and key of the request. The key is the rest of the raw path, decoded once: it may hold `/`, newlines,
 * anything R2 allows. Only a bucket granted to the caller's workspace is reachable (DESIGN §2.7).
 */
async function target(c: Context<AppEnv>) {
  // Changing a watched bucket starts prod runs, so it needs the right to run in prod.
  const principal = c.get("principal");
  requirePermission(principal, "runProd");
  const bucket = c.req.param("bucket")!;
  const binding = BUCKETS[bucket];
  if (!binding) throw notFound(`bucket '${bucket}' (buckets bound to this Worker: ${Object.keys(BUCKETS).join(", ")})`);
  await requireGrant(c.env.DB, principal.workspaceId, "bucket", bucket);
  const path = new URL(c.req.url).pathname;
  let key: string;
  try {
    key = decodeURIComponent(path.slice(path.indexOf("/objects/") + "/objects/".length));
  } catch {
    throw new SluiceError(400, "bad_request", "the object key in the path is not valid percent-encoding");
  }
  const bytes = new TextEncoder().encode(key).byteLength;
  if (bytes === 0 || bytes > 1024) throw new SluiceError(400, "bad_request", "an object key is 1 to 1024 bytes");
  return { bucket, key, r2: binding(c.env) };
}

/**
 * Sends what R2 would (account "local"). If the send fails the client sees a 500 and retries: a
 * re-put of the same content has the same eTag, so the default dedup key keeps it to one run.
 */
async function notify(c: Context<AppEnv>, notification: Omit<R2Notification, "account">): Promise<"sent" | "by-r2"> {
  if (c.env.EMULATE_R2_NOTIFICATIONS !== "true") return "by-r2";
  await c.env.R2_EVENTS.send({ account: "local", ...notification }, { contentType: "json" });
  return "sent";
}

// A wildcard, not a `:key{.+}` parameter: a regex parameter does not match a key with a newline.
bucketsApi.put(
  "/buckets/:bucket/objects/*",
  bodyLimit({
    maxSize: MAX_UPLOAD_BYTES,
    onError: () => {
      throw new SluiceError(413, "payload_too_large", `uploads through the API are at most ${MAX_UPLOAD_BYTES} bytes`);
    },
  }),
  async (c) => {
    const { bucket, key, r2 } = await target(c);
    const contentType = c.req.header("content-type");
    // With a Content-Length the body streams into R2 (R2 needs the length up front); without one it is buffered.
    const data = c.req.header("content-length") && c.req.raw.body ? c.req.raw.body : await c.req.arrayBuffer();
    const stored = await r2.put(key, data, contentType ? { httpMetadata: { contentType } } : undefined);
    const notification = await notify(c, {
      action: "PutObject",
      bucket,
      object: { key, size: stored.size, eTag: stored.etag },
      eventTime: stored.uploaded.toISOString(),
    });
    return c.json({ bucket, key, size: stored.size, eTag: stored.etag, notification }, 201);
  },
);

bucketsApi.delete("/buckets/:bucket/objects/*", async (c) => {
  const { bucket, key, r2 } = await target(c);
  await r2.delete(key);
  // R2 notifies a delete without size or eTag; its time is what tells two deletes of one key apart.
  const notification = await notify(c, { action: "DeleteObject", bucket, object: { key }, eventTime: new Date().toISOString() });
  return c.json({ bucket, key, notification }, 200);
});
