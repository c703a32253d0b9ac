// The runner's sentinel errors: how a failed request to the Sluice Worker is classified.

/** 401: the runner token is wrong or revoked. Fatal: retrying cannot help. */
export class RunnerUnauthorizedError extends Error {
  override name = "RunnerUnauthorizedError";
}

/** 409 on a log or completion: the server gave this attempt's lease away (DESIGN §2.6 fencing). */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
}

/** Network failure, timeout, 429 or 5xx: the same request may succeed if retried. */
export class TransientRequestError extends Error {
  override name = "TransientRequestError";
}

/** Any other 4xx: the server refused this request; retrying it unchanged would be refused again. */
export class RequestRejectedError extends Error {
  override name = "RequestRejectedError";
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}


/**
 * 403 runner_not_registered: the server did not issue this runner id to this token (e.g. it was registered
 * against another installation or resource group). The runner registers again and carries on.
 */
export class RunnerNotRegisteredError extends RequestRejectedError {
  override name = "RunnerNotRegisteredError";
}
