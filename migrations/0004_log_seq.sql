ALTER TABLE `node_logs` ADD `seq` integer;--> statement-breakpoint
CREATE UNIQUE INDEX `node_logs_run_seq` ON `node_logs` (`node_run_id`,`seq`);