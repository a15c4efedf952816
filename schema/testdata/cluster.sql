-- bootstrap
CREATE DATABASE IF NOT EXISTS `cdp` ON CLUSTER `cdp_cluster`;

CREATE TABLE IF NOT EXISTS `cdp`.`schema_migrations_local` ON CLUSTER `cdp_cluster`
(
    `version` UInt32,
    `name` String,
    `checksum` String,
    `applied_at` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', applied_at)
ORDER BY version
COMMENT 'Schema migrations applied to this database, one row per version.';

CREATE TABLE IF NOT EXISTS `cdp`.`schema_migrations` ON CLUSTER `cdp_cluster` AS `cdp`.`schema_migrations_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'schema_migrations_local', cityHash64(version));

-- migration 1 credentials_and_audit
CREATE TABLE IF NOT EXISTS `cdp`.`api_tokens_local` ON CLUSTER `cdp_cluster`
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY id
COMMENT 'API tokens for the console and the management API. Only a SHA-256 of each token is stored.';

CREATE TABLE IF NOT EXISTS `cdp`.`api_tokens` ON CLUSTER `cdp_cluster` AS `cdp`.`api_tokens_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'api_tokens_local', cityHash64(id));

CREATE TABLE IF NOT EXISTS `cdp`.`write_keys_local` ON CLUSTER `cdp_cluster`
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
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY id
COMMENT 'Ingest write keys, one or more per source. Only a SHA-256 of each key is stored.';

CREATE TABLE IF NOT EXISTS `cdp`.`write_keys` ON CLUSTER `cdp_cluster` AS `cdp`.`write_keys_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'write_keys_local', cityHash64(id));

CREATE TABLE IF NOT EXISTS `cdp`.`audit_log_local` ON CLUSTER `cdp_cluster`
(
    `ts` DateTime64(3, 'UTC'),
    `actor` String COMMENT 'Token id of the caller',
    `action` LowCardinality(String),
    `object_type` LowCardinality(String),
    `object_id` String,
    `detail` String COMMENT 'JSON'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, object_type, object_id)
COMMENT 'Management actions: who changed which segment, who launched which campaign.';

CREATE TABLE IF NOT EXISTS `cdp`.`audit_log` ON CLUSTER `cdp_cluster` AS `cdp`.`audit_log_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'audit_log_local', cityHash64(ts, object_type, object_id));

