CREATE TABLE `run_definitions` (
	`hash` text PRIMARY KEY NOT NULL,
	`workspace_id` text NOT NULL,
	`workflow_id` text NOT NULL,
	`definition` text NOT NULL,
	`weights` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `instances` ADD `def_hash` text;--> statement-breakpoint
ALTER TABLE `instances` ADD `ordering_key` text;--> statement-breakpoint
ALTER TABLE `instances` ADD `priority_override` integer;--> statement-breakpoint
ALTER TABLE `instances` ADD `cyctime` integer;--> statement-breakpoint
CREATE INDEX `instances_def_hash` ON `instances` (`def_hash`);