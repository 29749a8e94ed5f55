-- The creator directory: who may publish (by stream key hash) and under which public handle.
CREATE TABLE creators (
    id                    VARCHAR(36)  NOT NULL,
    handle                VARCHAR(32)  NOT NULL,
    stream_key_hash       CHAR(64)     NOT NULL,
    revenue_share_bps     INT          NOT NULL,
    status                VARCHAR(16)  NOT NULL,
    created_at            DATETIME(3)  NOT NULL,
    stream_key_rotated_at DATETIME(3)  NOT NULL,
    CONSTRAINT pk_creators PRIMARY KEY (id),
    CONSTRAINT uq_creators_handle UNIQUE (handle),
    CONSTRAINT uq_creators_stream_key_hash UNIQUE (stream_key_hash),
    CONSTRAINT ck_creators_revenue_share CHECK (revenue_share_bps BETWEEN 0 AND 10000),
    CONSTRAINT ck_creators_status CHECK (status IN ('ACTIVE', 'SUSPENDED'))
);
