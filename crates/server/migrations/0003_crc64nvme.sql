-- Checksums are CRC64-NVME, kept as 16 hex digits, no longer SHA-256.
-- A value written before this is not a CRC: such a part counts as not
-- stored (the client sends it again), and such a drop simply has no
-- checksum to show.
ALTER TABLE parts RENAME COLUMN sha256 TO crc64nvme;
ALTER TABLE drops RENAME COLUMN sha256 TO crc64nvme;
