// The queues this Worker consumes (wrangler.toml): R2 notifications, and trigger queues with their producer bindings.

/** R2 event notifications arrive here (production: an R2 notification rule; locally: the upload endpoint). */
export const R2_EVENTS_QUEUE = "sluice-r2-events";

/** Queues a queue trigger may name: each is consumed by this Worker and has a producer binding for HTTP sends. */
export const TRIGGER_QUEUES: Record<string, (env: Env) => Queue> = {
  "user-behavior": (env) => env.USER_BEHAVIOR,
};

export const triggerQueueNames = () => Object.keys(TRIGGER_QUEUES);
