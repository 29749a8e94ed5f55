-- Payments module tables (history table flyway_history_payments). Portable: H2 (MODE=MariaDB) and MariaDB 10.11.

-- Every Stripe event applied (or acknowledged and ignored), once: the primary key is the exactly-once guard.
CREATE TABLE payments_events (
    event_id        VARCHAR(255) NOT NULL,
    event_type      VARCHAR(100) NOT NULL,
    created_epoch   BIGINT       NOT NULL,
    outcome         VARCHAR(20)  NOT NULL,
    recorded_millis BIGINT       NOT NULL,
    PRIMARY KEY (event_id)
);

-- A purchase started by a viewer; the key is user id + ':' + the caller's idempotency key.
CREATE TABLE payments_purchases (
    purchase_key     VARCHAR(400)  NOT NULL,
    user_id          VARCHAR(128)  NOT NULL,
    pack_id          VARCHAR(64)   NOT NULL,
    mode             VARCHAR(20)   NOT NULL,
    stripe_object_id VARCHAR(255)  NOT NULL,
    redirect_url     VARCHAR(2048),
    client_secret    VARCHAR(512),
    created_millis   BIGINT        NOT NULL,
    PRIMARY KEY (purchase_key)
);

-- One row per fulfilled PaymentIntent: coins credited once per Stripe payment.
CREATE TABLE payments_fulfilments (
    payment_intent_id      VARCHAR(255) NOT NULL,
    user_id                VARCHAR(128) NOT NULL,
    coins                  BIGINT       NOT NULL,
    currency               VARCHAR(3)   NOT NULL,
    gross_minor            BIGINT       NOT NULL,
    fee_minor              BIGINT       NOT NULL,
    charge_id              VARCHAR(255) NOT NULL,
    ledger_tx_id           BIGINT       NOT NULL,
    refunded_minor         BIGINT       NOT NULL DEFAULT 0,
    clawed_back_coins      BIGINT       NOT NULL DEFAULT 0,
    created_millis         BIGINT       NOT NULL,
    PRIMARY KEY (payment_intent_id)
);
CREATE INDEX payments_fulfilments_charge ON payments_fulfilments (charge_id);

-- Stripe balance transaction id -> the ledger transaction that books it (for reconciliation).
CREATE TABLE payments_ledger_links (
    stripe_id      VARCHAR(255) NOT NULL,
    category       VARCHAR(20)  NOT NULL,
    source_id      VARCHAR(255) NOT NULL,
    ledger_tx_id   BIGINT       NOT NULL,
    currency       VARCHAR(3)   NOT NULL,
    net_minor      BIGINT       NOT NULL,
    created_epoch  BIGINT       NOT NULL,
    PRIMARY KEY (stripe_id)
);
CREATE INDEX payments_ledger_links_created ON payments_ledger_links (created_epoch);

CREATE TABLE payments_disputes (
    dispute_id        VARCHAR(255) NOT NULL,
    payment_intent_id VARCHAR(255) NOT NULL,
    status            VARCHAR(40)  NOT NULL,
    clawback_tx_id    BIGINT       NOT NULL,
    withdrawal_tx_id  BIGINT       NOT NULL,
    PRIMARY KEY (dispute_id)
);

CREATE TABLE payments_connected_accounts (
    creator_id       VARCHAR(128) NOT NULL,
    account_id       VARCHAR(255) NOT NULL,
    payouts_enabled  INT          NOT NULL,
    updated_millis   BIGINT       NOT NULL,
    PRIMARY KEY (creator_id),
    CONSTRAINT payments_connected_accounts_account UNIQUE (account_id)
);

-- One line per creator per payout run: PLANNED -> TRANSFERRED -> DONE, or FAILED / REVERSED.
CREATE TABLE payments_payout_items (
    run_id         VARCHAR(100)  NOT NULL,
    creator_id     VARCHAR(128)  NOT NULL,
    account_id     VARCHAR(255)  NOT NULL,
    coins          BIGINT        NOT NULL,
    currency       VARCHAR(3)    NOT NULL,
    fiat_minor     BIGINT        NOT NULL,
    state          VARCHAR(20)   NOT NULL,
    transfer_id    VARCHAR(255),
    ledger_tx_id   BIGINT,
    error          VARCHAR(1000),
    updated_millis BIGINT        NOT NULL,
    PRIMARY KEY (run_id, creator_id)
);
CREATE INDEX payments_payout_items_state ON payments_payout_items (state);
