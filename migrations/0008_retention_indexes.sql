CREATE INDEX `audit_at` ON `audit_events` (`at`);--> statement-breakpoint
CREATE INDEX `instances_finished` ON `instances` (`finished_at`);--> statement-breakpoint
CREATE INDEX `trigger_events_received` ON `trigger_events` (`received_at`);