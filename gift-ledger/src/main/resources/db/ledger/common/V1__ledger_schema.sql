-- Gift ledger schema, shared by MariaDB (InnoDB) and H2 (MODE=MariaDB).
-- Every table is prefixed ledger_. Money is BIGINT minor units; times are UTC DATETIME(6).
-- Postings carry signed amounts: debit > 0, credit < 0; per transaction and currency they sum to zero.

CREATE TABLE ledger_sequences (
    name        VARCHAR(32) NOT NULL PRIMARY KEY,
    next_value  BIGINT      NOT NULL
);
INSERT INTO ledger_sequences (name, next_value) VALUES ('id', 1);

CREATE TABLE ledger_accounts (
    id          BIGINT       NOT NULL PRIMARY KEY,
    kind        VARCHAR(32)  NOT NULL,
    owner       VARCHAR(128) NOT NULL,
    currency    VARCHAR(8)   NOT NULL,
    normal_side CHAR(1)      NOT NULL,
    flagged     BOOLEAN      NOT NULL DEFAULT FALSE,
    created_at  DATETIME(6)  NOT NULL
);
CREATE UNIQUE INDEX ledger_accounts_ref ON ledger_accounts (kind, owner, currency);

-- Cached balance per account: balance = SUM(ledger_postings.amount) (signed, debit-positive);
-- reserved = amount held by open pending transactions (normal-side units);
-- entry_count = number of postings, the per-account sequence that numbers ledger_postings.entry_no.
CREATE TABLE ledger_balances (
    account_id   BIGINT      NOT NULL PRIMARY KEY,
    balance      BIGINT      NOT NULL DEFAULT 0,
    reserved     BIGINT      NOT NULL DEFAULT 0,
    entry_count  BIGINT      NOT NULL DEFAULT 0,
    last_tx_id   BIGINT      NULL
);

CREATE TABLE ledger_transactions (
    id              BIGINT        NOT NULL PRIMARY KEY,
    idempotency_key VARCHAR(200)  NOT NULL,
    request_hash    CHAR(64)      NOT NULL,
    type            VARCHAR(32)   NOT NULL,
    effective_at    DATETIME(6)   NOT NULL,
    posted_at       DATETIME(6)   NOT NULL,
    reversal_of     BIGINT        NULL,
    metadata        VARCHAR(4000) NOT NULL
);
CREATE UNIQUE INDEX ledger_transactions_key ON ledger_transactions (idempotency_key);
CREATE UNIQUE INDEX ledger_transactions_reversal ON ledger_transactions (reversal_of);
CREATE INDEX ledger_transactions_effective ON ledger_transactions (effective_at);

CREATE TABLE ledger_postings (
    tx_id         BIGINT     NOT NULL,
    seq           INT        NOT NULL,
    account_id    BIGINT     NOT NULL,
    entry_no      BIGINT     NOT NULL,
    currency      VARCHAR(8) NOT NULL,
    amount        BIGINT     NOT NULL,
    balance_after BIGINT     NOT NULL,
    PRIMARY KEY (tx_id, seq)
);
CREATE UNIQUE INDEX ledger_postings_account ON ledger_postings (account_id, entry_no);

-- Two-phase transactions: state OPEN, POSTED or VOIDED. Lines hold signed amounts like postings.
CREATE TABLE ledger_pending (
    id              BIGINT        NOT NULL PRIMARY KEY,
    idempotency_key VARCHAR(200)  NOT NULL,
    request_hash    CHAR(64)      NOT NULL,
    type            VARCHAR(32)   NOT NULL,
    effective_at    DATETIME(6)   NULL,
    created_at      DATETIME(6)   NOT NULL,
    metadata        VARCHAR(4000) NOT NULL,
    state           VARCHAR(8)    NOT NULL,
    resolved_tx_id  BIGINT        NULL,
    resolved_at     DATETIME(6)   NULL
);
CREATE UNIQUE INDEX ledger_pending_key ON ledger_pending (idempotency_key);

CREATE TABLE ledger_pending_lines (
    pending_id  BIGINT     NOT NULL,
    seq         INT        NOT NULL,
    account_id  BIGINT     NOT NULL,
    currency    VARCHAR(8) NOT NULL,
    amount      BIGINT     NOT NULL,
    PRIMARY KEY (pending_id, seq)
);

-- Nothing may be posted with an effective time before the latest closed_through.
CREATE TABLE ledger_closed_periods (
    closed_through DATETIME(6) NOT NULL PRIMARY KEY,
    closed_at      DATETIME(6) NOT NULL
);
