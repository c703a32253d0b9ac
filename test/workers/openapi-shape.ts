// Walks the JSON answers of an OpenAPI document for schemas that say nothing: an object with no properties
// (a bare map or an empty schema) where the API knows the structure. Fields that are free-form by design are
// allowed by name.

/** Fields whose value is genuinely free-form or a map keyed by user names. */
export const FREE_FORM_FIELDS: ReadonlySet<string> = new Set([
  "triggerMessage", // a trigger message: whatever the source delivered
  "message", // a trigger event's message, as the source delivers it
  "params", // workflow and node parameters, by parameter name
  "outputs", // a node's outputs, by output name
  "env", // a runner task's environment variables
  "headers", // an HTTP node's request headers
  "positions", // the canvas position of each node, by node name
  "weights", // each node's weight, by node name
  "target", // what an audited request acted on, by kind
  "before", // a compared field's old value: any JSON
  "after", // a compared field's new value: any JSON
]);

type Schema = Record<string, any>;
interface Doc {
  paths: Record<string, Record<string, { responses?: Record<string, { content?: Record<string, { schema?: Schema }> }> }>>;
  components?: { schemas?: Record<string, Schema> };
}

const ANNOTATIONS = new Set(["description", "example", "examples", "title", "default", "format", "deprecated"]);

/** Every place under a JSON answer whose schema is structureless and not a free-form field, as readable paths. */
export function structurelessSchemas(doc: Doc): string[] {
  const found: string[] = [];
  const visit = (schema: Schema | undefined, where: string, field: string | null, seen: Set<string>) => {
    if (!schema || typeof schema !== "object") return;
    if (typeof schema.$ref === "string") {
      const name = schema.$ref.split("/").pop()!;
      if (seen.has(name)) return;
      const target = doc.components?.schemas?.[name];
      if (!target) return void found.push(`${where}: dangling $ref ${schema.$ref}`);
      return visit(target, `${where} → ${name}`, field, new Set([...seen, name]));
    }
    const allowed = field !== null && FREE_FORM_FIELDS.has(field);
    const meaningful = Object.keys(schema).filter((k) => !ANNOTATIONS.has(k));
    const bareMap = schema.additionalProperties !== undefined && schema.additionalProperties !== false && !schema.properties;
    const bareObject = schema.type === "object" && !schema.properties && schema.additionalProperties === undefined;
    if (!allowed && (meaningful.length === 0 || bareMap || bareObject)) found.push(`${where}: no properties`);
    for (const [name, child] of Object.entries<Schema>(schema.properties ?? {})) visit(child, `${where}.${name}`, name, seen);
    if (schema.items) visit(schema.items, `${where}[]`, field, seen);
    for (const key of ["anyOf", "oneOf", "allOf"]) for (const part of schema[key] ?? []) visit(part, where, field, seen);
  };
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        const schema = response.content?.["application/json"]?.schema;
        if (schema) visit(schema, `${method.toUpperCase()} ${path} ${status}`, null, new Set());
      }
    }
  }
  return found;
}
