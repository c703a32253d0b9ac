// API keys and runner tokens: stored as SHA-256 hashes, the bootstrap admin key compared in constant time.
import { and, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { forbidden, unauthorized } from "../core/errors.ts";
import { apiKeys } from "../db/schema.ts";

export type Role = "admin" | "developer" | "operator" | "viewer" | "runner";
export const ROLES = ["admin", "developer", "operator", "viewer", "runner"] as const;

export interface Principal {
  keyId: string;
  workspaceId: string;
  role: Role;
  /** Set for runner tokens: the one resource group they may pull from. */
  resourceGroup: string | null;
}

const encoder = new TextEncoder();

/** The principal of SLUICE_ADMIN_TOKEN: admin of the default workspace, and the only one who creates workspaces. */
export const BOOTSTRAP_KEY_ID = "bootstrap-admin";

export async function hashKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(key));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function sameSecret(a: string, b: string): Promise<boolean> {
  // Comparing fixed-length digests keeps the time independent of where the strings differ.
  const [da, db] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(da, db);
}

/**
 * Browsers cannot set headers on a WebSocket, so the console offers its key as a subprotocol:
 * `new WebSocket(url, ["sluice.v1", "bearer.<key>"])`. Never in the URL, where logs would keep it.
 */
export function bearerFromWebSocketProtocol(header: string | undefined): string | undefined {
  const offered = header?.split(",").map((p) => p.trim()).find((p) => p.startsWith("bearer."));
  return offered ? `Bearer ${offered.slice("bearer.".length)}` : undefined;
}

/**
 * Verified keys, per isolate: runners call several times a second, and each lookup costs digests and
 * a D1 round trip. A revoked key keeps working for at most this long in an isolate that saw it.
 */
const VERIFIED_TTL_MS = 30_000;
const verified = new Map<string, { principal: Principal; until: number }>();

export async function authenticate(env: Env, authorization: string | undefined): Promise<Principal> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  if (!match) throw unauthorized();
  const key = match[1]!;
  const cached = verified.get(key);
  if (cached && cached.until > Date.now()) return cached.principal;
  const principal = await lookUp(env, key);
  if (verified.size > 10_000) verified.clear();
  verified.set(key, { principal, until: Date.now() + VERIFIED_TTL_MS });
  return principal;
}

/** Forgets cached verifications, e.g. after a key is revoked in this isolate. */
export function forgetVerifiedKeys(): void {
  verified.clear();
}

async function lookUp(env: Env, key: string): Promise<Principal> {
  if (env.SLUICE_ADMIN_TOKEN && (await sameSecret(key, env.SLUICE_ADMIN_TOKEN))) {
    return { keyId: BOOTSTRAP_KEY_ID, workspaceId: "default", role: "admin", resourceGroup: null };
  }
  // The lookup is by hash, so response time reveals nothing about a valid key's characters.
  const row = await drizzle(env.DB)
    .select()
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, await hashKey(key)), isNull(apiKeys.revokedAt)))
    .get();
  if (!row) throw unauthorized("this API key is not valid (unknown or revoked)");
  return { keyId: row.id, workspaceId: row.workspaceId, role: row.role as Role, resourceGroup: row.resourceGroup };
}

/** Which roles may do what; runners may only use the runner protocol. */
const CAN: Record<"read" | "edit" | "runDev" | "runProd" | "admin" | "runner", readonly Role[]> = {
  read: ["admin", "developer", "operator", "viewer"],
  edit: ["admin", "developer"],
  runDev: ["admin", "developer"],
  runProd: ["admin", "operator"],
  admin: ["admin"],
  runner: ["runner"],
};
export type Permission = keyof typeof CAN;

export function requirePermission(principal: Principal, permission: Permission): void {
  if (!CAN[permission].includes(principal.role)) {
    throw forbidden(`the ${principal.role} role may not do this (needs one of: ${CAN[permission].join(", ")})`);
  }
}
