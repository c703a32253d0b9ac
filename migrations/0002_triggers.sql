CREATE TABLE `trigger_events` (
	`id` text PRIMARY KEY NOT NULL,
	`trigger_id` text NOT NULL,
	`workspace_id` text NOT NULL,
	`received_at` integer NOT NULL,
	`last_received_at` integer NOT NULL,
	`deliveries` integer DEFAULT 1 NOT NULL,
	`source` text NOT NULL,
	`source_id` text,
	`dedup_key` text,
	`outcome` text NOT NULL,
	`detail` text NOT NULL,
	`instance_ids` text DEFAULT '[]' NOT NULL,
	`message` text NOT NULL,
	`message_truncated` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE INDEX `trigger_events_by_trigger` ON `trigger_events` (`trigger_id`,`received_at`,`id`);--> statement-breakpoint
CREATE TABLE `triggers` (
	`id` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`type` text NOT NULL,
	`source` text,
	`config` text NOT NULL,
	`filter` text,
	`dedup_key` text,
	`dedup_window_seconds` integer NOT NULL,
	`ordering_key` text,
	`enabled` integer DEFAULT true NOT NULL,
	`secret` text,
	`previous_secret` text,
	`previous_secret_until` integer,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `triggers_name` ON `triggers` (`workspace_id`,`name`);--> statement-breakpoint
CREATE INDEX `triggers_source` ON `triggers` (`type`,`source`);--> statement-breakpoint
ALTER TABLE `workflows` ADD `trigger_id` text;--> statement-breakpoint
ALTER TABLE `workflows` ADD `published_trigger_id` text;--> statement-breakpoint
CREATE INDEX `workflows_trigger` ON `workflows` (`trigger_id`);--> statement-breakpoint
CREATE INDEX `workflows_published_trigger` ON `workflows` (`published_trigger_id`);