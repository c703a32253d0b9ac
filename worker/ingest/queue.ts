// Queue consumer: trigger ingestion (R2 notifications and queue messages → runs) arrives with issue 4.
// Until then every message is retried and, after max_retries, kept in the dead-letter queue: never dropped.

export async function consumeBatch(batch: MessageBatch<unknown>): Promise<void> {
  console.warn(`sluice: ${batch.messages.length} message(s) on ${batch.queue} not consumed yet (trigger ingestion is not built); retrying`);
  batch.retryAll();
}
