-- 004_model_checksum.sql - models' checksum is the CRC-32 their file stores.
--
-- Until now the daemon reported the CRC-32 of the whole file, trailer
-- included, which is CRC-32's constant residue (2144df1c) for every valid
-- file. The file's last four bytes are the CRC-32 of everything before them,
-- little-endian (docs/model-format.md): rewrite each stored checksum as those
-- bytes read as a number, in hex, the form the daemon now reports.
UPDATE models
   SET checksum = lower(hex(substr(file, -1, 1)) || hex(substr(file, -2, 1)) ||
                        hex(substr(file, -3, 1)) || hex(substr(file, -4, 1)))
 WHERE length(file) >= 4;
