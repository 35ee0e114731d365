-- 004_model_checksum.sql - migrations/004_model_checksum.sql (SQLite) in
-- PostgreSQL: a model's checksum is the CRC-32 its file stores in its last
-- four bytes, little-endian (docs/model-format.md), as 8 hex digits.
UPDATE models
   SET checksum = encode(substring(file FROM length(file) FOR 1) ||
                         substring(file FROM length(file) - 1 FOR 1) ||
                         substring(file FROM length(file) - 2 FOR 1) ||
                         substring(file FROM length(file) - 3 FOR 1), 'hex')
 WHERE length(file) >= 4;
