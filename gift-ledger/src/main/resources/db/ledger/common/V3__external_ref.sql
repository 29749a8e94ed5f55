-- An optional reference to the outside event a transaction records (e.g. a Stripe event id), unique, written in
-- the same database transaction as the postings: "event recorded" and "ledger effect" are one atomic fact.
-- NULL for most transactions (gifts); a unique index allows any number of NULLs on MariaDB and H2.
ALTER TABLE ledger_transactions ADD COLUMN external_ref VARCHAR(200) NULL;
CREATE UNIQUE INDEX ledger_transactions_external_ref ON ledger_transactions (external_ref);
