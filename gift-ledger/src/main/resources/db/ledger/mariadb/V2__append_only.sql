-- Postings and transactions are append-only: a mistake is corrected by a reversing transaction.
CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ledger_postings is append-only';
CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ledger_postings is append-only';
CREATE TRIGGER ledger_transactions_no_update BEFORE UPDATE ON ledger_transactions FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ledger_transactions is append-only';
CREATE TRIGGER ledger_transactions_no_delete BEFORE DELETE ON ledger_transactions FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ledger_transactions is append-only';
