// Versioned schemas for Durable Object SQLite: each statement runs once, in order; releases only append.

export function applySchema(sql: SqlStorage, statements: readonly string[]): void {
  sql.exec(`CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)`);
  const done = sql.exec<{ v: number | null }>(`SELECT MAX(version) AS v FROM _schema`).one().v ?? 0;
  for (let v = done; v < statements.length; v++) {
    sql.exec(statements[v]!);
    sql.exec(`INSERT INTO _schema (version) VALUES (?)`, v + 1);
  }
}
