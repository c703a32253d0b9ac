// Object upload: PUT /buckets/{bucket}/objects/{key...} stores in R2 and, locally, emulates R2's notification (DESIGN §2.7).
import { z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { SluiceError, notFound } from "../core/errors.ts";
import type { R2Notification } from "../core/triggers/index.ts";
import { requirePermission } from "../auth/keys.ts";
import { router } from "./context.ts";
import { errors, json } from "./schemas.ts";

export const bucketsApi = router();

/** Buckets bound to this Worker, by name (wrangler.toml r2_buckets). */
const BUCKETS: Record<string, (env: Env) => R2Bucket> = { uploads: (env) => env.UPLOADS };
/** Workers accept request bodies up to 100 MB; larger files go to R2 directly (its notification rule still fires). */
export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;

const Uploaded = z
  .object({ bucket: z.string(), key: z.string(), size: z.number(), eTag: z.string(), notification: z.enum(["sent", "by-r2"]) })
  .openapi("UploadedObject");

bucketsApi.openAPIRegistry.registerPath({
  method: "put",
  path: "/buckets/{bucket}/objects/{key}",
  tags: ["triggers"],
  summary: "Upload an object",
  description:
    "`key` is the rest of the path and may contain `/` (percent-encode other reserved characters). With EMULATE_R2_NOTIFICATIONS on (the local default), " +
    "the Worker then sends the same event notification R2 would, to the same queue; in production R2's notification rule does it.",
  request: {
    params: z.object({ bucket: z.string().openapi({ param: { name: "bucket", in: "path" }, example: "uploads" }), key: z.string().openapi({ param: { name: "key", in: "path" }, example: "input/test_file_20260310.csv" }) }),
    body: { content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } } },
  },
  responses: { 201: json(Uploaded, "Stored"), ...errors },
});

/** The key is the rest of the raw path, decoded once: it may hold `/`, newlines and anything else R2 allows. */
function objectKey(url: string): string {
  const path = new URL(url).pathname;
  const raw = path.slice(path.indexOf("/objects/") + "/objects/".length);
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new SluiceError(400, "bad_request", "the object key in the path is not valid percent-encoding");
  }
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
    // Uploading to a watched bucket starts prod runs, so it needs the right to run in prod.
    requirePermission(c.get("principal"), "runProd");
    const bucket = c.req.param("bucket");
    const key = objectKey(c.req.url);
    const binding = BUCKETS[bucket];
    if (!binding) throw notFound(`bucket '${bucket}' (buckets bound to this Worker: ${Object.keys(BUCKETS).join(", ")})`);
    const keyBytes = new TextEncoder().encode(key).byteLength;
    if (keyBytes === 0 || keyBytes > 1024) throw new SluiceError(400, "bad_request", "an object key is 1 to 1024 bytes");
    const contentType = c.req.header("content-type");
    // With a Content-Length the body streams into R2 (R2 needs the length up front); without one it is buffered.
    const data = c.req.header("content-length") && c.req.raw.body ? c.req.raw.body : await c.req.arrayBuffer();
    const stored = await binding(c.env).put(key, data, contentType ? { httpMetadata: { contentType } } : undefined);
    const emulate = c.env.EMULATE_R2_NOTIFICATIONS === "true";
    if (emulate) {
      const notification: R2Notification = {
        account: "local",
        action: "PutObject",
        bucket,
        object: { key, size: stored.size, eTag: stored.etag },
        eventTime: stored.uploaded.toISOString(),
      };
      // If this send fails the client sees a 500 and retries the PUT: the same content has the same
      // eTag, so the default dedup key (bucket/key@eTag) keeps a repeated notification from running twice.
      await c.env.R2_EVENTS.send(notification, { contentType: "json" });
    }
    return c.json({ bucket, key, size: stored.size, eTag: stored.etag, notification: emulate ? ("sent" as const) : ("by-r2" as const) }, 201);
  },
);
