-- The row that orders closing a period against batches posting: every writer batch holds it shared (LOCK IN SHARE
-- MODE) from before it reads the closed period until it commits; closePeriod holds it exclusively (FOR UPDATE)
-- while it records the close. So a batch that read the old closed period commits before the close, and every
-- batch after the close sees it, also across processes.
INSERT INTO ledger_sequences (name, next_value) VALUES ('period', 0);
