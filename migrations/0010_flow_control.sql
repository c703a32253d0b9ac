CREATE TABLE `alert_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`workflow_id` text NOT NULL,
	`instance_id` text,
	`event` text NOT NULL,
	`url` text NOT NULL,
	`format` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`response_status` integer,
	`response` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `alert_deliveries_by_workflow` ON `alert_deliveries` (`workflow_id`,`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `alert_deliveries_created` ON `alert_deliveries` (`created_at`);--> statement-breakpoint
ALTER TABLE `instances` ADD `reason` text;--> statement-breakpoint
ALTER TABLE `instances` ADD `concurrency_key` text;--> statement-breakpoint
ALTER TABLE `trigger_events` ADD `message_full` text;--> statement-breakpoint
ALTER TABLE `trigger_events` ADD `replay_of` text;--> statement-breakpoint
CREATE INDEX `trigger_events_by_outcome` ON `trigger_events` (`trigger_id`,`outcome`,`received_at`,`id`);--> statement-breakpoint
ALTER TABLE `triggers` ADD `batch` text;--> statement-breakpoint
ALTER TABLE `triggers` ADD `debounce` text;--> statement-breakpoint
ALTER TABLE `triggers` ADD `paused` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `triggers` ADD `paused_at` integer;--> statement-breakpoint
ALTER TABLE `workflows` ADD `alert_secret` text;