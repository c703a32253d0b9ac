// The one error type of Sluice: a status, a machine-readable code and a message a person can act on.

export type ErrorCode =
  | "bad_request"
  | "validation_failed"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "not_published"
  | "payload_too_large"
  | "lease_lost"
  | "runner_not_registered"
  | "internal";

export interface ErrorDetail {
  /** Where the problem is, e.g. `nodes[3].type` or `edges[0].to`. */
  path?: string;
  message: string;
}

export class SluiceError extends Error {
  // Plain fields, not constructor parameter properties: erasableSyntaxOnly (and Node's type stripping) reject those.
  readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 422 | 500;
  readonly code: ErrorCode;
  readonly details: ErrorDetail[];

  constructor(
    status: 400 | 401 | 403 | 404 | 409 | 413 | 422 | 500,
    code: ErrorCode,
    message: string,
    details: ErrorDetail[] = [],
  ) {
    super(message);
    this.name = "SluiceError";
    this.status = status;
    this.code = code;
    this.details = details;
  }

  toJSON() {
    return { error: { code: this.code, message: this.message, details: this.details } };
  }
}

export const badRequest = (message: string, details: ErrorDetail[] = []) =>
  new SluiceError(400, "bad_request", message, details);

/** A definition that breaks a rule of DESIGN §2.2; every broken rule is one detail. */
export const invalidDefinition = (details: ErrorDetail[]) =>
  new SluiceError(
    400,
    "validation_failed",
    details.length === 1 ? details[0]!.message : `${details.length} problems in the workflow definition: ${details[0]!.message} …`,
    details,
  );

export const notFound = (what: string) => new SluiceError(404, "not_found", `${what} was not found`);
export const conflict = (message: string) => new SluiceError(409, "conflict", message);
export const unauthorized = (message = "a valid API key is required: Authorization: Bearer <key>") =>
  new SluiceError(401, "unauthorized", message);
export const forbidden = (message: string) => new SluiceError(403, "forbidden", message);
/** A runner id the pool did not issue to this token (or another workspace's): the runner must register (again). */
export const runnerNotRegistered = (runnerId: string) =>
  new SluiceError(
    403,
    "runner_not_registered",
    `runner ${runnerId} is not registered with this token in its resource group; register with POST /api/v1/runner/register and use the id it returns`,
  );
export const leaseLost = (attemptId: string) =>
  new SluiceError(409, "lease_lost", `attempt ${attemptId} no longer holds its lease; its result is refused`);

/**
 * A SluiceError cannot cross a Durable Object RPC boundary intact (only its message survives), so
 * object methods return this instead of throwing, and the API turns it back into the error.
 */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: { status: SluiceError["status"]; code: ErrorCode; message: string; details: ErrorDetail[] } };

export function toOutcome<T>(run: () => T): Outcome<T> {
  try {
    return { ok: true, value: run() };
  } catch (err) {
    if (err instanceof SluiceError) return { ok: false, error: { status: err.status, code: err.code, message: err.message, details: err.details } };
    throw err;
  }
}

export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  const { status, code, message, details } = outcome.error;
  throw new SluiceError(status, code, message, details);
}
