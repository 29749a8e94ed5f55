-- Holds as pending ledger transactions, atomic event claims, per-refund bookings, Stripe-to-bank payouts of connected
-- accounts, earnings recovered from creators after refunds/disputes. Portable: H2 (MODE=MariaDB) and MariaDB 10.11.

-- payments_events becomes a claim table: a node inserts CLAIMED (the primary key makes the claim atomic across
-- nodes), applies the event, then marks it DONE. A claim whose lease ran out (its node died) may be taken over.
ALTER TABLE payments_events ADD COLUMN state VARCHAR(10) NOT NULL DEFAULT 'DONE';
ALTER TABLE payments_events ADD COLUMN claim_token VARCHAR(64);
ALTER TABLE payments_events ADD COLUMN lease_until_millis BIGINT NOT NULL DEFAULT 0;

-- A creator payout hold: a pending PAYOUT ledger transaction (key hold_key) reserving earnings until release_at.
-- NEW (amounts fixed, pending not yet created) -> OPEN -> PAID (posted by the payout line run_id) or VOIDING -> VOIDED
-- (released by a refund/dispute recovery, voided_by).
CREATE TABLE payments_holds (
    hold_key          VARCHAR(200)  NOT NULL,
    creator_id        VARCHAR(128)  NOT NULL,
    coins             BIGINT        NOT NULL,
    currency          VARCHAR(3)    NOT NULL,
    fiat_minor        BIGINT        NOT NULL,
    release_at_millis BIGINT        NOT NULL,
    state             VARCHAR(10)   NOT NULL,
    pending_id        BIGINT,
    posted_tx_id      BIGINT,
    run_id            VARCHAR(100),
    voided_by         VARCHAR(255),
    error             VARCHAR(1000),
    created_millis    BIGINT        NOT NULL,
    PRIMARY KEY (hold_key)
);
CREATE INDEX payments_holds_creator ON payments_holds (creator_id, state);
CREATE INDEX payments_holds_run ON payments_holds (run_id, creator_id);

-- One row per Stripe refund booked (a charge may have many partial refunds).
CREATE TABLE payments_refunds (
    refund_id          VARCHAR(255) NOT NULL,
    payment_intent_id  VARCHAR(255) NOT NULL,
    amount_minor       BIGINT       NOT NULL,
    coins              BIGINT       NOT NULL,
    clawback_tx_id     BIGINT,
    fiat_tx_id         BIGINT       NOT NULL,
    PRIMARY KEY (refund_id)
);
CREATE INDEX payments_refunds_pi ON payments_refunds (payment_intent_id);

-- Earnings taken back from a creator after the coins a refunded/disputed viewer gifted to them were clawed back.
-- PLANNED (coins attributed) -> DONE (adjustment posted: Dr CREATOR_EARNINGS / Cr the viewer's RECEIVABLE).
CREATE TABLE payments_recoveries (
    recovery_key   VARCHAR(255) NOT NULL,
    source_key     VARCHAR(255) NOT NULL,
    creator_id     VARCHAR(128) NOT NULL,
    user_id        VARCHAR(128) NOT NULL,
    coins_planned  BIGINT       NOT NULL,
    coins_taken    BIGINT       NOT NULL DEFAULT 0,
    state          VARCHAR(10)  NOT NULL,
    ledger_tx_id   BIGINT,
    created_millis BIGINT       NOT NULL,
    PRIMARY KEY (recovery_key)
);
CREATE INDEX payments_recoveries_source ON payments_recoveries (source_key);

-- Stripe payouts of connected accounts to the creators' banks (payout.* Connect events).
CREATE TABLE payments_connect_payouts (
    payout_id       VARCHAR(255) NOT NULL,
    account_id      VARCHAR(255) NOT NULL,
    creator_id      VARCHAR(128),
    amount_minor    BIGINT       NOT NULL,
    currency        VARCHAR(3)   NOT NULL,
    status          VARCHAR(20)  NOT NULL,
    paid_tx_id      BIGINT,
    failed_tx_id    BIGINT,
    created_epoch   BIGINT       NOT NULL,
    updated_millis  BIGINT       NOT NULL,
    PRIMARY KEY (payout_id)
);
CREATE INDEX payments_connect_payouts_created ON payments_connect_payouts (created_epoch);
