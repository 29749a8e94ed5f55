-- Moderators a creator appointed: platform users (viewer-token subjects) who may moderate the creator's room.
-- appointed_by: the user who appointed them (the creator's owner), or NULL when an operator did (admin API).
CREATE TABLE creator_moderators (
    creator_id   VARCHAR(36) NOT NULL,
    user_id      VARCHAR(64) NOT NULL,
    appointed_by VARCHAR(64) NULL,
    appointed_at DATETIME(3) NOT NULL,
    CONSTRAINT pk_creator_moderators PRIMARY KEY (creator_id, user_id),
    CONSTRAINT fk_creator_moderators_creator FOREIGN KEY (creator_id) REFERENCES creators (id)
);
