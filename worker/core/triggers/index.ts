// Triggers (DESIGN §2.7): the pure decisions the ingest adapters, webhooks and trigger API rely on.
export * from "./bench.ts";
export * from "./config.ts";
export * from "./decide.ts";
export * from "./filter.ts";
export * from "./gather.ts";
export * from "./hash.ts";
export * from "./kept.ts";
export * from "./queue-record.ts";
export * from "./r2.ts";
export * from "./templates.ts";
export * from "./webhook-replay.ts";
export * from "./webhook-signature.ts";
