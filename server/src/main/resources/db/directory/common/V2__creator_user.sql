-- A creator may be linked to the platform user (the viewer-token subject) who owns the channel:
-- that user moderates the creator's room and signs in to /studio with a platform token.
ALTER TABLE creators ADD COLUMN user_id VARCHAR(64) NULL;
ALTER TABLE creators ADD CONSTRAINT uq_creators_user UNIQUE (user_id);
