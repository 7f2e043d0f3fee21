-- SQLite compares text byte for byte already (BINARY collation); see the MySQL migration.

-- The token that replaced a spent refresh token, encrypted: a second refresh with the same
-- token within a few seconds (two tabs, a client retry) gets the same successor instead of
-- being taken for theft.
ALTER TABLE refresh_tokens ADD COLUMN successor TEXT;
