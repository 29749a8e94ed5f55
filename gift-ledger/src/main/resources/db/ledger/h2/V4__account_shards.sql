-- Hot credit accounts (platform gift revenue, creator earnings) are split into shard rows so that writers in
-- parallel do not serialize on one balance row: one logical account (kind, owner, currency) = shards 0..n.
ALTER TABLE ledger_accounts ADD COLUMN shard INT NOT NULL DEFAULT 0;
DROP INDEX ledger_accounts_ref;
CREATE UNIQUE INDEX ledger_accounts_ref ON ledger_accounts (kind, owner, currency, shard);
