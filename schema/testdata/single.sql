-- bootstrap
CREATE DATABASE IF NOT EXISTS `cdp`;

CREATE TABLE IF NOT EXISTS `cdp`.`schema_migrations`
(
    `version` UInt32,
    `name` String,
    `checksum` String,
    `applied_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(applied_at)
ORDER BY version
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Schema migrations applied to this database, one row per version.';

-- migration 1 credentials_and_audit
CREATE TABLE IF NOT EXISTS `cdp`.`api_tokens`
(
    `id` String COMMENT 'Token id (public, shown in the console)',
    `name` String COMMENT 'What the token is for',
    `role` LowCardinality(String) COMMENT 'admin, marketer or analyst',
    `token_hash` FixedString(64) COMMENT 'Hex SHA-256 of the secret token',
    `created_at` DateTime64(3, 'UTC'),
    `created_by` String,
    `revoked` UInt8 COMMENT '1 once revoked',
    `version` UInt64 COMMENT 'Row version (nanoseconds); the latest wins'
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'API tokens for the console and the management API. Only a SHA-256 of each token is stored.';

CREATE TABLE IF NOT EXISTS `cdp`.`write_keys`
(
    `id` String,
    `name` String,
    `source` LowCardinality(String) COMMENT 'The source the key writes as, e.g. douyin, tmall, pos',
    `key_hash` FixedString(64) COMMENT 'Hex SHA-256 of the secret key',
    `created_at` DateTime64(3, 'UTC'),
    `created_by` String,
    `revoked` UInt8,
    `version` UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY id
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Ingest write keys, one or more per source. Only a SHA-256 of each key is stored.';

CREATE TABLE IF NOT EXISTS `cdp`.`audit_log`
(
    `ts` DateTime64(3, 'UTC'),
    `actor` String COMMENT 'Token id of the caller',
    `action` LowCardinality(String),
    `object_type` LowCardinality(String),
    `object_id` String,
    `detail` String COMMENT 'JSON'
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, object_type, object_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Management actions: who changed which segment, who launched which campaign.';

