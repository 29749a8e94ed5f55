-- Postings and transactions are append-only: a mistake is corrected by a reversing transaction.
-- H2 triggers are Java classes; this one throws on every UPDATE or DELETE.
CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE, DELETE ON ledger_postings FOR EACH ROW
    CALL 'dev.ovation.ledger.h2.AppendOnlyTrigger';
CREATE TRIGGER ledger_transactions_no_update BEFORE UPDATE, DELETE ON ledger_transactions FOR EACH ROW
    CALL 'dev.ovation.ledger.h2.AppendOnlyTrigger';
