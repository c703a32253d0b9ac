// The Hono environment shared by every router: bindings and the authenticated principal.
import { OpenAPIHono } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { SluiceError, type ErrorDetail } from "../core/errors.ts";
import type { Principal } from "../auth/keys.ts";

/** `auditWritten`: the handler had its audit row written with other rows (a run's coordinator mirror), so the middleware writes none. */
export type AppEnv = { Bindings: Env; Variables: { principal: Principal; auditWritten?: boolean } };

type Issue = ZodError["issues"][number];

/** A branch that does not know a key the sender wrote at its top (e.g. `runs`) is not the shape they meant. */
const refusesSentKeys = (branch: Issue[]) => branch.some((i) => i.code === "unrecognized_keys" && i.path.length === 0);

/**
 * A failed union reports every branch's issues; of the branches that know every top-level key sent, the
 * one with the fewest is what the sender most likely meant, so its issues (under the union's path) are named.
 */
function closestIssues(issue: Issue): Issue[] {
  if (issue.code !== "invalid_union" || issue.errors.length === 0) return [issue];
  const candidates = issue.errors.some((b) => !refusesSentKeys(b)) ? issue.errors.filter((b) => !refusesSentKeys(b)) : issue.errors;
  const branch = candidates.reduce((best, next) => (next.length < best.length ? next : best));
  if (branch.length === 0) return [issue];
  return branch.flatMap((inner) => closestIssues({ ...inner, path: [...issue.path, ...inner.path] } as Issue));
}

export function zodDetails(error: ZodError): ErrorDetail[] {
  return error.issues.flatMap(closestIssues).map((issue) => {
    const path = issue.path
      .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
      .join("");
    return { path: path || undefined, message: path ? `${path}: ${issue.message}` : issue.message };
  });
}

/** A router whose request validation failures use Sluice's error shape (DESIGN §2.2). */
export function router() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const details = zodDetails(result.error as ZodError);
        throw new SluiceError(400, "bad_request", details.map((d) => d.message).join("; "), details);
      }
    },
  });
}
