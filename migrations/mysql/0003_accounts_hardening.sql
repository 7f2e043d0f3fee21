-- Identities compare byte for byte. utf8mb4_unicode_ci folds case, accents and width, which let
-- `victim@exámple.com` find the row of `victim@example.com`; Herald canonicalises addresses in
-- Rust and the database must not fold them again. Every table moves to the binary collation
-- (the one text foreign key is dropped meanwhile: both of its ends change together).
ALTER TABLE refresh_tokens DROP FOREIGN KEY refresh_tokens_session;
ALTER TABLE users CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
ALTER TABLE oauth_accounts CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
ALTER TABLE sessions CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
ALTER TABLE refresh_tokens CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
ALTER TABLE email_tokens CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
ALTER TABLE guilds CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
ALTER TABLE refresh_tokens ADD CONSTRAINT refresh_tokens_session
    FOREIGN KEY (session_id) REFERENCES sessions (id) ON DELETE CASCADE;

-- The token that replaced a spent refresh token, encrypted: a second refresh with the same
-- token within a few seconds (two tabs, a client retry) gets the same successor instead of
-- being taken for theft.
ALTER TABLE refresh_tokens ADD COLUMN successor TEXT NULL;
