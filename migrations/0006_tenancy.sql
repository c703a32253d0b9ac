CREATE TABLE `webhook_receipts` (
	`trigger_id` text NOT NULL,
	`webhook_id` text NOT NULL,
	`event_id` text NOT NULL,
	`received_at` integer NOT NULL,
	`instance_ids` text,
	`expires_at` integer NOT NULL,
	PRIMARY KEY(`trigger_id`, `webhook_id`)
);
--> statement-breakpoint
CREATE INDEX `webhook_receipts_expiry` ON `webhook_receipts` (`expires_at`);--> statement-breakpoint
CREATE TABLE `workspace_sources` (
	`workspace_id` text NOT NULL,
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	PRIMARY KEY(`workspace_id`, `kind`, `name`),
	FOREIGN KEY (`workspace_id`) REFERENCES `workspaces`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `workspace_sources_by_source` ON `workspace_sources` (`kind`,`name`);--> statement-breakpoint
-- The default workspace holds the installation's local sources (wrangler.toml), so the README walk-through works as before.
-- Other workspaces hold nothing until the bootstrap admin grants it (PUT /api/v1/workspaces/{id}/sources).
INSERT INTO `workspace_sources` (`workspace_id`, `kind`, `name`) VALUES ('default', 'bucket', 'uploads'), ('default', 'queue', 'user-behavior');
