// Queue messages as Kafka-like records: the trigger message of a queue trigger (DESIGN §2.7).

export interface QueueRecord {
  topic: string;
  key: string | null;
  /** Always a string: nodes parse it themselves, as with a Kafka record's value. */
  value: string;
  headers: Record<string, string>;
  /** When the message was sent to the queue, in epoch milliseconds. */
  timestamp: number;
  id: string;
}

const PRODUCER_FIELDS = new Set(["key", "value", "headers"]);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === "object" && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

const isStringRecord = (v: unknown): v is Record<string, string> => isPlainObject(v) && Object.values(v).every((x) => typeof x === "string");

/** A producer body `{ key?, value, headers? }`: anything else is a value of its own. */
function producerShape(body: unknown): { key: string | null; value: unknown; headers: Record<string, string> } | null {
  if (!isPlainObject(body) || !("value" in body)) return null;
  if (!Object.keys(body).every((k) => PRODUCER_FIELDS.has(k))) return null;
  const { key, value, headers } = body;
  if (key !== undefined && key !== null && typeof key !== "string") return null;
  if (headers !== undefined && !isStringRecord(headers)) return null;
  return { key: key ?? null, value, headers: headers ?? {} };
}

const asValue = (value: unknown) => (typeof value === "string" ? value : JSON.stringify(value) ?? "null");

/**
 * `{key, value}` maps onto the record; a string body is the value; any other JSON body becomes the
 * value as a JSON string, so `${workflow.triggerMessage.value}` is always text.
 */
export function queueRecord(topic: string, body: unknown, meta: { id: string; timestamp: number }): QueueRecord {
  const shaped = producerShape(body);
  return {
    topic,
    key: shaped ? shaped.key : null,
    value: asValue(shaped ? shaped.value : body),
    headers: shaped ? shaped.headers : {},
    timestamp: meta.timestamp,
    id: meta.id,
  };
}
