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

-- migration 2 ingest
CREATE TABLE IF NOT EXISTS `cdp`.`events_local` ON CLUSTER `cdp_cluster`
(
    `message_id` String COMMENT 'Client\'s messageId (or derived): the deduplication key',
    `type` LowCardinality(String) COMMENT 'track, identify, page, screen, group, alias',
    `event` LowCardinality(String) COMMENT 'Event name (track) or page/screen name, e.g. video_complete, search',
    `ts` DateTime64(3, 'UTC') COMMENT 'When it happened (clock-skew corrected)',
    `received_at` DateTime64(3, 'UTC'),
    `source` LowCardinality(String) COMMENT 'Source of the write key, e.g. douyin, app, pos',
    `person_id` UInt32 COMMENT 'OneID person (0 until resolved)',
    `user_id` String,
    `anonymous_id` String,
    `properties` String COMMENT 'JSON object; phone-like keys masked',
    `traits` String COMMENT 'JSON object; phone-like keys masked',
    `context` String COMMENT 'JSON object',
    `topic` LowCardinality(String) DEFAULT JSONExtractString(properties, 'topic') COMMENT 'Content topic, e.g. 控糖, 低GI, 减脂, 宝宝辅食',
    `keyword` String DEFAULT JSONExtractString(properties, 'keyword') COMMENT 'Search keyword',
    `completion` Float32 DEFAULT JSONExtractFloat(properties, 'completion_ratio') COMMENT 'Video completion ratio 0..1',
    `spool_seq` UInt64 COMMENT 'Position in the ingest spool (lineage)',
    `id_types` Array(LowCardinality(String)) COMMENT 'Identifier types on the record (phone, unionid, douyin_openid, ...)',
    `id_values` Array(String) COMMENT 'Identifier values, parallel to id_types; phones as keyed hashes h:...',
    INDEX person_idx person_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (event, toDate(ts), ts)
COMMENT 'Behaviour events (Segment-compatible track/page/screen/identify/group/alias) from SDKs, platform exports and collectors. One row per message_id.';

CREATE TABLE IF NOT EXISTS `cdp`.`events` ON CLUSTER `cdp_cluster` AS `cdp`.`events_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'events_local', cityHash64(event, toDate(ts), ts));

CREATE TABLE IF NOT EXISTS `cdp`.`orders_local` ON CLUSTER `cdp_cluster`
(
    `channel` LowCardinality(String) COMMENT 'tmall, douyin_shop, group_buy, pos, phone, mini_program',
    `order_id` String,
    `version` UInt64 COMMENT 'Status version; the highest wins',
    `status` LowCardinality(String) COMMENT 'created, paid, shipped, completed, refunded, cancelled',
    `ordered_at` DateTime64(3, 'UTC'),
    `status_at` DateTime64(3, 'UTC'),
    `amount` Decimal(18, 2) COMMENT 'Order total in yuan',
    `currency` LowCardinality(String),
    `province` LowCardinality(String),
    `city` LowCardinality(String),
    `store_id` String COMMENT 'POS store',
    `leader_id` String COMMENT 'Community group-buying leader (团长)',
    `person_id` UInt32,
    `source` LowCardinality(String),
    `received_at` DateTime64(3, 'UTC'),
    `spool_seq` UInt64,
    `id_types` Array(LowCardinality(String)) COMMENT 'Identifier types on the record (phone, unionid, douyin_openid, ...)',
    `id_values` Array(String) COMMENT 'Identifier values, parallel to id_types; phones as keyed hashes h:...',
    INDEX person_idx person_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
PARTITION BY toYYYYMM(ordered_at)
ORDER BY (channel, order_id)
COMMENT 'Orders from every channel; one row per (channel, order_id), the highest version wins (query with FINAL or the orders_current view).';

CREATE TABLE IF NOT EXISTS `cdp`.`orders` ON CLUSTER `cdp_cluster` AS `cdp`.`orders_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'orders_local', cityHash64(channel, order_id));

CREATE TABLE IF NOT EXISTS `cdp`.`order_lines_local` ON CLUSTER `cdp_cluster`
(
    `channel` LowCardinality(String),
    `order_id` String,
    `line_no` UInt16,
    `version` UInt64,
    `sku` String,
    `product_name` String,
    `category` LowCardinality(String) COMMENT 'e.g. 低GI大米, 五常大米, 高油酸花生油, 小包装油',
    `quantity` Decimal(12, 3),
    `unit_price` Decimal(18, 2),
    `amount` Decimal(18, 2),
    `ordered_at` DateTime64(3, 'UTC'),
    `person_id` UInt32,
    INDEX person_idx person_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
PARTITION BY toYYYYMM(ordered_at)
ORDER BY (channel, order_id, line_no)
COMMENT 'Order lines; one row per (channel, order_id, line_no), the highest version wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`order_lines` ON CLUSTER `cdp_cluster` AS `cdp`.`order_lines_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'order_lines_local', cityHash64(channel, order_id, line_no));

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_contact_events_local` ON CLUSTER `cdp_cluster`
(
    `dedup_key` String,
    `ts` DateTime64(3, 'UTC'),
    `change_type` LowCardinality(String) COMMENT 'add_external_contact, edit_external_contact, del_external_contact, del_follow_user, ...',
    `corp_id` LowCardinality(String),
    `staff_userid` LowCardinality(String) COMMENT 'The staff member (follow user)',
    `external_userid` String,
    `state` LowCardinality(String) COMMENT 'State channel tag of the 联系我 QR code',
    `name` String COMMENT 'Customer\'s WeCom name (from the contact API)',
    `unionid` String,
    `person_id` UInt32,
    `received_at` DateTime64(3, 'UTC'),
    `spool_seq` UInt64,
    INDEX person_idx person_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (external_userid, staff_userid, ts, dedup_key)
COMMENT 'WeCom customer-contact callbacks (change_external_contact): who added or removed whom, and through which State channel tag.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_contact_events` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_contact_events_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_contact_events_local', cityHash64(external_userid, staff_userid, ts, dedup_key));

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_messages_local` ON CLUSTER `cdp_cluster`
(
    `msgid` String,
    `action` LowCardinality(String) COMMENT 'send, recall, switch',
    `from` String,
    `tolist` Array(String),
    `roomid` String,
    `msgtime` DateTime64(3, 'UTC'),
    `msgtype` LowCardinality(String),
    `content` String COMMENT 'Text content (text messages)',
    `pre_msgid` String COMMENT 'The recalled message (recall rows)',
    `external_userid` String COMMENT 'The customer in a one-to-one chat',
    `staff_userid` LowCardinality(String),
    `person_id` UInt32,
    `body` String COMMENT 'The type\'s JSON body as archived',
    `received_at` DateTime64(3, 'UTC'),
    `spool_seq` UInt64,
    INDEX person_idx person_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(msgtime)
ORDER BY (msgid)
COMMENT 'WeCom chat-archive messages (decrypted by the customer\'s archive job), one row per msgid. Recalls are rows with action = \'recall\' naming pre_msgid; wecom_messages_visible leaves recalled messages out.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_messages` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_messages_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_messages_local', cityHash64(msgid));

CREATE VIEW IF NOT EXISTS `cdp`.wecom_messages_visible ON CLUSTER `cdp_cluster` AS
SELECT * FROM `cdp`.wecom_messages FINAL
WHERE action = 'send' AND msgid NOT IN (SELECT pre_msgid FROM `cdp`.wecom_messages WHERE action = 'recall');

CREATE TABLE IF NOT EXISTS `cdp`.`pii_vault_local` ON CLUSTER `cdp_cluster`
(
    `hash` String,
    `type` LowCardinality(String),
    `masked` String,
    `ciphertext` String,
    `updated_at` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', updated_at)
ORDER BY hash
COMMENT 'Protected personal identifiers: keyed hash (what other tables store), mask for display, AES-GCM ciphertext for sending. Not readable by BI users.';

CREATE TABLE IF NOT EXISTS `cdp`.`pii_vault` ON CLUSTER `cdp_cluster` AS `cdp`.`pii_vault_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'pii_vault_local', cityHash64(hash));

CREATE TABLE IF NOT EXISTS `cdp`.`ingest_dead_letters_local` ON CLUSTER `cdp_cluster`
(
    `received_at` DateTime64(3, 'UTC'),
    `source` LowCardinality(String),
    `endpoint` LowCardinality(String),
    `position` UInt32 COMMENT 'Index in the batch or line number in the file',
    `code` LowCardinality(String),
    `field` String,
    `message` String,
    `payload` String COMMENT 'The refused record, truncated to 32 KB, phone numbers masked'
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMMDD(received_at)
ORDER BY (received_at, endpoint)
TTL toDateTime(received_at) + INTERVAL 30 DAY
COMMENT 'Records refused by validation, with the reason, kept 30 days for inspection.';

CREATE TABLE IF NOT EXISTS `cdp`.`ingest_dead_letters` ON CLUSTER `cdp_cluster` AS `cdp`.`ingest_dead_letters_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'ingest_dead_letters_local', cityHash64(received_at, endpoint));

-- migration 3 identity
CREATE TABLE IF NOT EXISTS `cdp`.`identity_links_local` ON CLUSTER `cdp_cluster`
(
    `id_type` LowCardinality(String),
    `id_value` String COMMENT 'Phones as keyed hashes h:...',
    `person_id` UInt32 COMMENT 'The owning person (before merges; see persons.canonical)',
    `contested` UInt8,
    `linked_at` DateTime64(3, 'UTC') COMMENT 'Time of the record that linked it',
    `ref` String COMMENT 'The record that linked it (e:source:messageId, o:channel:order:version, c:..., m:msgid)',
    `version` UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY (id_type, id_value)
COMMENT 'Which person owns each identifier (the identity graph\'s edges). Contested identifiers are shared by persons they may not join.';

CREATE TABLE IF NOT EXISTS `cdp`.`identity_links` ON CLUSTER `cdp_cluster` AS `cdp`.`identity_links_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'identity_links_local', cityHash64(id_type, id_value));

CREATE TABLE IF NOT EXISTS `cdp`.`persons_local` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32,
    `parent` UInt32 COMMENT 'The person it was merged into (itself when not merged)',
    `canonical` UInt32 COMMENT 'The root of its merge tree: the OneID to report on',
    `version` UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY person_id
COMMENT 'Every person id and where merges put it: canonical is the person it belongs to now.';

CREATE TABLE IF NOT EXISTS `cdp`.`persons` ON CLUSTER `cdp_cluster` AS `cdp`.`persons_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'persons_local', cityHash64(person_id));

CREATE TABLE IF NOT EXISTS `cdp`.`identity_merges_local` ON CLUSTER `cdp_cluster`
(
    `merge_id` UInt64,
    `ts` DateTime64(3, 'UTC'),
    `survivor` UInt32,
    `absorbed` UInt32,
    `ref` String,
    `anchor_type` LowCardinality(String),
    `anchor_value` String,
    `evidence_type` LowCardinality(String),
    `evidence_value` String,
    `rule` String,
    `undone` UInt8,
    `undone_at` DateTime64(3, 'UTC'),
    `undone_by` String,
    `version` UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY merge_id
COMMENT 'Every merge with its evidence (record, identifiers, rule); undone merges are kept with who undid them.';

CREATE TABLE IF NOT EXISTS `cdp`.`identity_merges` ON CLUSTER `cdp_cluster` AS `cdp`.`identity_merges_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'identity_merges_local', cityHash64(merge_id));

CREATE TABLE IF NOT EXISTS `cdp`.`identity_conflicts_local` ON CLUSTER `cdp_cluster`
(
    `ts` DateTime64(3, 'UTC'),
    `ref` String,
    `id_type` LowCardinality(String),
    `id_value` String,
    `person_a` UInt32,
    `person_b` UInt32,
    `reason` String
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, id_type, id_value)
COMMENT 'Links and merges the identity rules refused (shared phones and devices, limits).';

CREATE TABLE IF NOT EXISTS `cdp`.`identity_conflicts` ON CLUSTER `cdp_cluster` AS `cdp`.`identity_conflicts_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'identity_conflicts_local', cityHash64(ts, id_type, id_value));

CREATE TABLE IF NOT EXISTS `cdp`.`suppressions_local` ON CLUSTER `cdp_cluster`
(
    `id_type` LowCardinality(String),
    `id_hash` String,
    `reason` LowCardinality(String) COMMENT 'erased, opt_out',
    `ts` DateTime64(3, 'UTC'),
    `by` String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY (id_type, id_hash)
COMMENT 'Identifiers of erased or opted-out persons, as keyed hashes: never targeted again.';

CREATE TABLE IF NOT EXISTS `cdp`.`suppressions` ON CLUSTER `cdp_cluster` AS `cdp`.`suppressions_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'suppressions_local', cityHash64(id_type, id_hash));

CREATE OR REPLACE VIEW `cdp`.person_traits ON CLUSTER `cdp_cluster` AS
SELECT
    p.canonical AS person_id,
    min(t.first_seen) AS first_seen,
    max(t.last_seen) AS last_seen,
    sum(t.orders) AS orders,
    round(sum(t.spend), 2) AS lifetime_value,
    if(sum(t.orders) > 0, round(sum(t.spend) / sum(t.orders), 2), 0) AS average_order_value,
    maxOrNull(t.last_order_at) AS last_order_at,
    dateDiff('day', maxOrNull(t.last_order_at), now()) AS recency_days,
    if(sum(t.orders) > 1, round(dateDiff('second', minOrNull(t.first_order_at), maxOrNull(t.last_order_at)) / 86400 / (sum(t.orders) - 1), 2), NULL) AS repurchase_interval_days,
    sum(t.completed_videos) AS completed_videos,
    groupUniqArrayArray(t.topics) AS topics,
    argMinIf(t.acq_state, t.acq_ts, t.acq_ts IS NOT NULL) AS acquisition_channel,
    argMaxIf(t.own_staff, t.own_ts, t.own_ts IS NOT NULL) AS owner_staff
FROM
(
    SELECT person_id, min(ts) AS first_seen, max(ts) AS last_seen, 0 AS orders, 0. AS spend,
        CAST(NULL, 'Nullable(DateTime64(3, \'UTC\'))') AS first_order_at, CAST(NULL, 'Nullable(DateTime64(3, \'UTC\'))') AS last_order_at,
        countIf(event = 'video_complete') AS completed_videos, groupUniqArrayIf(toString(topic), topic != '') AS topics,
        CAST(NULL, 'Nullable(DateTime64(3, \'UTC\'))') AS acq_ts, '' AS acq_state, CAST(NULL, 'Nullable(DateTime64(3, \'UTC\'))') AS own_ts, '' AS own_staff
    FROM `cdp`.events WHERE person_id != 0 GROUP BY person_id
    UNION ALL
    SELECT person_id, min(ordered_at), max(ordered_at), countIf(status NOT IN ('refunded', 'cancelled')),
        sumIf(toFloat64(amount), status NOT IN ('refunded', 'cancelled')),
        minIf(ordered_at, status NOT IN ('refunded', 'cancelled')), maxIf(ordered_at, status NOT IN ('refunded', 'cancelled')), 0, [],
        CAST(NULL, 'Nullable(DateTime64(3, \'UTC\'))'), '', CAST(NULL, 'Nullable(DateTime64(3, \'UTC\'))'), ''
    FROM `cdp`.orders FINAL WHERE person_id != 0 GROUP BY person_id
    UNION ALL
    SELECT person_id, min(ts), max(ts), 0, 0., CAST(NULL, 'Nullable(DateTime64(3, \'UTC\'))'), CAST(NULL, 'Nullable(DateTime64(3, \'UTC\'))'), 0, [],
        minIf(ts, change_type = 'add_external_contact'), toString(argMinIf(state, ts, change_type = 'add_external_contact')),
        maxIf(ts, change_type IN ('add_external_contact', 'edit_external_contact')),
        toString(argMaxIf(staff_userid, ts, change_type IN ('add_external_contact', 'edit_external_contact')))
    FROM `cdp`.wecom_contact_events WHERE person_id != 0 GROUP BY person_id
) AS t
INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = t.person_id
GROUP BY p.canonical;

CREATE OR REPLACE VIEW `cdp`.person_rfm ON CLUSTER `cdp_cluster` AS
SELECT
    p.canonical AS person_id,
    intDiv(dateDiff('second', max(o.ordered_at), now64(3)), 86400) AS recency_days,
    countIf(o.ordered_at >= now64(3) - INTERVAL 365 DAY) AS orders_365d,
    round(sumIf(toFloat64(o.amount), o.ordered_at >= now64(3) - INTERVAL 365 DAY), 2) AS spend_365d,
    1 + (recency_days <= 180) + (recency_days <= 90) + (recency_days <= 60) + (recency_days <= 30) AS r,
    1 + (orders_365d >= 2) + (orders_365d >= 3) + (orders_365d >= 5) + (orders_365d >= 8) AS f,
    1 + (spend_365d >= 100) + (spend_365d >= 200) + (spend_365d >= 500) + (spend_365d >= 1000) AS m,
    concat(toString(r), toString(f), toString(m)) AS rfm
FROM `cdp`.orders AS o FINAL
INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0
GROUP BY p.canonical;

CREATE OR REPLACE VIEW `cdp`.person_next_purchase ON CLUSTER `cdp_cluster` AS
SELECT
    person_id,
    kind,
    days[-1] AS last_purchase,
    arraySort(arrayPopFront(arrayDifference(arrayMap(d -> toInt32(d), days)))) AS gaps,
    days[-1] + if(length(gaps) > 0, gaps[intDiv(length(gaps), 2) + 1], if(kind = 'rice', 21, 49)) AS next_purchase
FROM
(
    SELECT p.canonical AS person_id,
        multiIf(positionUTF8(l.category, '米') > 0, 'rice', positionUTF8(l.category, '油') > 0, 'oil', '') AS kind,
        arraySort(groupUniqArray(toDate(l.ordered_at))) AS days
    FROM `cdp`.order_lines AS l FINAL
    INNER JOIN (SELECT channel, order_id, person_id FROM `cdp`.orders FINAL WHERE status NOT IN ('refunded', 'cancelled')) AS o
        ON o.channel = l.channel AND o.order_id = l.order_id
    INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
    WHERE o.person_id != 0
    GROUP BY person_id, kind
)
WHERE kind != '';

-- migration 4 segments
CREATE TABLE IF NOT EXISTS `cdp`.`person_tags_local` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32,
    `tag` LowCardinality(String) COMMENT 'e.g. 控糖, 高端用户',
    `source` LowCardinality(String) COMMENT 'manual, import, wecom, rule',
    `sensitive` UInt8 COMMENT 'Health-interest tags (PIPL art. 28): usable in campaigns only with consent',
    `deleted` UInt8,
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY (tag, person_id)
COMMENT 'Tags on persons (manual, imported or from rules); the latest row per (person, tag) wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`person_tags` ON CLUSTER `cdp_cluster` AS `cdp`.`person_tags_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'person_tags_local', cityHash64(tag, person_id));

CREATE TABLE IF NOT EXISTS `cdp`.`segments_local` ON CLUSTER `cdp_cluster`
(
    `segment_id` String,
    `version` UInt32,
    `name` String,
    `description` String,
    `rule` String COMMENT 'The rule in the segment language (expr)',
    `live` UInt8 COMMENT 'Kept current as records arrive',
    `deleted` UInt8,
    `created_at` DateTime64(3, 'UTC'),
    `created_by` String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY (segment_id, version)
COMMENT 'Segment definitions; every edit is a new version (the highest is current).';

CREATE TABLE IF NOT EXISTS `cdp`.`segments` ON CLUSTER `cdp_cluster` AS `cdp`.`segments_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'segments_local', cityHash64(segment_id, version));

CREATE TABLE IF NOT EXISTS `cdp`.`segment_members_local` ON CLUSTER `cdp_cluster`
(
    `segment_id` String,
    `version` UInt32,
    `computed_at` DateTime64(3, 'UTC'),
    `members` AggregateFunction(groupBitmap, UInt32),
    `size` UInt64
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', computed_at)
ORDER BY segment_id
COMMENT 'Segment membership snapshots as bitmaps of person ids (groupBitmap state); the latest computed_at per segment is current. BI: bitmapToArray(m) or the segment_members_current view.';

CREATE TABLE IF NOT EXISTS `cdp`.`segment_members` ON CLUSTER `cdp_cluster` AS `cdp`.`segment_members_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'segment_members_local', cityHash64(segment_id));

CREATE TABLE IF NOT EXISTS `cdp`.`segment_changes_local` ON CLUSTER `cdp_cluster`
(
    `segment_id` String,
    `person_id` UInt32,
    `change` Enum8('enter' = 1, 'exit' = 2),
    `ts` DateTime64(3, 'UTC'),
    INDEX person_idx person_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}')
PARTITION BY toYYYYMM(ts)
ORDER BY (segment_id, ts)
COMMENT 'Entries into and exits from segments, as they happened (live updates, recomputes, window expiry).';

CREATE TABLE IF NOT EXISTS `cdp`.`segment_changes` ON CLUSTER `cdp_cluster` AS `cdp`.`segment_changes_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'segment_changes_local', cityHash64(segment_id, ts));

CREATE OR REPLACE VIEW `cdp`.segment_members_current ON CLUSTER `cdp_cluster` AS
SELECT s.segment_id AS segment_id, d.name AS name, arrayJoin(bitmapToArray(s.members)) AS person_id, s.computed_at AS computed_at
FROM `cdp`.segment_members AS s FINAL
INNER JOIN (SELECT segment_id, argMax(name, version) AS name, argMax(deleted, version) AS deleted FROM `cdp`.segments GROUP BY segment_id) AS d
    ON d.segment_id = s.segment_id
WHERE d.deleted = 0;

-- migration 5 campaigns
CREATE TABLE IF NOT EXISTS `cdp`.`consents_local` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32,
    `channel` LowCardinality(String) COMMENT 'wecom, sms, webhook, robot, or * for all',
    `kind` LowCardinality(String) COMMENT 'opt_out or sensitive_consent',
    `granted` UInt8 COMMENT '1: opted out / consent given; 0: withdrawn',
    `source` LowCardinality(String) COMMENT 'api, wecom_keyword, import',
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY (kind, channel, person_id)
COMMENT 'Opt-outs per channel and separate consents for sensitive (health) targeting; the latest row per (person, channel, kind) wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`consents` ON CLUSTER `cdp_cluster` AS `cdp`.`consents_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'consents_local', cityHash64(kind, channel, person_id));

CREATE TABLE IF NOT EXISTS `cdp`.`offers_local` ON CLUSTER `cdp_cluster`
(
    `offer_id` String,
    `version` UInt32,
    `definition` String COMMENT 'JSON: name, skus, categories, coupon codes, link, valid_from, valid_to',
    `deleted` UInt8,
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY (offer_id, version)
COMMENT 'Offers (e.g. a low-GI rice trial pack); every edit is a new version.';

CREATE TABLE IF NOT EXISTS `cdp`.`offers` ON CLUSTER `cdp_cluster` AS `cdp`.`offers_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'offers_local', cityHash64(offer_id, version));

CREATE TABLE IF NOT EXISTS `cdp`.`campaigns_local` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String,
    `version` UInt32,
    `definition` String COMMENT 'JSON: name, offer, segment, channel, template, holdout, caps, quiet hours, schedule, send limit, attribution window',
    `status` LowCardinality(String) COMMENT 'draft, scheduled, running, finished, cancelled',
    `ts` DateTime64(3, 'UTC'),
    `by` String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY (campaign_id, version)
COMMENT 'Campaigns; every edit or state change is a new version.';

CREATE TABLE IF NOT EXISTS `cdp`.`campaigns` ON CLUSTER `cdp_cluster` AS `cdp`.`campaigns_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'campaigns_local', cityHash64(campaign_id, version));

CREATE TABLE IF NOT EXISTS `cdp`.`campaign_sends_local` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String,
    `person_id` UInt32,
    `group` LowCardinality(String) COMMENT 'treatment, holdout, excluded',
    `reason` LowCardinality(String) COMMENT 'Why excluded: opted_out, no_sensitive_consent, cap_reached, quiet_hours, no_channel_address, global_control, send_limit, suppressed',
    `channel` LowCardinality(String),
    `address` String COMMENT 'Where it goes: a WeCom external user id, a webhook target; never a phone number',
    `sender` LowCardinality(String) COMMENT 'The owning WeCom staff member',
    `state` LowCardinality(String) COMMENT 'planned, sent, delivered, failed, not_sent',
    `detail` String,
    `planned_at` DateTime64(3, 'UTC'),
    `updated_at` DateTime64(3, 'UTC'),
    INDEX person_idx person_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', updated_at)
ORDER BY (campaign_id, person_id)
COMMENT 'The send log: one row per (campaign, person), written as a plan before anything is sent; state moves planned -> sent -> delivered (or failed); excluded and holdout rows say why.';

CREATE TABLE IF NOT EXISTS `cdp`.`campaign_sends` ON CLUSTER `cdp_cluster` AS `cdp`.`campaign_sends_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'campaign_sends_local', cityHash64(campaign_id, person_id));

CREATE TABLE IF NOT EXISTS `cdp`.`campaign_outbox_local` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String,
    `person_id` UInt32,
    `address` String,
    `message` String,
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY (campaign_id, person_id)
COMMENT 'Messages the outbox channel would send (demo and review); one row per (campaign, person).';

CREATE TABLE IF NOT EXISTS `cdp`.`campaign_outbox` ON CLUSTER `cdp_cluster` AS `cdp`.`campaign_outbox_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'campaign_outbox_local', cityHash64(campaign_id, person_id));

-- migration 6 bi
CREATE DATABASE IF NOT EXISTS `bi_cdp` ON CLUSTER `cdp_cluster`
COMMENT 'Granary CDP BI views: documented, read-only, no raw personal data (docs/bi.md)';

CREATE OR REPLACE VIEW `bi_cdp`.`persons` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32 COMMENT 'OneID: the canonical person id (the id in the console and the API)',
    `merged_ids` UInt32 COMMENT 'Person ids merged into this one, itself included',
    `phone_masked` String COMMENT 'Latest linked mobile number, masked (+86 138****5678); empty when none',
    `phones` UInt32 COMMENT 'Distinct mobile numbers linked',
    `city` String COMMENT 'City of the latest order that names one',
    `province` String COMMENT 'Province of the latest order that names one',
    `city_tier` UInt8 COMMENT '1 (北京 上海 广州 深圳) to 4; 0 when the city is not in the tier table',
    `first_seen` Nullable(DateTime64(3, 'UTC')) COMMENT 'First event, order or WeCom contact',
    `last_seen` Nullable(DateTime64(3, 'UTC')) COMMENT 'Latest event, order or WeCom contact',
    `first_order_channel` String COMMENT 'Channel of the first valid order (tmall, douyin_shop, group_buy, pos, phone, mini_program)',
    `first_order_at` Nullable(DateTime64(3, 'UTC')) COMMENT 'First valid (not refunded or cancelled) order',
    `last_order_at` Nullable(DateTime64(3, 'UTC')) COMMENT 'Latest valid order',
    `orders` UInt64 COMMENT 'Valid orders',
    `lifetime_value` Float64 COMMENT 'Sum of valid orders in yuan (LTV)',
    `average_order_value` Float64 COMMENT 'lifetime_value / orders; 0 without orders',
    `recency_days` Nullable(Int64) COMMENT 'Days since the latest valid order',
    `repurchase_interval_days` Nullable(Float64) COMMENT 'Mean days between valid orders (two or more orders)',
    `rfm` String COMMENT 'RFM score over 365 days, e.g. 545 (each 1..5, as the profile); empty without orders',
    `r` UInt8 COMMENT 'Recency score 1..5; 0 without orders',
    `f` UInt8 COMMENT 'Frequency score 1..5; 0 without orders',
    `m` UInt8 COMMENT 'Monetary score 1..5; 0 without orders',
    `next_rice_purchase` Nullable(Date) COMMENT 'Predicted next rice purchase (median gap, or 21 days after a single one)',
    `next_oil_purchase` Nullable(Date) COMMENT 'Predicted next oil purchase (median gap, or 49 days after a single one)',
    `acquisition_channel` String COMMENT 'WeCom State channel tag of the first add (the 联系我 QR code)',
    `owner_staff` String COMMENT 'WeCom staff member who owns the customer now',
    `completed_videos` UInt64 COMMENT 'Douyin videos watched to the end',
    `topics` Array(String) COMMENT 'Content topics the person engaged with (控糖, 低GI, 减脂, ...)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    c.person_id AS person_id,
    c.merged_ids AS merged_ids,
    ph.phone_masked AS phone_masked,
    ph.phones AS phones,
    g.city AS city,
    g.province AS province,
    transform(g.city, ['北京', '上海', '广州', '深圳', '成都', '重庆', '杭州', '武汉', '西安', '苏州', '南京', '天津', '长沙', '郑州', '东莞', '青岛', '沈阳', '宁波', '昆明', '合肥', '福州', '济南', '哈尔滨', '长春', '石家庄', '南昌', '南宁', '贵阳', '太原', '厦门', '无锡', '佛山', '大连', '洛阳', '赣州', '绵阳', '潍坊', '岳阳', '襄阳', '桂林', '邯郸', '盐城'], [1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4], 0) AS city_tier,
    if(t.person_id = 0, NULL, t.first_seen) AS first_seen,
    if(t.person_id = 0, NULL, t.last_seen) AS last_seen,
    g.first_order_channel AS first_order_channel,
    g.first_order_at AS first_order_at,
    t.last_order_at AS last_order_at,
    t.orders AS orders,
    t.lifetime_value AS lifetime_value,
    t.average_order_value AS average_order_value,
    t.recency_days AS recency_days,
    t.repurchase_interval_days AS repurchase_interval_days,
    r.rfm AS rfm,
    r.r AS r,
    r.f AS f,
    r.m AS m,
    n.rice AS next_rice_purchase,
    n.oil AS next_oil_purchase,
    ifNull(t.acquisition_channel, '') AS acquisition_channel,
    ifNull(t.owner_staff, '') AS owner_staff,
    t.completed_videos AS completed_videos,
    t.topics AS topics
FROM (SELECT canonical AS person_id, count() AS merged_ids FROM `cdp`.persons FINAL GROUP BY canonical) AS c
LEFT JOIN `cdp`.person_traits AS t ON t.person_id = c.person_id
LEFT JOIN `cdp`.person_rfm AS r ON r.person_id = c.person_id
LEFT JOIN
(
    SELECT person_id, nullIf(maxIf(next_purchase, kind = 'rice'), toDate(0)) AS rice, nullIf(maxIf(next_purchase, kind = 'oil'), toDate(0)) AS oil
    FROM `cdp`.person_next_purchase GROUP BY person_id
) AS n ON n.person_id = c.person_id
LEFT JOIN
(
    SELECT p.canonical AS person_id,
        argMaxIf(toString(o.city), o.ordered_at, o.city != '') AS city,
        argMaxIf(toString(o.province), o.ordered_at, o.province != '') AS province,
        toString(argMinIf(o.channel, o.ordered_at, o.status NOT IN ('refunded', 'cancelled'))) AS first_order_channel,
        CAST(minIf(o.ordered_at, o.status NOT IN ('refunded', 'cancelled')), 'Nullable(DateTime64(3, \'UTC\'))') AS first_order_at_raw,
        if(countIf(o.status NOT IN ('refunded', 'cancelled')) = 0, NULL, first_order_at_raw) AS first_order_at
    FROM `cdp`.orders AS o FINAL
    INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
    WHERE o.person_id != 0
    GROUP BY p.canonical
) AS g ON g.person_id = c.person_id
LEFT JOIN
(
    SELECT p.canonical AS person_id, argMax(v.masked, l.linked_at) AS phone_masked, uniqExact(l.id_value) AS phones
    FROM `cdp`.identity_links AS l FINAL
    INNER JOIN (SELECT hash, any(masked) AS masked FROM `cdp`.pii_vault GROUP BY hash) AS v ON v.hash = l.id_value
    INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = l.person_id
    WHERE l.id_type = 'phone'
    GROUP BY p.canonical
) AS ph ON ph.person_id = c.person_id
COMMENT 'One row per person (OneID, canonical after merges) with the traits the profile shows. Phones only masked.';

CREATE OR REPLACE VIEW `bi_cdp`.`events` ON CLUSTER `cdp_cluster`
(
    `ts` DateTime64(3, 'UTC') COMMENT 'When it happened',
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `type` String COMMENT 'track, identify, page, screen, group, alias',
    `event` String COMMENT 'Event name, e.g. video_complete, video_play, search, like',
    `source` String COMMENT 'Source of the write key: douyin, app, mini_program, ...',
    `topic` String COMMENT 'Content topic, e.g. 控糖, 低GI, 减脂, 宝宝辅食',
    `keyword` String COMMENT 'Search keyword; mobile numbers in it masked',
    `completion` Float32 COMMENT 'Video completion ratio 0..1'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT e.ts AS ts, toDate(e.ts, 'Asia/Shanghai') AS date, p.canonical AS person_id, toString(e.type) AS type, toString(e.event) AS event,
    toString(e.source) AS source, toString(e.topic) AS topic, replaceRegexpAll(e.keyword, '(1[3-9][0-9])[0-9]{4}([0-9]{4})', '\\1****\\2') AS keyword, e.completion AS completion
FROM `cdp`.events AS e
INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = e.person_id
WHERE e.person_id != 0
COMMENT 'Behaviour events (Douyin views and searches, app and mini-program events) attributed to canonical persons. No identifiers, no raw JSON.';

CREATE OR REPLACE VIEW `bi_cdp`.`orders` ON CLUSTER `cdp_cluster`
(
    `channel` String COMMENT 'tmall, douyin_shop, group_buy, pos, phone, mini_program',
    `order_id` String COMMENT 'The channel\'s order id',
    `status` String COMMENT 'created, paid, shipped, completed, refunded, cancelled',
    `valid` UInt8 COMMENT '1 unless refunded or cancelled: what LTV, GMV and conversions count',
    `ordered_at` DateTime64(3, 'UTC') COMMENT 'When it was ordered',
    `date` Date COMMENT 'Day in Asia/Shanghai of ordered_at',
    `amount` Decimal(18, 2) COMMENT 'Order total in yuan',
    `province` String COMMENT 'Delivery or store province',
    `city` String COMMENT 'Delivery or store city',
    `store_id` String COMMENT 'POS store',
    `leader_id` String COMMENT 'Community group-buying leader (团长)',
    `person_id` UInt32 COMMENT 'OneID (canonical); 0 when the buyer is unknown',
    `person_order_number` UInt32 COMMENT '1 for the person\'s first valid order, 2 for the first repurchase, ...; 0 for invalid orders and unknown buyers'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT channel, order_id, status, valid, ordered_at, date, amount, province, city, store_id, leader_id, person_id,
    if(valid AND person_id != 0, toUInt32(row_number() OVER (PARTITION BY person_id, valid ORDER BY ordered_at, channel, order_id)), 0) AS person_order_number
FROM
(
    SELECT toString(o.channel) AS channel, o.order_id AS order_id, toString(o.status) AS status, toUInt8(o.status NOT IN ('refunded', 'cancelled')) AS valid,
        o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, o.amount AS amount,
        toString(o.province) AS province, toString(o.city) AS city, o.store_id AS store_id, o.leader_id AS leader_id,
        if(o.person_id = 0, 0, p.canonical) AS person_id
    FROM `cdp`.orders AS o FINAL
    LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
)
COMMENT 'Orders of every channel in their current state, attributed to canonical persons; person_order_number tells first orders from repurchases.';

CREATE OR REPLACE VIEW `bi_cdp`.`order_lines` ON CLUSTER `cdp_cluster`
(
    `channel` String COMMENT 'The order\'s channel',
    `order_id` String COMMENT 'The order',
    `line_no` UInt16 COMMENT 'Line number in the order',
    `sku` String COMMENT 'SKU, e.g. WC-5KG, LGI-0.5-TRIAL, HOPO-5L',
    `product_name` String COMMENT 'e.g. 五常大米 5kg',
    `category` String COMMENT 'e.g. 低GI大米, 五常大米, 东北大米, 高油酸花生油, 小包装油',
    `quantity` Decimal(12, 3) COMMENT 'Units (packs)',
    `unit_price` Decimal(18, 2) COMMENT 'Yuan per unit',
    `amount` Decimal(18, 2) COMMENT 'Line total in yuan',
    `pack_kg` Float64 COMMENT 'Rice pack weight in kg read from the product name (5 for 5kg, 0.5 for 500g); 0 when none',
    `pack_litres` Float64 COMMENT 'Oil pack volume in litres read from the product name (5 for 5L, 0.4 for 400ml); 0 when none',
    `status` String COMMENT 'The order\'s current status',
    `valid` UInt8 COMMENT '1 unless the order is refunded or cancelled',
    `ordered_at` DateTime64(3, 'UTC') COMMENT 'When the order was placed',
    `date` Date COMMENT 'Day in Asia/Shanghai of ordered_at',
    `province` String COMMENT 'The order\'s province',
    `city` String COMMENT 'The order\'s city',
    `person_id` UInt32 COMMENT 'OneID (canonical) of the buyer; 0 when unknown'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT toString(l.channel) AS channel, l.order_id AS order_id, l.line_no AS line_no, l.sku AS sku, l.product_name AS product_name,
    toString(l.category) AS category, l.quantity AS quantity, l.unit_price AS unit_price, l.amount AS amount,
    if(kg > 0, kg, grams / 1000) AS pack_kg, if(litres > 0, litres, ml / 1000) AS pack_litres,
    o.status AS status, toUInt8(o.status NOT IN ('refunded', 'cancelled')) AS valid, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date,
    o.province AS province, o.city AS city, if(o.person_id = 0, 0, p.canonical) AS person_id,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:kg|公斤|千克)')) AS kg,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:g|克)(?:[^a-z]|$)')) AS grams,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:l|升)(?:[^a-z]|$)')) AS litres,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:ml|毫升)')) AS ml
FROM `cdp`.order_lines AS l FINAL
INNER JOIN
(
    SELECT channel, order_id, toString(status) AS status, ordered_at, toString(province) AS province, toString(city) AS city, person_id
    FROM `cdp`.orders FINAL
) AS o ON o.channel = l.channel AND o.order_id = l.order_id
LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
COMMENT 'Order lines with their order\'s state, place and canonical buyer, and the pack size read from the product name.';

CREATE OR REPLACE VIEW `bi_cdp`.`segments` ON CLUSTER `cdp_cluster`
(
    `segment_id` String COMMENT 'Segment id (seg_...)',
    `name` String COMMENT 'Name, e.g. 高潜控糖人群',
    `description` String COMMENT 'What it is for',
    `rule` String COMMENT 'The rule in the segment language (docs/segments.md)',
    `version` UInt32 COMMENT 'Current definition version',
    `live` UInt8 COMMENT '1: kept current as records arrive',
    `size` UInt64 COMMENT 'Members in the latest snapshot (what the console shows)',
    `computed_at` Nullable(DateTime64(3, 'UTC')) COMMENT 'When the latest snapshot was taken'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT d.segment_id AS segment_id, d.name AS name, d.description AS description, d.rule AS rule, d.current_version AS version, d.live AS live,
    s.size AS size, if(s.segment_id = '', NULL, s.computed_at) AS computed_at
FROM
(
    SELECT segment_id, argMax(name, version) AS name, argMax(description, version) AS description, argMax(rule, version) AS rule,
        max(version) AS current_version, argMax(live, version) AS live, argMax(deleted, version) AS deleted
    FROM `cdp`.segments GROUP BY segment_id
) AS d
LEFT JOIN (SELECT segment_id, computed_at, size FROM `cdp`.segment_members FINAL) AS s ON s.segment_id = d.segment_id
WHERE d.deleted = 0
COMMENT 'Current segment definitions with the size of their latest membership snapshot (deleted segments left out).';

CREATE OR REPLACE VIEW `bi_cdp`.`segment_members` ON CLUSTER `cdp_cluster`
(
    `segment_id` String COMMENT 'Segment id',
    `segment_name` String COMMENT 'Segment name',
    `person_id` UInt32 COMMENT 'OneID of the member',
    `computed_at` DateTime64(3, 'UTC') COMMENT 'When the snapshot was taken'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT segment_id, name AS segment_name, person_id, computed_at FROM `cdp`.segment_members_current
COMMENT 'Segment membership, one row per (segment, person), exploded from the latest bitmap snapshot of each segment.';

CREATE OR REPLACE VIEW `bi_cdp`.`campaigns` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String COMMENT 'Campaign id',
    `name` String COMMENT 'Campaign name',
    `status` String COMMENT 'draft, scheduled, running, finished, cancelled',
    `channel` String COMMENT 'outbox or wecom',
    `segment_id` String COMMENT 'Target segment',
    `offer_id` String COMMENT 'Offer',
    `offer_name` String COMMENT 'Offer name, e.g. 低GI大米试用装',
    `offer_skus` Array(String) COMMENT 'An order line with one of these SKUs converts',
    `offer_categories` Array(String) COMMENT 'Or one with one of these categories',
    `holdout_percent` Float64 COMMENT 'Share of the audience held out to measure uplift',
    `attribution_days` UInt32 COMMENT 'Days after the send in which a matching order counts',
    `launched_at` Nullable(DateTime64(3, 'UTC')) COMMENT 'When it was launched',
    `created_by` String COMMENT 'Token id of its author'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT c.campaign_id AS campaign_id, JSONExtractString(c.def, 'name') AS name, c.status AS status,
    JSONExtractString(c.def, 'channel') AS channel, JSONExtractString(c.def, 'segment_id') AS segment_id,
    JSONExtractString(c.def, 'offer_id') AS offer_id, JSONExtractString(o.def, 'name') AS offer_name,
    JSONExtract(o.def, 'skus', 'Array(String)') AS offer_skus, JSONExtract(o.def, 'categories', 'Array(String)') AS offer_categories,
    JSONExtractFloat(c.def, 'holdout_percent') AS holdout_percent,
    if(JSONExtractUInt(c.def, 'attribution_days') = 0, 14, JSONExtractUInt(c.def, 'attribution_days')) AS attribution_days,
    parseDateTime64BestEffortOrNull(JSONExtractString(c.def, 'launched_at'), 3, 'UTC') AS launched_at,
    JSONExtractString(c.def, 'created_by') AS created_by
FROM (SELECT campaign_id, argMax(definition, version) AS def, toString(argMax(status, version)) AS status FROM `cdp`.campaigns GROUP BY campaign_id) AS c
LEFT JOIN (SELECT offer_id, argMax(definition, version) AS def FROM `cdp`.offers GROUP BY offer_id) AS o
    ON o.offer_id = JSONExtractString(c.def, 'offer_id')
COMMENT 'Current campaign definitions with their offer.';

CREATE OR REPLACE VIEW `bi_cdp`.`campaign_sends` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String COMMENT 'Campaign',
    `campaign_name` String COMMENT 'Campaign name',
    `person_id` UInt32 COMMENT 'OneID planned for',
    `group` String COMMENT 'treatment, holdout or excluded',
    `reason` String COMMENT 'Why excluded: opted_out, no_sensitive_consent, cap_reached, quiet_hours, no_channel_address, global_control, send_limit, suppressed',
    `channel` String COMMENT 'outbox or wecom',
    `staff_userid` String COMMENT 'WeCom staff member who sends it',
    `state` String COMMENT 'planned, sent, delivered, failed, not_sent',
    `planned_at` DateTime64(3, 'UTC') COMMENT 'When it was planned (the start of attribution)',
    `date` Date COMMENT 'Day in Asia/Shanghai of planned_at',
    `updated_at` DateTime64(3, 'UTC') COMMENT 'Last state change'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT s.campaign_id AS campaign_id, c.name AS campaign_name, s.person_id AS person_id, toString(s.group) AS group, toString(s.reason) AS reason,
    toString(s.channel) AS channel, toString(s.sender) AS staff_userid, toString(s.state) AS state, s.planned_at AS planned_at,
    toDate(s.planned_at, 'Asia/Shanghai') AS date, s.updated_at AS updated_at
FROM `cdp`.campaign_sends AS s FINAL
LEFT JOIN (SELECT campaign_id, JSONExtractString(argMax(definition, version), 'name') AS name FROM `cdp`.campaigns GROUP BY campaign_id) AS c
    ON c.campaign_id = s.campaign_id
COMMENT 'The send log: one row per (campaign, person) with its group (treatment, holdout, excluded), exclusion reason and delivery state. No addresses.';

CREATE OR REPLACE VIEW `bi_cdp`.`campaign_results` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String COMMENT 'Campaign',
    `campaign_name` String COMMENT 'Campaign name',
    `offer_name` String COMMENT 'Offer name',
    `attribution_days` UInt32 COMMENT 'Attribution window in days',
    `treatment_persons` UInt64 COMMENT 'Recipients: treatment rows sent or delivered',
    `treatment_converted` UInt64 COMMENT 'Recipients with a matching order in the window',
    `treatment_rate` Float64 COMMENT 'treatment_converted / treatment_persons',
    `treatment_revenue` Float64 COMMENT 'Yuan of matching order lines of recipients in the window',
    `holdout_persons` UInt64 COMMENT 'Held-out persons',
    `holdout_converted` UInt64 COMMENT 'Held-out persons with a matching order in the window',
    `holdout_rate` Float64 COMMENT 'holdout_converted / holdout_persons',
    `holdout_revenue` Float64 COMMENT 'Yuan of matching order lines of held-out persons in the window',
    `uplift` Float64 COMMENT 'treatment_rate - holdout_rate (the console adds its 95% interval)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT campaign_id, any(c_name) AS campaign_name, any(o_name) AS offer_name, any(days) AS attribution_days,
    sumIf(persons, group = 'treatment') AS treatment_persons, sumIf(converted, group = 'treatment') AS treatment_converted,
    if(treatment_persons = 0, 0, treatment_converted / treatment_persons) AS treatment_rate, sumIf(revenue, group = 'treatment') AS treatment_revenue,
    sumIf(persons, group = 'holdout') AS holdout_persons, sumIf(converted, group = 'holdout') AS holdout_converted,
    if(holdout_persons = 0, 0, holdout_converted / holdout_persons) AS holdout_rate, sumIf(revenue, group = 'holdout') AS holdout_revenue,
    treatment_rate - holdout_rate AS uplift
FROM
(
    SELECT s.campaign_id AS campaign_id, s.group AS group, any(s.name) AS c_name, any(s.offer_name) AS o_name, any(s.days) AS days,
        uniqExact(s.person_id) AS persons,
        uniqExactIf(s.person_id, (has(s.skus, m.sku) OR has(s.categories, m.category)) AND m.ordered_at >= s.planned_at AND m.ordered_at < s.planned_at + toIntervalDay(s.days)) AS converted,
        sumIf(m.amount, (has(s.skus, m.sku) OR has(s.categories, m.category)) AND m.ordered_at >= s.planned_at AND m.ordered_at < s.planned_at + toIntervalDay(s.days)) AS revenue
    FROM
    (
        SELECT x.campaign_id AS campaign_id, x.person_id AS person_id, toString(x.group) AS group, x.planned_at AS planned_at,
            c.name AS name, c.offer_name AS offer_name, c.offer_skus AS skus, c.offer_categories AS categories, c.attribution_days AS days
        FROM `cdp`.campaign_sends AS x FINAL
        INNER JOIN `bi_cdp`.campaigns AS c ON c.campaign_id = x.campaign_id
        WHERE x.group = 'holdout' OR (x.group = 'treatment' AND x.state IN ('sent', 'delivered'))
    ) AS s
    LEFT JOIN
    (
        SELECT p.canonical AS person_id, o.ordered_at AS ordered_at, l.sku AS sku, toString(l.category) AS category, toFloat64(l.amount) AS amount
        FROM `cdp`.order_lines AS l FINAL
        INNER JOIN (SELECT channel, order_id, person_id, ordered_at FROM `cdp`.orders FINAL WHERE status NOT IN ('refunded', 'cancelled')) AS o
            ON o.channel = l.channel AND o.order_id = l.order_id
        INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
    ) AS m ON m.person_id = s.person_id
    GROUP BY s.campaign_id, s.group
)
GROUP BY campaign_id
COMMENT 'Conversion per campaign, treatment against holdout, counted as the console\'s results: valid orders with an offer SKU or category within the attribution window.';

CREATE OR REPLACE VIEW `bi_cdp`.`kpi_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai (days without orders have no row)',
    `orders` UInt64 COMMENT 'Valid orders',
    `gmv` Decimal(38, 2) COMMENT 'Yuan of valid orders (order totals)',
    `buyers` UInt64 COMMENT 'Distinct known buyers',
    `new_customers` UInt64 COMMENT 'Persons whose first valid order was that day',
    `returning_buyers` UInt64 COMMENT 'Buyers that day who had ordered before',
    `customers_to_date` UInt64 COMMENT 'Persons with a valid order up to that day',
    `repeat_customers_to_date` UInt64 COMMENT 'Persons with two or more valid orders up to that day',
    `repurchase_rate` Float64 COMMENT 'repeat_customers_to_date / customers_to_date (复购率)',
    `average_ltv` Float64 COMMENT 'Yuan of known buyers\' valid orders to date / customers_to_date; on the last day the mean of persons.lifetime_value over persons with orders'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT date, orders, gmv, buyers, new_customers, returning_buyers,
    sum(new_customers) OVER w AS customers_to_date,
    sum(second_orders) OVER w AS repeat_customers_to_date,
    if(customers_to_date = 0, 0, round(repeat_customers_to_date / customers_to_date, 4)) AS repurchase_rate,
    if(customers_to_date = 0, 0, round(toFloat64(sum(known_gmv) OVER w) / customers_to_date, 2)) AS average_ltv
FROM
(
    SELECT date, count() AS orders, sum(amount) AS gmv, sumIf(amount, person_id != 0) AS known_gmv, uniqExactIf(person_id, person_id != 0) AS buyers,
        countIf(person_order_number = 1) AS new_customers, uniqExactIf(person_id, person_order_number > 1) AS returning_buyers,
        countIf(person_order_number = 2) AS second_orders
    FROM `bi_cdp`.orders WHERE valid = 1 GROUP BY date
)
WINDOW w AS (ORDER BY date ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
COMMENT 'Daily KPIs over valid orders: GMV, buyers, new and returning customers, and to date: customers, repeat customers, repurchase rate and average lifetime value.';

CREATE OR REPLACE VIEW `bi_cdp`.`kpi_new_customers_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `channel` String COMMENT 'Channel of the first order',
    `city` String COMMENT 'City of the first order',
    `new_customers` UInt64 COMMENT 'Persons whose first valid order it was',
    `first_order_gmv` Decimal(38, 2) COMMENT 'Yuan of those first orders'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT date, channel, city, count() AS new_customers, sum(amount) AS first_order_gmv
FROM `bi_cdp`.orders WHERE person_order_number = 1 GROUP BY date, channel, city
COMMENT 'New customers per day and channel: persons whose first valid order was that day, by that order\'s channel.';

CREATE OR REPLACE VIEW `bi_cdp`.`kpi_gmv_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `category` String COMMENT 'Product category',
    `province` String COMMENT 'Province',
    `city` String COMMENT 'City',
    `orders` UInt64 COMMENT 'Valid orders with a line of the category',
    `buyers` UInt64 COMMENT 'Distinct known buyers',
    `quantity` Decimal(38, 3) COMMENT 'Units sold',
    `gmv` Decimal(38, 2) COMMENT 'Yuan of those lines (line totals; order-level discounts and shipping are not in lines)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT l.date AS date, l.category AS category, l.province AS province, l.city AS city, uniqExact(l.channel, l.order_id) AS orders,
    uniqExactIf(l.person_id, l.person_id != 0) AS buyers, sum(l.quantity) AS quantity, sum(l.amount) AS gmv
FROM `bi_cdp`.order_lines AS l WHERE l.valid = 1 GROUP BY date, category, province, city
COMMENT 'GMV per day, category and place, from the lines of valid orders.';

CREATE OR REPLACE VIEW `bi_cdp`.`kpi_wecom_contacts_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `staff_userid` String COMMENT 'WeCom staff member (follow user)',
    `state` String COMMENT 'State channel tag of the QR code the customer added through (removals inherit the add\'s tag)',
    `added` UInt64 COMMENT 'Customers who added the staff member (add_external_contact)',
    `removed` UInt64 COMMENT 'Contacts ended by the staff member (del_external_contact) or the customer (del_follow_user)',
    `net` Int64 COMMENT 'added - removed'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT toDate(e.ts, 'Asia/Shanghai') AS date, toString(e.staff_userid) AS staff_userid, if(e.state != '', toString(e.state), a.add_state) AS state,
    countIf(e.change_type = 'add_external_contact') AS added,
    countIf(e.change_type IN ('del_external_contact', 'del_follow_user')) AS removed,
    toInt64(added) - toInt64(removed) AS net
FROM `cdp`.wecom_contact_events AS e FINAL
LEFT JOIN
(
    SELECT external_userid, staff_userid, toString(argMin(state, ts)) AS add_state
    FROM `cdp`.wecom_contact_events FINAL
    WHERE change_type = 'add_external_contact' AND state != ''
    GROUP BY external_userid, staff_userid
) AS a ON a.external_userid = e.external_userid AND a.staff_userid = e.staff_userid
WHERE e.change_type IN ('add_external_contact', 'del_external_contact', 'del_follow_user')
GROUP BY date, staff_userid, state
COMMENT 'WeCom contact growth per day, staff member and State channel tag: adds, removals (either side) and net.';

-- migration 7 campaign_channels
CREATE TABLE IF NOT EXISTS `cdp`.`campaign_tasks_local` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String,
    `task_id` String COMMENT 'channel:target:first person id, unique within the campaign',
    `channel` LowCardinality(String) COMMENT 'wecom, robot, webhook',
    `target` String COMMENT 'The WeCom staff member (sender), robot or webhook name',
    `recipients` UInt32 COMMENT 'Persons the task carries (0 for a group post)',
    `text` String COMMENT 'The exact text sent: how an unanswered WeCom call is found again in get_groupmsg_list_v2',
    `state` LowCardinality(String) COMMENT 'sending, created, failed, done',
    `ref` String COMMENT 'The channel\'s id of the task: WeCom msgid, webhook idempotency key',
    `detail` String COMMENT 'Error or outcome counts',
    `attempt_at` DateTime64(3, 'UTC') COMMENT 'When the call was (first) made',
    `updated_at` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', updated_at)
ORDER BY (campaign_id, task_id)
COMMENT 'Channel tasks of campaigns, journalled before the call: sending (called or about to be), created (the channel answered), failed, done (every recipient\'s outcome known).';

CREATE TABLE IF NOT EXISTS `cdp`.`campaign_tasks` ON CLUSTER `cdp_cluster` AS `cdp`.`campaign_tasks_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'campaign_tasks_local', cityHash64(campaign_id, task_id));

ALTER TABLE `cdp`.`campaign_sends_local` ON CLUSTER `cdp_cluster` ADD COLUMN IF NOT EXISTS `task` String COMMENT 'The channel task that carries the send (campaign_tasks.task_id)' AFTER `detail`;

ALTER TABLE `cdp`.`campaign_sends` ON CLUSTER `cdp_cluster` ADD COLUMN IF NOT EXISTS `task` String COMMENT 'The channel task that carries the send (campaign_tasks.task_id)' AFTER `detail`;

-- migration 8 consent_evidence
ALTER TABLE `cdp`.`consents_local` ON CLUSTER `cdp_cluster` ADD COLUMN IF NOT EXISTS `evidence` String COMMENT 'What shows the decision: a form or ticket number, a URL, the WeCom message id of the customer\'s 退订 or 订阅' AFTER `source`;

ALTER TABLE `cdp`.`consents` ON CLUSTER `cdp_cluster` ADD COLUMN IF NOT EXISTS `evidence` String COMMENT 'What shows the decision: a form or ticket number, a URL, the WeCom message id of the customer\'s 退订 or 订阅' AFTER `source`;

ALTER TABLE `cdp`.`consents_local` ON CLUSTER `cdp_cluster` ADD COLUMN IF NOT EXISTS `reason` String COMMENT 'Why an admin undid an opt-out' AFTER `evidence`;

ALTER TABLE `cdp`.`consents` ON CLUSTER `cdp_cluster` ADD COLUMN IF NOT EXISTS `reason` String COMMENT 'Why an admin undid an opt-out' AFTER `evidence`;

ALTER TABLE `cdp`.`consents_local` ON CLUSTER `cdp_cluster` ADD COLUMN IF NOT EXISTS `actor` String COMMENT 'API token id of who recorded it; empty when the platform did (chat keywords, demo, imports)' AFTER `reason`;

ALTER TABLE `cdp`.`consents` ON CLUSTER `cdp_cluster` ADD COLUMN IF NOT EXISTS `actor` String COMMENT 'API token id of who recorded it; empty when the platform did (chat keywords, demo, imports)' AFTER `reason`;

-- migration 9 write_key_scopes
ALTER TABLE `cdp`.`write_keys_local` ON CLUSTER `cdp_cluster` ADD COLUMN IF NOT EXISTS `scope` LowCardinality(String) DEFAULT 'server' COMMENT 'client (track, identify, page, screen, group, alias, batch) or server (also orders and file imports); keys older than the scope are server' AFTER `source`;

ALTER TABLE `cdp`.`write_keys` ON CLUSTER `cdp_cluster` ADD COLUMN IF NOT EXISTS `scope` LowCardinality(String) DEFAULT 'server' COMMENT 'client (track, identify, page, screen, group, alias, batch) or server (also orders and file imports); keys older than the scope are server' AFTER `source`;

-- migration 10 bi_views_masks_and_definer
CREATE OR REPLACE VIEW `bi_cdp`.`persons` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32 COMMENT 'OneID: the canonical person id (the id in the console and the API)',
    `merged_ids` UInt32 COMMENT 'Person ids merged into this one, itself included',
    `phone_masked` String COMMENT 'Latest linked mobile number, masked to its last four digits (*******5678); empty when none',
    `phones` UInt32 COMMENT 'Distinct mobile numbers linked',
    `city` String COMMENT 'City of the latest order that names one',
    `province` String COMMENT 'Province of the latest order that names one',
    `city_tier` UInt8 COMMENT '1 (北京 上海 广州 深圳) to 4; 0 when the city is not in the tier table',
    `first_seen` Nullable(DateTime64(3, 'UTC')) COMMENT 'First event, order or WeCom contact',
    `last_seen` Nullable(DateTime64(3, 'UTC')) COMMENT 'Latest event, order or WeCom contact',
    `first_order_channel` String COMMENT 'Channel of the first valid order (tmall, douyin_shop, group_buy, pos, phone, mini_program)',
    `first_order_at` Nullable(DateTime64(3, 'UTC')) COMMENT 'First valid (not refunded or cancelled) order',
    `last_order_at` Nullable(DateTime64(3, 'UTC')) COMMENT 'Latest valid order',
    `orders` UInt64 COMMENT 'Valid orders',
    `lifetime_value` Float64 COMMENT 'Sum of valid orders in yuan (LTV)',
    `average_order_value` Float64 COMMENT 'lifetime_value / orders; 0 without orders',
    `recency_days` Nullable(Int64) COMMENT 'Days since the latest valid order',
    `repurchase_interval_days` Nullable(Float64) COMMENT 'Mean days between valid orders (two or more orders)',
    `rfm` String COMMENT 'RFM score over 365 days, e.g. 545 (each 1..5, as the profile); empty without orders',
    `r` UInt8 COMMENT 'Recency score 1..5; 0 without orders',
    `f` UInt8 COMMENT 'Frequency score 1..5; 0 without orders',
    `m` UInt8 COMMENT 'Monetary score 1..5; 0 without orders',
    `next_rice_purchase` Nullable(Date) COMMENT 'Predicted next rice purchase (median gap, or 21 days after a single one)',
    `next_oil_purchase` Nullable(Date) COMMENT 'Predicted next oil purchase (median gap, or 49 days after a single one)',
    `acquisition_channel` String COMMENT 'WeCom State channel tag of the first add (the 联系我 QR code)',
    `owner_staff` String COMMENT 'WeCom staff member who owns the customer now',
    `completed_videos` UInt64 COMMENT 'Douyin videos watched to the end',
    `topics` Array(String) COMMENT 'Content topics the person engaged with (控糖, 低GI, 减脂, ...)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    c.person_id AS person_id,
    c.merged_ids AS merged_ids,
    ph.phone_masked AS phone_masked,
    ph.phones AS phones,
    g.city AS city,
    g.province AS province,
    transform(g.city, ['北京', '上海', '广州', '深圳', '成都', '重庆', '杭州', '武汉', '西安', '苏州', '南京', '天津', '长沙', '郑州', '东莞', '青岛', '沈阳', '宁波', '昆明', '合肥', '福州', '济南', '哈尔滨', '长春', '石家庄', '南昌', '南宁', '贵阳', '太原', '厦门', '无锡', '佛山', '大连', '洛阳', '赣州', '绵阳', '潍坊', '岳阳', '襄阳', '桂林', '邯郸', '盐城'], [1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4], 0) AS city_tier,
    if(t.person_id = 0, NULL, t.first_seen) AS first_seen,
    if(t.person_id = 0, NULL, t.last_seen) AS last_seen,
    g.first_order_channel AS first_order_channel,
    g.first_order_at AS first_order_at,
    t.last_order_at AS last_order_at,
    t.orders AS orders,
    t.lifetime_value AS lifetime_value,
    t.average_order_value AS average_order_value,
    t.recency_days AS recency_days,
    t.repurchase_interval_days AS repurchase_interval_days,
    r.rfm AS rfm,
    r.r AS r,
    r.f AS f,
    r.m AS m,
    n.rice AS next_rice_purchase,
    n.oil AS next_oil_purchase,
    ifNull(t.acquisition_channel, '') AS acquisition_channel,
    ifNull(t.owner_staff, '') AS owner_staff,
    t.completed_videos AS completed_videos,
    t.topics AS topics
FROM (SELECT canonical AS person_id, count() AS merged_ids FROM `cdp`.persons FINAL GROUP BY canonical) AS c
LEFT JOIN `cdp`.person_traits AS t ON t.person_id = c.person_id
LEFT JOIN `cdp`.person_rfm AS r ON r.person_id = c.person_id
LEFT JOIN
(
    SELECT person_id, nullIf(maxIf(next_purchase, kind = 'rice'), toDate(0)) AS rice, nullIf(maxIf(next_purchase, kind = 'oil'), toDate(0)) AS oil
    FROM `cdp`.person_next_purchase GROUP BY person_id
) AS n ON n.person_id = c.person_id
LEFT JOIN
(
    SELECT p.canonical AS person_id,
        argMaxIf(toString(o.city), o.ordered_at, o.city != '') AS city,
        argMaxIf(toString(o.province), o.ordered_at, o.province != '') AS province,
        toString(argMinIf(o.channel, o.ordered_at, o.status NOT IN ('refunded', 'cancelled'))) AS first_order_channel,
        CAST(minIf(o.ordered_at, o.status NOT IN ('refunded', 'cancelled')), 'Nullable(DateTime64(3, \'UTC\'))') AS first_order_at_raw,
        if(countIf(o.status NOT IN ('refunded', 'cancelled')) = 0, NULL, first_order_at_raw) AS first_order_at
    FROM `cdp`.orders AS o FINAL
    INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
    WHERE o.person_id != 0
    GROUP BY p.canonical
) AS g ON g.person_id = c.person_id
LEFT JOIN
(
    SELECT p.canonical AS person_id, if(argMax(v.masked, l.linked_at) = '', '', concat('*******', right(argMax(v.masked, l.linked_at), 4))) AS phone_masked, uniqExact(l.id_value) AS phones
    FROM `cdp`.identity_links AS l FINAL
    INNER JOIN (SELECT hash, any(masked) AS masked FROM `cdp`.pii_vault GROUP BY hash) AS v ON v.hash = l.id_value
    INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = l.person_id
    WHERE l.id_type = 'phone'
    GROUP BY p.canonical
) AS ph ON ph.person_id = c.person_id
COMMENT 'One row per person (OneID, canonical after merges) with the traits the profile shows. Phones only masked.';

CREATE OR REPLACE VIEW `bi_cdp`.`events` ON CLUSTER `cdp_cluster`
(
    `ts` DateTime64(3, 'UTC') COMMENT 'When it happened',
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `type` String COMMENT 'track, identify, page, screen, group, alias',
    `event` String COMMENT 'Event name, e.g. video_complete, video_play, search, like',
    `source` String COMMENT 'Source of the write key: douyin, app, mini_program, ...',
    `topic` String COMMENT 'Content topic, e.g. 控糖, 低GI, 减脂, 宝宝辅食',
    `keyword` String COMMENT 'Search keyword; mobile numbers in it masked',
    `completion` Float32 COMMENT 'Video completion ratio 0..1'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT e.ts AS ts, toDate(e.ts, 'Asia/Shanghai') AS date, p.canonical AS person_id, toString(e.type) AS type, toString(e.event) AS event,
    toString(e.source) AS source, toString(e.topic) AS topic, replaceRegexpAll(replaceRegexpAll(e.keyword, '\\[phone (\\*{7}[0-9]{4}) h:[0-9a-f]{32}\\]', '\\1'), '1[3-9][0-9]{5}([0-9]{4})', '*******\\1') AS keyword, e.completion AS completion
FROM `cdp`.events AS e
INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = e.person_id
WHERE e.person_id != 0
COMMENT 'Behaviour events (Douyin views and searches, app and mini-program events) attributed to canonical persons. No identifiers, no raw JSON.';

CREATE OR REPLACE VIEW `bi_cdp`.`orders` ON CLUSTER `cdp_cluster`
(
    `channel` String COMMENT 'tmall, douyin_shop, group_buy, pos, phone, mini_program',
    `order_id` String COMMENT 'The channel\'s order id',
    `status` String COMMENT 'created, paid, shipped, completed, refunded, cancelled',
    `valid` UInt8 COMMENT '1 unless refunded or cancelled: what LTV, GMV and conversions count',
    `ordered_at` DateTime64(3, 'UTC') COMMENT 'When it was ordered',
    `date` Date COMMENT 'Day in Asia/Shanghai of ordered_at',
    `amount` Decimal(18, 2) COMMENT 'Order total in yuan',
    `province` String COMMENT 'Delivery or store province',
    `city` String COMMENT 'Delivery or store city',
    `store_id` String COMMENT 'POS store',
    `leader_id` String COMMENT 'Community group-buying leader (团长)',
    `person_id` UInt32 COMMENT 'OneID (canonical); 0 when the buyer is unknown',
    `person_order_number` UInt32 COMMENT '1 for the person\'s first valid order, 2 for the first repurchase, ...; 0 for invalid orders and unknown buyers'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT channel, order_id, status, valid, ordered_at, date, amount, province, city, store_id, leader_id, person_id,
    if(valid AND person_id != 0, toUInt32(row_number() OVER (PARTITION BY person_id, valid ORDER BY ordered_at, channel, order_id)), 0) AS person_order_number
FROM
(
    SELECT toString(o.channel) AS channel, o.order_id AS order_id, toString(o.status) AS status, toUInt8(o.status NOT IN ('refunded', 'cancelled')) AS valid,
        o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, o.amount AS amount,
        toString(o.province) AS province, toString(o.city) AS city, o.store_id AS store_id, o.leader_id AS leader_id,
        if(o.person_id = 0, 0, p.canonical) AS person_id
    FROM `cdp`.orders AS o FINAL
    LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
)
COMMENT 'Orders of every channel in their current state, attributed to canonical persons; person_order_number tells first orders from repurchases.';

CREATE OR REPLACE VIEW `bi_cdp`.`order_lines` ON CLUSTER `cdp_cluster`
(
    `channel` String COMMENT 'The order\'s channel',
    `order_id` String COMMENT 'The order',
    `line_no` UInt16 COMMENT 'Line number in the order',
    `sku` String COMMENT 'SKU, e.g. WC-5KG, LGI-0.5-TRIAL, HOPO-5L',
    `product_name` String COMMENT 'e.g. 五常大米 5kg',
    `category` String COMMENT 'e.g. 低GI大米, 五常大米, 东北大米, 高油酸花生油, 小包装油',
    `quantity` Decimal(12, 3) COMMENT 'Units (packs)',
    `unit_price` Decimal(18, 2) COMMENT 'Yuan per unit',
    `amount` Decimal(18, 2) COMMENT 'Line total in yuan',
    `pack_kg` Float64 COMMENT 'Rice pack weight in kg read from the product name (5 for 5kg, 0.5 for 500g); 0 when none',
    `pack_litres` Float64 COMMENT 'Oil pack volume in litres read from the product name (5 for 5L, 0.4 for 400ml); 0 when none',
    `status` String COMMENT 'The order\'s current status',
    `valid` UInt8 COMMENT '1 unless the order is refunded or cancelled',
    `ordered_at` DateTime64(3, 'UTC') COMMENT 'When the order was placed',
    `date` Date COMMENT 'Day in Asia/Shanghai of ordered_at',
    `province` String COMMENT 'The order\'s province',
    `city` String COMMENT 'The order\'s city',
    `person_id` UInt32 COMMENT 'OneID (canonical) of the buyer; 0 when unknown'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT toString(l.channel) AS channel, l.order_id AS order_id, l.line_no AS line_no, l.sku AS sku, l.product_name AS product_name,
    toString(l.category) AS category, l.quantity AS quantity, l.unit_price AS unit_price, l.amount AS amount,
    if(kg > 0, kg, grams / 1000) AS pack_kg, if(litres > 0, litres, ml / 1000) AS pack_litres,
    o.status AS status, toUInt8(o.status NOT IN ('refunded', 'cancelled')) AS valid, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date,
    o.province AS province, o.city AS city, if(o.person_id = 0, 0, p.canonical) AS person_id,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:kg|公斤|千克)')) AS kg,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:g|克)(?:[^a-z]|$)')) AS grams,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:l|升)(?:[^a-z]|$)')) AS litres,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:ml|毫升)')) AS ml
FROM `cdp`.order_lines AS l FINAL
INNER JOIN
(
    SELECT channel, order_id, toString(status) AS status, ordered_at, toString(province) AS province, toString(city) AS city, person_id
    FROM `cdp`.orders FINAL
) AS o ON o.channel = l.channel AND o.order_id = l.order_id
LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
COMMENT 'Order lines with their order\'s state, place and canonical buyer, and the pack size read from the product name.';

CREATE OR REPLACE VIEW `bi_cdp`.`segments` ON CLUSTER `cdp_cluster`
(
    `segment_id` String COMMENT 'Segment id (seg_...)',
    `name` String COMMENT 'Name, e.g. 高潜控糖人群',
    `description` String COMMENT 'What it is for',
    `rule` String COMMENT 'The rule in the segment language (docs/segments.md)',
    `version` UInt32 COMMENT 'Current definition version',
    `live` UInt8 COMMENT '1: kept current as records arrive',
    `size` UInt64 COMMENT 'Members in the latest snapshot (what the console shows)',
    `computed_at` Nullable(DateTime64(3, 'UTC')) COMMENT 'When the latest snapshot was taken'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT d.segment_id AS segment_id, d.name AS name, d.description AS description, d.rule AS rule, d.current_version AS version, d.live AS live,
    s.size AS size, if(s.segment_id = '', NULL, s.computed_at) AS computed_at
FROM
(
    SELECT segment_id, argMax(name, version) AS name, argMax(description, version) AS description, argMax(rule, version) AS rule,
        max(version) AS current_version, argMax(live, version) AS live, argMax(deleted, version) AS deleted
    FROM `cdp`.segments GROUP BY segment_id
) AS d
LEFT JOIN (SELECT segment_id, computed_at, size FROM `cdp`.segment_members FINAL) AS s ON s.segment_id = d.segment_id
WHERE d.deleted = 0
COMMENT 'Current segment definitions with the size of their latest membership snapshot (deleted segments left out).';

CREATE OR REPLACE VIEW `bi_cdp`.`segment_members` ON CLUSTER `cdp_cluster`
(
    `segment_id` String COMMENT 'Segment id',
    `segment_name` String COMMENT 'Segment name',
    `person_id` UInt32 COMMENT 'OneID of the member',
    `computed_at` DateTime64(3, 'UTC') COMMENT 'When the snapshot was taken'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT segment_id, name AS segment_name, person_id, computed_at FROM `cdp`.segment_members_current
COMMENT 'Segment membership, one row per (segment, person), exploded from the latest bitmap snapshot of each segment.';

CREATE OR REPLACE VIEW `bi_cdp`.`campaigns` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String COMMENT 'Campaign id',
    `name` String COMMENT 'Campaign name',
    `status` String COMMENT 'draft, scheduled, running, finished, cancelled',
    `channel` String COMMENT 'outbox or wecom',
    `segment_id` String COMMENT 'Target segment',
    `offer_id` String COMMENT 'Offer',
    `offer_name` String COMMENT 'Offer name, e.g. 低GI大米试用装',
    `offer_skus` Array(String) COMMENT 'An order line with one of these SKUs converts',
    `offer_categories` Array(String) COMMENT 'Or one with one of these categories',
    `holdout_percent` Float64 COMMENT 'Share of the audience held out to measure uplift',
    `attribution_days` UInt32 COMMENT 'Days after the send in which a matching order counts',
    `launched_at` Nullable(DateTime64(3, 'UTC')) COMMENT 'When it was launched',
    `created_by` String COMMENT 'Token id of its author'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT c.campaign_id AS campaign_id, JSONExtractString(c.def, 'name') AS name, c.status AS status,
    JSONExtractString(c.def, 'channel') AS channel, JSONExtractString(c.def, 'segment_id') AS segment_id,
    JSONExtractString(c.def, 'offer_id') AS offer_id, JSONExtractString(o.def, 'name') AS offer_name,
    JSONExtract(o.def, 'skus', 'Array(String)') AS offer_skus, JSONExtract(o.def, 'categories', 'Array(String)') AS offer_categories,
    JSONExtractFloat(c.def, 'holdout_percent') AS holdout_percent,
    if(JSONExtractUInt(c.def, 'attribution_days') = 0, 14, JSONExtractUInt(c.def, 'attribution_days')) AS attribution_days,
    parseDateTime64BestEffortOrNull(JSONExtractString(c.def, 'launched_at'), 3, 'UTC') AS launched_at,
    JSONExtractString(c.def, 'created_by') AS created_by
FROM (SELECT campaign_id, argMax(definition, version) AS def, toString(argMax(status, version)) AS status FROM `cdp`.campaigns GROUP BY campaign_id) AS c
LEFT JOIN (SELECT offer_id, argMax(definition, version) AS def FROM `cdp`.offers GROUP BY offer_id) AS o
    ON o.offer_id = JSONExtractString(c.def, 'offer_id')
COMMENT 'Current campaign definitions with their offer.';

CREATE OR REPLACE VIEW `bi_cdp`.`campaign_sends` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String COMMENT 'Campaign',
    `campaign_name` String COMMENT 'Campaign name',
    `person_id` UInt32 COMMENT 'OneID planned for',
    `group` String COMMENT 'treatment, holdout or excluded',
    `reason` String COMMENT 'Why excluded: opted_out, no_sensitive_consent, cap_reached, quiet_hours, no_channel_address, global_control, send_limit, suppressed',
    `channel` String COMMENT 'outbox or wecom',
    `staff_userid` String COMMENT 'WeCom staff member who sends it',
    `state` String COMMENT 'planned, sent, delivered, failed, not_sent',
    `planned_at` DateTime64(3, 'UTC') COMMENT 'When it was planned (the start of attribution)',
    `date` Date COMMENT 'Day in Asia/Shanghai of planned_at',
    `updated_at` DateTime64(3, 'UTC') COMMENT 'Last state change'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT s.campaign_id AS campaign_id, c.name AS campaign_name, s.person_id AS person_id, toString(s.group) AS group, toString(s.reason) AS reason,
    toString(s.channel) AS channel, toString(s.sender) AS staff_userid, toString(s.state) AS state, s.planned_at AS planned_at,
    toDate(s.planned_at, 'Asia/Shanghai') AS date, s.updated_at AS updated_at
FROM `cdp`.campaign_sends AS s FINAL
LEFT JOIN (SELECT campaign_id, JSONExtractString(argMax(definition, version), 'name') AS name FROM `cdp`.campaigns GROUP BY campaign_id) AS c
    ON c.campaign_id = s.campaign_id
COMMENT 'The send log: one row per (campaign, person) with its group (treatment, holdout, excluded), exclusion reason and delivery state. No addresses.';

CREATE OR REPLACE VIEW `bi_cdp`.`campaign_results` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String COMMENT 'Campaign',
    `campaign_name` String COMMENT 'Campaign name',
    `offer_name` String COMMENT 'Offer name',
    `attribution_days` UInt32 COMMENT 'Attribution window in days',
    `treatment_persons` UInt64 COMMENT 'Persons assigned to treatment, delivered or not (intention to treat)',
    `treatment_converted` UInt64 COMMENT 'Treatment persons with a matching order in the window',
    `treatment_rate` Float64 COMMENT 'treatment_converted / treatment_persons',
    `treatment_revenue` Float64 COMMENT 'Yuan of matching order lines of treatment persons in the window',
    `holdout_persons` UInt64 COMMENT 'Held-out persons',
    `holdout_converted` UInt64 COMMENT 'Held-out persons with a matching order in the window',
    `holdout_rate` Float64 COMMENT 'holdout_converted / holdout_persons',
    `holdout_revenue` Float64 COMMENT 'Yuan of matching order lines of held-out persons in the window',
    `uplift` Float64 COMMENT 'treatment_rate - holdout_rate (the console adds its 95% interval)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT campaign_id, any(c_name) AS campaign_name, any(o_name) AS offer_name, any(days) AS attribution_days,
    sumIf(persons, group = 'treatment') AS treatment_persons, sumIf(converted, group = 'treatment') AS treatment_converted,
    if(treatment_persons = 0, 0, treatment_converted / treatment_persons) AS treatment_rate, sumIf(revenue, group = 'treatment') AS treatment_revenue,
    sumIf(persons, group = 'holdout') AS holdout_persons, sumIf(converted, group = 'holdout') AS holdout_converted,
    if(holdout_persons = 0, 0, holdout_converted / holdout_persons) AS holdout_rate, sumIf(revenue, group = 'holdout') AS holdout_revenue,
    treatment_rate - holdout_rate AS uplift
FROM
(
    SELECT s.campaign_id AS campaign_id, s.group AS group, any(s.name) AS c_name, any(s.offer_name) AS o_name, any(s.days) AS days,
        uniqExact(s.planned) AS persons,
        uniqExactIf(s.planned, (has(s.skus, m.sku) OR has(s.categories, m.category)) AND m.ordered_at >= s.planned_at AND m.ordered_at < s.planned_at + toIntervalDay(s.days)) AS converted,
        sumIf(m.amount, (has(s.skus, m.sku) OR has(s.categories, m.category)) AND m.ordered_at >= s.planned_at AND m.ordered_at < s.planned_at + toIntervalDay(s.days)) AS revenue
    FROM
    (
        SELECT x.campaign_id AS campaign_id, x.person_id AS planned, if(pc.canonical = 0, x.person_id, pc.canonical) AS person_id,
            toString(x.group) AS group, x.planned_at AS planned_at,
            c.name AS name, c.offer_name AS offer_name, c.offer_skus AS skus, c.offer_categories AS categories, c.attribution_days AS days
        FROM `cdp`.campaign_sends AS x FINAL
        INNER JOIN `bi_cdp`.campaigns AS c ON c.campaign_id = x.campaign_id
        LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS pc ON pc.person_id = x.person_id
        WHERE x.group IN ('treatment', 'holdout')
    ) AS s
    LEFT JOIN
    (
        SELECT p.canonical AS person_id, o.ordered_at AS ordered_at, l.sku AS sku, toString(l.category) AS category, toFloat64(l.amount) AS amount
        FROM `cdp`.order_lines AS l FINAL
        INNER JOIN (SELECT channel, order_id, person_id, ordered_at FROM `cdp`.orders FINAL WHERE status NOT IN ('refunded', 'cancelled')) AS o
            ON o.channel = l.channel AND o.order_id = l.order_id
        INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
    ) AS m ON m.person_id = s.person_id
    GROUP BY s.campaign_id, s.group
)
GROUP BY campaign_id
COMMENT 'Conversion per campaign, treatment against holdout by intention to treat, counted as the console\'s results: valid orders with an offer SKU or category within the attribution window, of persons as merged since.';

CREATE OR REPLACE VIEW `bi_cdp`.`kpi_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai (days without orders have no row)',
    `orders` UInt64 COMMENT 'Valid orders',
    `gmv` Decimal(38, 2) COMMENT 'Yuan of valid orders (order totals)',
    `buyers` UInt64 COMMENT 'Distinct known buyers',
    `new_customers` UInt64 COMMENT 'Persons whose first valid order was that day',
    `returning_buyers` UInt64 COMMENT 'Buyers that day who had ordered before',
    `customers_to_date` UInt64 COMMENT 'Persons with a valid order up to that day',
    `repeat_customers_to_date` UInt64 COMMENT 'Persons with two or more valid orders up to that day',
    `repurchase_rate` Float64 COMMENT 'repeat_customers_to_date / customers_to_date (复购率)',
    `average_ltv` Float64 COMMENT 'Yuan of known buyers\' valid orders to date / customers_to_date; on the last day the mean of persons.lifetime_value over persons with orders'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT date, orders, gmv, buyers, new_customers, returning_buyers,
    sum(new_customers) OVER w AS customers_to_date,
    sum(second_orders) OVER w AS repeat_customers_to_date,
    if(customers_to_date = 0, 0, round(repeat_customers_to_date / customers_to_date, 4)) AS repurchase_rate,
    if(customers_to_date = 0, 0, round(toFloat64(sum(known_gmv) OVER w) / customers_to_date, 2)) AS average_ltv
FROM
(
    SELECT date, count() AS orders, sum(amount) AS gmv, sumIf(amount, person_id != 0) AS known_gmv, uniqExactIf(person_id, person_id != 0) AS buyers,
        countIf(person_order_number = 1) AS new_customers, uniqExactIf(person_id, person_order_number > 1) AS returning_buyers,
        countIf(person_order_number = 2) AS second_orders
    FROM `bi_cdp`.orders WHERE valid = 1 GROUP BY date
)
WINDOW w AS (ORDER BY date ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
COMMENT 'Daily KPIs over valid orders: GMV, buyers, new and returning customers, and to date: customers, repeat customers, repurchase rate and average lifetime value.';

CREATE OR REPLACE VIEW `bi_cdp`.`kpi_new_customers_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `channel` String COMMENT 'Channel of the first order',
    `city` String COMMENT 'City of the first order',
    `new_customers` UInt64 COMMENT 'Persons whose first valid order it was',
    `first_order_gmv` Decimal(38, 2) COMMENT 'Yuan of those first orders'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT date, channel, city, count() AS new_customers, sum(amount) AS first_order_gmv
FROM `bi_cdp`.orders WHERE person_order_number = 1 GROUP BY date, channel, city
COMMENT 'New customers per day and channel: persons whose first valid order was that day, by that order\'s channel.';

CREATE OR REPLACE VIEW `bi_cdp`.`kpi_gmv_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `category` String COMMENT 'Product category',
    `province` String COMMENT 'Province',
    `city` String COMMENT 'City',
    `orders` UInt64 COMMENT 'Valid orders with a line of the category',
    `buyers` UInt64 COMMENT 'Distinct known buyers',
    `quantity` Decimal(38, 3) COMMENT 'Units sold',
    `gmv` Decimal(38, 2) COMMENT 'Yuan of those lines (line totals; order-level discounts and shipping are not in lines)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT l.date AS date, l.category AS category, l.province AS province, l.city AS city, uniqExact(l.channel, l.order_id) AS orders,
    uniqExactIf(l.person_id, l.person_id != 0) AS buyers, sum(l.quantity) AS quantity, sum(l.amount) AS gmv
FROM `bi_cdp`.order_lines AS l WHERE l.valid = 1 GROUP BY date, category, province, city
COMMENT 'GMV per day, category and place, from the lines of valid orders.';

CREATE OR REPLACE VIEW `bi_cdp`.`kpi_wecom_contacts_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `staff_userid` String COMMENT 'WeCom staff member (follow user)',
    `state` String COMMENT 'State channel tag of the QR code the customer added through (removals inherit the add\'s tag)',
    `added` UInt64 COMMENT 'Customers who added the staff member (add_external_contact)',
    `removed` UInt64 COMMENT 'Contacts ended by the staff member (del_external_contact) or the customer (del_follow_user)',
    `net` Int64 COMMENT 'added - removed'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT toDate(e.ts, 'Asia/Shanghai') AS date, toString(e.staff_userid) AS staff_userid, if(e.state != '', toString(e.state), a.add_state) AS state,
    countIf(e.change_type = 'add_external_contact') AS added,
    countIf(e.change_type IN ('del_external_contact', 'del_follow_user')) AS removed,
    toInt64(added) - toInt64(removed) AS net
FROM `cdp`.wecom_contact_events AS e FINAL
LEFT JOIN
(
    SELECT external_userid, staff_userid, toString(argMin(state, ts)) AS add_state
    FROM `cdp`.wecom_contact_events FINAL
    WHERE change_type = 'add_external_contact' AND state != ''
    GROUP BY external_userid, staff_userid
) AS a ON a.external_userid = e.external_userid AND a.staff_userid = e.staff_userid
WHERE e.change_type IN ('add_external_contact', 'del_external_contact', 'del_follow_user')
GROUP BY date, staff_userid, state
COMMENT 'WeCom contact growth per day, staff member and State channel tag: adds, removals (either side) and net.';

-- migration 11 bi_views_domain_fragments
CREATE OR REPLACE VIEW `bi_cdp`.`persons` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32 COMMENT 'OneID: the canonical person id (the id in the console and the API)',
    `merged_ids` UInt32 COMMENT 'Person ids merged into this one, itself included',
    `phone_masked` String COMMENT 'Latest linked mobile number, masked to its last four digits (*******5678); empty when none',
    `phones` UInt32 COMMENT 'Distinct mobile numbers linked',
    `city` String COMMENT 'City of the latest order that names one',
    `province` String COMMENT 'Province of the latest order that names one',
    `city_tier` UInt8 COMMENT '1 (北京 上海 广州 深圳) to 4; 0 when the city is not in the tier table',
    `first_seen` Nullable(DateTime64(3, 'UTC')) COMMENT 'First event, order or WeCom contact',
    `last_seen` Nullable(DateTime64(3, 'UTC')) COMMENT 'Latest event, order or WeCom contact',
    `first_order_channel` String COMMENT 'Channel of the first valid order (tmall, douyin_shop, group_buy, pos, phone, mini_program)',
    `first_order_at` Nullable(DateTime64(3, 'UTC')) COMMENT 'First valid (not refunded or cancelled) order',
    `last_order_at` Nullable(DateTime64(3, 'UTC')) COMMENT 'Latest valid order',
    `orders` UInt64 COMMENT 'Valid orders',
    `lifetime_value` Float64 COMMENT 'Sum of valid orders in yuan (LTV)',
    `average_order_value` Float64 COMMENT 'lifetime_value / orders; 0 without orders',
    `recency_days` Nullable(Int64) COMMENT 'Days since the latest valid order',
    `repurchase_interval_days` Nullable(Float64) COMMENT 'Mean days between valid orders (two or more orders)',
    `rfm` String COMMENT 'RFM score over 365 days, e.g. 545 (each 1..5, as the profile); empty without orders',
    `r` UInt8 COMMENT 'Recency score 1..5; 0 without orders',
    `f` UInt8 COMMENT 'Frequency score 1..5; 0 without orders',
    `m` UInt8 COMMENT 'Monetary score 1..5; 0 without orders',
    `next_rice_purchase` Nullable(Date) COMMENT 'Predicted next rice purchase (median gap, or 21 days after a single one)',
    `next_oil_purchase` Nullable(Date) COMMENT 'Predicted next oil purchase (median gap, or 49 days after a single one)',
    `acquisition_channel` String COMMENT 'WeCom State channel tag of the first add (the 联系我 QR code)',
    `owner_staff` String COMMENT 'WeCom staff member who owns the customer now',
    `completed_videos` UInt64 COMMENT 'Douyin videos watched to the end',
    `topics` Array(String) COMMENT 'Content topics the person engaged with (控糖, 低GI, 减脂, ...)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT
    c.person_id AS person_id,
    c.merged_ids AS merged_ids,
    ph.phone_masked AS phone_masked,
    ph.phones AS phones,
    g.city AS city,
    g.province AS province,
    transform(g.city, ['北京', '上海', '广州', '深圳', '成都', '重庆', '杭州', '武汉', '西安', '苏州', '南京', '天津', '长沙', '郑州', '东莞', '青岛', '沈阳', '宁波', '昆明', '合肥', '福州', '济南', '哈尔滨', '长春', '石家庄', '南昌', '南宁', '贵阳', '太原', '厦门', '无锡', '佛山', '大连', '洛阳', '赣州', '绵阳', '潍坊', '岳阳', '襄阳', '桂林', '邯郸', '盐城'], [1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4, 4, 4, 4], 0) AS city_tier,
    if(t.person_id = 0, NULL, t.first_seen) AS first_seen,
    if(t.person_id = 0, NULL, t.last_seen) AS last_seen,
    g.first_order_channel AS first_order_channel,
    g.first_order_at AS first_order_at,
    t.last_order_at AS last_order_at,
    t.orders AS orders,
    t.lifetime_value AS lifetime_value,
    t.average_order_value AS average_order_value,
    t.recency_days AS recency_days,
    t.repurchase_interval_days AS repurchase_interval_days,
    r.rfm AS rfm,
    r.r AS r,
    r.f AS f,
    r.m AS m,
    n.rice AS next_rice_purchase,
    n.oil AS next_oil_purchase,
    ifNull(t.acquisition_channel, '') AS acquisition_channel,
    ifNull(t.owner_staff, '') AS owner_staff,
    t.completed_videos AS completed_videos,
    t.topics AS topics
FROM (SELECT canonical AS person_id, count() AS merged_ids FROM (SELECT person_id, canonical FROM `cdp`.persons FINAL) GROUP BY canonical) AS c
LEFT JOIN `cdp`.person_traits AS t ON t.person_id = c.person_id
LEFT JOIN `cdp`.person_rfm AS r ON r.person_id = c.person_id
LEFT JOIN
(
    SELECT person_id, nullIf(maxIf(next_purchase, kind = 'rice'), toDate(0)) AS rice, nullIf(maxIf(next_purchase, kind = 'oil'), toDate(0)) AS oil
    FROM `cdp`.person_next_purchase GROUP BY person_id
) AS n ON n.person_id = c.person_id
LEFT JOIN
(
    SELECT p.canonical AS person_id,
        argMaxIf(toString(o.city), o.ordered_at, o.city != '') AS city,
        argMaxIf(toString(o.province), o.ordered_at, o.province != '') AS province,
        toString(argMinIf(o.channel, o.ordered_at, o.status NOT IN ('refunded', 'cancelled'))) AS first_order_channel,
        CAST(minIf(o.ordered_at, o.status NOT IN ('refunded', 'cancelled')), 'Nullable(DateTime64(3, \'UTC\'))') AS first_order_at_raw,
        if(countIf(o.status NOT IN ('refunded', 'cancelled')) = 0, NULL, first_order_at_raw) AS first_order_at
    FROM `cdp`.orders AS o FINAL
    INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
    WHERE o.person_id != 0
    GROUP BY p.canonical
) AS g ON g.person_id = c.person_id
LEFT JOIN
(
    SELECT p.canonical AS person_id, if(argMax(v.masked, l.linked_at) = '', '', concat('*******', right(argMax(v.masked, l.linked_at), 4))) AS phone_masked, uniqExact(l.id_value) AS phones
    FROM `cdp`.identity_links AS l FINAL
    INNER JOIN (SELECT hash, argMax(masked, updated_at) AS masked, argMax(ciphertext, updated_at) AS ciphertext FROM `cdp`.pii_vault GROUP BY hash) AS v ON v.hash = l.id_value
    INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = l.person_id
    WHERE l.id_type = 'phone'
    GROUP BY p.canonical
) AS ph ON ph.person_id = c.person_id
COMMENT 'One row per person (OneID, canonical after merges) with the traits the profile shows. Phones only masked.';

CREATE OR REPLACE VIEW `bi_cdp`.`events` ON CLUSTER `cdp_cluster`
(
    `ts` DateTime64(3, 'UTC') COMMENT 'When it happened',
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `type` String COMMENT 'track, identify, page, screen, group, alias',
    `event` String COMMENT 'Event name, e.g. video_complete, video_play, search, like',
    `source` String COMMENT 'Source of the write key: douyin, app, mini_program, ...',
    `topic` String COMMENT 'Content topic, e.g. 控糖, 低GI, 减脂, 宝宝辅食',
    `keyword` String COMMENT 'Search keyword; mobile numbers in it masked',
    `completion` Float32 COMMENT 'Video completion ratio 0..1'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT e.ts AS ts, toDate(e.ts, 'Asia/Shanghai') AS date, p.canonical AS person_id, toString(e.type) AS type, toString(e.event) AS event,
    toString(e.source) AS source, toString(e.topic) AS topic, replaceRegexpAll(replaceRegexpAll(e.keyword, '\\[phone (\\*{7}[0-9]{4}) h:[0-9a-f]{32}\\]', '\\1'), '1[3-9][0-9]{5}([0-9]{4})', '*******\\1') AS keyword, e.completion AS completion
FROM `cdp`.events AS e
INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = e.person_id
WHERE e.person_id != 0
COMMENT 'Behaviour events (Douyin views and searches, app and mini-program events) attributed to canonical persons. No identifiers, no raw JSON.';

CREATE OR REPLACE VIEW `bi_cdp`.`orders` ON CLUSTER `cdp_cluster`
(
    `channel` String COMMENT 'tmall, douyin_shop, group_buy, pos, phone, mini_program',
    `order_id` String COMMENT 'The channel\'s order id',
    `status` String COMMENT 'created, paid, shipped, completed, refunded, cancelled',
    `valid` UInt8 COMMENT '1 unless refunded or cancelled: what LTV, GMV and conversions count',
    `ordered_at` DateTime64(3, 'UTC') COMMENT 'When it was ordered',
    `date` Date COMMENT 'Day in Asia/Shanghai of ordered_at',
    `amount` Decimal(18, 2) COMMENT 'Order total in yuan',
    `province` String COMMENT 'Delivery or store province',
    `city` String COMMENT 'Delivery or store city',
    `store_id` String COMMENT 'POS store',
    `leader_id` String COMMENT 'Community group-buying leader (团长)',
    `person_id` UInt32 COMMENT 'OneID (canonical); 0 when the buyer is unknown',
    `person_order_number` UInt32 COMMENT '1 for the person\'s first valid order, 2 for the first repurchase, ...; 0 for invalid orders and unknown buyers'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT channel, order_id, status, valid, ordered_at, date, amount, province, city, store_id, leader_id, person_id,
    if(valid AND person_id != 0, toUInt32(row_number() OVER (PARTITION BY person_id, valid ORDER BY ordered_at, channel, order_id)), 0) AS person_order_number
FROM
(
    SELECT toString(o.channel) AS channel, o.order_id AS order_id, toString(o.status) AS status, toUInt8(o.status NOT IN ('refunded', 'cancelled')) AS valid,
        o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, o.amount AS amount,
        toString(o.province) AS province, toString(o.city) AS city, o.store_id AS store_id, o.leader_id AS leader_id,
        if(o.person_id = 0, 0, p.canonical) AS person_id
    FROM `cdp`.orders AS o FINAL
    LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
)
COMMENT 'Orders of every channel in their current state, attributed to canonical persons; person_order_number tells first orders from repurchases.';

CREATE OR REPLACE VIEW `bi_cdp`.`order_lines` ON CLUSTER `cdp_cluster`
(
    `channel` String COMMENT 'The order\'s channel',
    `order_id` String COMMENT 'The order',
    `line_no` UInt16 COMMENT 'Line number in the order',
    `sku` String COMMENT 'SKU, e.g. WC-5KG, LGI-0.5-TRIAL, HOPO-5L',
    `product_name` String COMMENT 'e.g. 五常大米 5kg',
    `category` String COMMENT 'e.g. 低GI大米, 五常大米, 东北大米, 高油酸花生油, 小包装油',
    `quantity` Decimal(12, 3) COMMENT 'Units (packs)',
    `unit_price` Decimal(18, 2) COMMENT 'Yuan per unit',
    `amount` Decimal(18, 2) COMMENT 'Line total in yuan',
    `pack_kg` Float64 COMMENT 'Rice pack weight in kg read from the product name (5 for 5kg, 0.5 for 500g); 0 when none',
    `pack_litres` Float64 COMMENT 'Oil pack volume in litres read from the product name (5 for 5L, 0.4 for 400ml); 0 when none',
    `status` String COMMENT 'The order\'s current status',
    `valid` UInt8 COMMENT '1 unless the order is refunded or cancelled',
    `ordered_at` DateTime64(3, 'UTC') COMMENT 'When the order was placed',
    `date` Date COMMENT 'Day in Asia/Shanghai of ordered_at',
    `province` String COMMENT 'The order\'s province',
    `city` String COMMENT 'The order\'s city',
    `person_id` UInt32 COMMENT 'OneID (canonical) of the buyer; 0 when unknown'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT toString(l.channel) AS channel, l.order_id AS order_id, l.line_no AS line_no, l.sku AS sku, l.product_name AS product_name,
    toString(l.category) AS category, l.quantity AS quantity, l.unit_price AS unit_price, l.amount AS amount,
    if(kg > 0, kg, grams / 1000) AS pack_kg, if(litres > 0, litres, ml / 1000) AS pack_litres,
    o.status AS status, toUInt8(o.status NOT IN ('refunded', 'cancelled')) AS valid, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date,
    o.province AS province, o.city AS city, if(o.person_id = 0, 0, p.canonical) AS person_id,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:kg|公斤|千克)')) AS kg,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:g|克)(?:[^a-z]|$)')) AS grams,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:l|升)(?:[^a-z]|$)')) AS litres,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:ml|毫升)')) AS ml
FROM `cdp`.order_lines AS l FINAL
INNER JOIN
(
    SELECT channel, order_id, toString(status) AS status, ordered_at, toString(province) AS province, toString(city) AS city, person_id
    FROM `cdp`.orders FINAL
) AS o ON o.channel = l.channel AND o.order_id = l.order_id
LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
COMMENT 'Order lines with their order\'s state, place and canonical buyer, and the pack size read from the product name.';

CREATE OR REPLACE VIEW `bi_cdp`.`segments` ON CLUSTER `cdp_cluster`
(
    `segment_id` String COMMENT 'Segment id (seg_...)',
    `name` String COMMENT 'Name, e.g. 高潜控糖人群',
    `description` String COMMENT 'What it is for',
    `rule` String COMMENT 'The rule in the segment language (docs/segments.md)',
    `version` UInt32 COMMENT 'Current definition version',
    `live` UInt8 COMMENT '1: kept current as records arrive',
    `size` UInt64 COMMENT 'Members in the latest snapshot (what the console shows)',
    `computed_at` Nullable(DateTime64(3, 'UTC')) COMMENT 'When the latest snapshot was taken'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT d.segment_id AS segment_id, d.name AS name, d.description AS description, d.rule AS rule, d.current_version AS version, d.live AS live,
    s.size AS size, if(s.segment_id = '', NULL, s.computed_at) AS computed_at
FROM
(
    SELECT segment_id, argMax(name, version) AS name, argMax(description, version) AS description, argMax(rule, version) AS rule,
        max(version) AS current_version, argMax(live, version) AS live, argMax(deleted, version) AS deleted
    FROM `cdp`.segments GROUP BY segment_id
) AS d
LEFT JOIN (SELECT segment_id, computed_at, size FROM `cdp`.segment_members FINAL) AS s ON s.segment_id = d.segment_id
WHERE d.deleted = 0
COMMENT 'Current segment definitions with the size of their latest membership snapshot (deleted segments left out).';

CREATE OR REPLACE VIEW `bi_cdp`.`segment_members` ON CLUSTER `cdp_cluster`
(
    `segment_id` String COMMENT 'Segment id',
    `segment_name` String COMMENT 'Segment name',
    `person_id` UInt32 COMMENT 'OneID of the member',
    `computed_at` DateTime64(3, 'UTC') COMMENT 'When the snapshot was taken'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT segment_id, name AS segment_name, person_id, computed_at FROM `cdp`.segment_members_current
COMMENT 'Segment membership, one row per (segment, person), exploded from the latest bitmap snapshot of each segment.';

CREATE OR REPLACE VIEW `bi_cdp`.`campaigns` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String COMMENT 'Campaign id',
    `name` String COMMENT 'Campaign name',
    `status` String COMMENT 'draft, scheduled, running, finished, cancelled',
    `channel` String COMMENT 'outbox or wecom',
    `segment_id` String COMMENT 'Target segment',
    `offer_id` String COMMENT 'Offer',
    `offer_name` String COMMENT 'Offer name, e.g. 低GI大米试用装',
    `offer_skus` Array(String) COMMENT 'An order line with one of these SKUs converts',
    `offer_categories` Array(String) COMMENT 'Or one with one of these categories',
    `holdout_percent` Float64 COMMENT 'Share of the audience held out to measure uplift',
    `attribution_days` UInt32 COMMENT 'Days after the send in which a matching order counts',
    `launched_at` Nullable(DateTime64(3, 'UTC')) COMMENT 'When it was launched',
    `created_by` String COMMENT 'Token id of its author'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT c.campaign_id AS campaign_id, JSONExtractString(c.def, 'name') AS name, c.status AS status,
    JSONExtractString(c.def, 'channel') AS channel, JSONExtractString(c.def, 'segment_id') AS segment_id,
    JSONExtractString(c.def, 'offer_id') AS offer_id, JSONExtractString(o.def, 'name') AS offer_name,
    JSONExtract(o.def, 'skus', 'Array(String)') AS offer_skus, JSONExtract(o.def, 'categories', 'Array(String)') AS offer_categories,
    JSONExtractFloat(c.def, 'holdout_percent') AS holdout_percent,
    if(JSONExtractUInt(c.def, 'attribution_days') = 0, 14, JSONExtractUInt(c.def, 'attribution_days')) AS attribution_days,
    parseDateTime64BestEffortOrNull(JSONExtractString(c.def, 'launched_at'), 3, 'UTC') AS launched_at,
    JSONExtractString(c.def, 'created_by') AS created_by
FROM (SELECT campaign_id, argMax(definition, version) AS def, toString(argMax(status, version)) AS status FROM `cdp`.campaigns GROUP BY campaign_id) AS c
LEFT JOIN (SELECT offer_id, argMax(definition, version) AS def FROM `cdp`.offers GROUP BY offer_id) AS o
    ON o.offer_id = JSONExtractString(c.def, 'offer_id')
COMMENT 'Current campaign definitions with their offer.';

CREATE OR REPLACE VIEW `bi_cdp`.`campaign_sends` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String COMMENT 'Campaign',
    `campaign_name` String COMMENT 'Campaign name',
    `person_id` UInt32 COMMENT 'OneID planned for',
    `group` String COMMENT 'treatment, holdout or excluded',
    `reason` String COMMENT 'Why excluded: opted_out, no_sensitive_consent, cap_reached, quiet_hours, no_channel_address, global_control, send_limit, suppressed',
    `channel` String COMMENT 'outbox or wecom',
    `staff_userid` String COMMENT 'WeCom staff member who sends it',
    `state` String COMMENT 'planned, sent, delivered, failed, not_sent',
    `planned_at` DateTime64(3, 'UTC') COMMENT 'When it was planned (the start of attribution)',
    `date` Date COMMENT 'Day in Asia/Shanghai of planned_at',
    `updated_at` DateTime64(3, 'UTC') COMMENT 'Last state change'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT s.campaign_id AS campaign_id, c.name AS campaign_name, s.person_id AS person_id, toString(s.group) AS group, toString(s.reason) AS reason,
    toString(s.channel) AS channel, toString(s.sender) AS staff_userid, toString(s.state) AS state, s.planned_at AS planned_at,
    toDate(s.planned_at, 'Asia/Shanghai') AS date, s.updated_at AS updated_at
FROM `cdp`.campaign_sends AS s FINAL
LEFT JOIN (SELECT campaign_id, JSONExtractString(argMax(definition, version), 'name') AS name FROM `cdp`.campaigns GROUP BY campaign_id) AS c
    ON c.campaign_id = s.campaign_id
COMMENT 'The send log: one row per (campaign, person) with its group (treatment, holdout, excluded), exclusion reason and delivery state. No addresses.';

CREATE OR REPLACE VIEW `bi_cdp`.`campaign_results` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String COMMENT 'Campaign',
    `campaign_name` String COMMENT 'Campaign name',
    `offer_name` String COMMENT 'Offer name',
    `attribution_days` UInt32 COMMENT 'Attribution window in days',
    `treatment_persons` UInt64 COMMENT 'Persons assigned to treatment, delivered or not (intention to treat)',
    `treatment_converted` UInt64 COMMENT 'Treatment persons with a matching order in the window',
    `treatment_rate` Float64 COMMENT 'treatment_converted / treatment_persons',
    `treatment_revenue` Float64 COMMENT 'Yuan of matching order lines of treatment persons in the window',
    `holdout_persons` UInt64 COMMENT 'Held-out persons',
    `holdout_converted` UInt64 COMMENT 'Held-out persons with a matching order in the window',
    `holdout_rate` Float64 COMMENT 'holdout_converted / holdout_persons',
    `holdout_revenue` Float64 COMMENT 'Yuan of matching order lines of held-out persons in the window',
    `uplift` Float64 COMMENT 'treatment_rate - holdout_rate (the console adds its 95% interval)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT campaign_id, any(c_name) AS campaign_name, any(o_name) AS offer_name, any(days) AS attribution_days,
    sumIf(persons, group = 'treatment') AS treatment_persons, sumIf(converted, group = 'treatment') AS treatment_converted,
    if(treatment_persons = 0, 0, treatment_converted / treatment_persons) AS treatment_rate, sumIf(revenue, group = 'treatment') AS treatment_revenue,
    sumIf(persons, group = 'holdout') AS holdout_persons, sumIf(converted, group = 'holdout') AS holdout_converted,
    if(holdout_persons = 0, 0, holdout_converted / holdout_persons) AS holdout_rate, sumIf(revenue, group = 'holdout') AS holdout_revenue,
    treatment_rate - holdout_rate AS uplift
FROM
(
    SELECT s.campaign_id AS campaign_id, s.group AS group, any(s.name) AS c_name, any(s.offer_name) AS o_name, any(s.days) AS days,
        uniqExact(s.planned) AS persons,
        uniqExactIf(s.planned, (has(s.skus, m.sku) OR has(s.categories, m.category)) AND m.ordered_at >= s.planned_at AND m.ordered_at < s.planned_at + toIntervalDay(s.days)) AS converted,
        sumIf(m.amount, (has(s.skus, m.sku) OR has(s.categories, m.category)) AND m.ordered_at >= s.planned_at AND m.ordered_at < s.planned_at + toIntervalDay(s.days)) AS revenue
    FROM
    (
        SELECT x.campaign_id AS campaign_id, x.person_id AS planned, if(pc.canonical = 0, x.person_id, pc.canonical) AS person_id,
            toString(x.group) AS group, x.planned_at AS planned_at,
            c.name AS name, c.offer_name AS offer_name, c.offer_skus AS skus, c.offer_categories AS categories, c.attribution_days AS days
        FROM `cdp`.campaign_sends AS x FINAL
        INNER JOIN `bi_cdp`.campaigns AS c ON c.campaign_id = x.campaign_id
        LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS pc ON pc.person_id = x.person_id
        WHERE x.group IN ('treatment', 'holdout')
    ) AS s
    LEFT JOIN
    (
        SELECT p.canonical AS person_id, o.ordered_at AS ordered_at, l.sku AS sku, toString(l.category) AS category, toFloat64(l.amount) AS amount
        FROM `cdp`.order_lines AS l FINAL
        INNER JOIN (SELECT channel, order_id, person_id, ordered_at FROM `cdp`.orders FINAL WHERE status NOT IN ('refunded', 'cancelled')) AS o
            ON o.channel = l.channel AND o.order_id = l.order_id
        INNER JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL) AS p ON p.person_id = o.person_id
    ) AS m ON m.person_id = s.person_id
    GROUP BY s.campaign_id, s.group
)
GROUP BY campaign_id
COMMENT 'Conversion per campaign, treatment against holdout by intention to treat, counted as the console\'s results: valid orders with an offer SKU or category within the attribution window, of persons as merged since.';

CREATE OR REPLACE VIEW `bi_cdp`.`kpi_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai (days without orders have no row)',
    `orders` UInt64 COMMENT 'Valid orders',
    `gmv` Decimal(38, 2) COMMENT 'Yuan of valid orders (order totals)',
    `buyers` UInt64 COMMENT 'Distinct known buyers',
    `new_customers` UInt64 COMMENT 'Persons whose first valid order was that day',
    `returning_buyers` UInt64 COMMENT 'Buyers that day who had ordered before',
    `customers_to_date` UInt64 COMMENT 'Persons with a valid order up to that day',
    `repeat_customers_to_date` UInt64 COMMENT 'Persons with two or more valid orders up to that day',
    `repurchase_rate` Float64 COMMENT 'repeat_customers_to_date / customers_to_date (复购率)',
    `average_ltv` Float64 COMMENT 'Yuan of known buyers\' valid orders to date / customers_to_date; on the last day the mean of persons.lifetime_value over persons with orders'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT date, orders, gmv, buyers, new_customers, returning_buyers,
    sum(new_customers) OVER w AS customers_to_date,
    sum(second_orders) OVER w AS repeat_customers_to_date,
    if(customers_to_date = 0, 0, round(repeat_customers_to_date / customers_to_date, 4)) AS repurchase_rate,
    if(customers_to_date = 0, 0, round(toFloat64(sum(known_gmv) OVER w) / customers_to_date, 2)) AS average_ltv
FROM
(
    SELECT date, count() AS orders, sum(amount) AS gmv, sumIf(amount, person_id != 0) AS known_gmv, uniqExactIf(person_id, person_id != 0) AS buyers,
        countIf(person_order_number = 1) AS new_customers, uniqExactIf(person_id, person_order_number > 1) AS returning_buyers,
        countIf(person_order_number = 2) AS second_orders
    FROM `bi_cdp`.orders WHERE valid = 1 GROUP BY date
)
WINDOW w AS (ORDER BY date ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
COMMENT 'Daily KPIs over valid orders: GMV, buyers, new and returning customers, and to date: customers, repeat customers, repurchase rate and average lifetime value.';

CREATE OR REPLACE VIEW `bi_cdp`.`kpi_new_customers_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `channel` String COMMENT 'Channel of the first order',
    `city` String COMMENT 'City of the first order',
    `new_customers` UInt64 COMMENT 'Persons whose first valid order it was',
    `first_order_gmv` Decimal(38, 2) COMMENT 'Yuan of those first orders'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT date, channel, city, count() AS new_customers, sum(amount) AS first_order_gmv
FROM `bi_cdp`.orders WHERE person_order_number = 1 GROUP BY date, channel, city
COMMENT 'New customers per day and channel: persons whose first valid order was that day, by that order\'s channel.';

CREATE OR REPLACE VIEW `bi_cdp`.`kpi_gmv_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `category` String COMMENT 'Product category',
    `province` String COMMENT 'Province',
    `city` String COMMENT 'City',
    `orders` UInt64 COMMENT 'Valid orders with a line of the category',
    `buyers` UInt64 COMMENT 'Distinct known buyers',
    `quantity` Decimal(38, 3) COMMENT 'Units sold',
    `gmv` Decimal(38, 2) COMMENT 'Yuan of those lines (line totals; order-level discounts and shipping are not in lines)'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT l.date AS date, l.category AS category, l.province AS province, l.city AS city, uniqExact(l.channel, l.order_id) AS orders,
    uniqExactIf(l.person_id, l.person_id != 0) AS buyers, sum(l.quantity) AS quantity, sum(l.amount) AS gmv
FROM `bi_cdp`.order_lines AS l WHERE l.valid = 1 GROUP BY date, category, province, city
COMMENT 'GMV per day, category and place, from the lines of valid orders.';

CREATE OR REPLACE VIEW `bi_cdp`.`kpi_wecom_contacts_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `staff_userid` String COMMENT 'WeCom staff member (follow user)',
    `state` String COMMENT 'State channel tag of the QR code the customer added through (removals inherit the add\'s tag)',
    `added` UInt64 COMMENT 'Customers who added the staff member (add_external_contact)',
    `removed` UInt64 COMMENT 'Contacts ended by the staff member (del_external_contact) or the customer (del_follow_user)',
    `net` Int64 COMMENT 'added - removed'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT toDate(e.ts, 'Asia/Shanghai') AS date, toString(e.staff_userid) AS staff_userid, if(e.state != '', toString(e.state), a.add_state) AS state,
    countIf(e.change_type = 'add_external_contact') AS added,
    countIf(e.change_type IN ('del_external_contact', 'del_follow_user')) AS removed,
    toInt64(added) - toInt64(removed) AS net
FROM `cdp`.wecom_contact_events AS e FINAL
LEFT JOIN
(
    SELECT external_userid, staff_userid, toString(argMin(state, ts)) AS add_state
    FROM `cdp`.wecom_contact_events FINAL
    WHERE change_type = 'add_external_contact' AND state != ''
    GROUP BY external_userid, staff_userid
) AS a ON a.external_userid = e.external_userid AND a.staff_userid = e.staff_userid
WHERE e.change_type IN ('add_external_contact', 'del_external_contact', 'del_follow_user')
GROUP BY date, staff_userid, state
COMMENT 'WeCom contact growth per day, staff member and State channel tag: adds, removals (either side) and net.';

-- migration 12 journeys
CREATE TABLE IF NOT EXISTS `cdp`.`journeys_local` ON CLUSTER `cdp_cluster`
(
    `journey_id` String,
    `name` String,
    `status` LowCardinality(String) COMMENT 'draft, running, paused, stopped',
    `version` UInt32 COMMENT 'The current definition (journey_versions): new entrants run it',
    `launched_at` DateTime64(3, 'UTC') COMMENT 'When it was first launched (0 for a draft)',
    `fired_at` DateTime64(3, 'UTC') COMMENT 'The last schedule time (or replenishment round) it entered persons for',
    `winners` String COMMENT 'JSON: split node id -> the arm everyone now takes',
    `updated_at` DateTime64(3, 'UTC'),
    `by` String COMMENT 'API token id of who made the change'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', updated_at)
ORDER BY journey_id
COMMENT 'Journeys: name, status and current version; every change is a new row, the latest updated_at wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`journeys` ON CLUSTER `cdp_cluster` AS `cdp`.`journeys_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'journeys_local', cityHash64(journey_id));

CREATE TABLE IF NOT EXISTS `cdp`.`journey_versions_local` ON CLUSTER `cdp_cluster`
(
    `journey_id` String,
    `version` UInt32,
    `definition` String COMMENT 'JSON: entry, nodes and their edges, settings (exit criteria, re-entry, holdout, caps, quiet hours)',
    `created_at` DateTime64(3, 'UTC'),
    `by` String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', created_at)
ORDER BY (journey_id, version)
COMMENT 'Journey definitions; an edit writes a new version and never changes an old one.';

CREATE TABLE IF NOT EXISTS `cdp`.`journey_versions` ON CLUSTER `cdp_cluster` AS `cdp`.`journey_versions_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'journey_versions_local', cityHash64(journey_id, version));

CREATE TABLE IF NOT EXISTS `cdp`.`journey_runs_local` ON CLUSTER `cdp_cluster`
(
    `journey_id` String,
    `person_id` UInt32 COMMENT 'The canonical person at entry',
    `entry` UInt32 COMMENT 'The person\'s n-th run of the journey (1, 2, ...)',
    `seq` UInt32 COMMENT 'Steps taken: the row version',
    `version` UInt32 COMMENT 'The definition the run follows',
    `node` String COMMENT 'The node the run is at (last node once done)',
    `state` LowCardinality(String) COMMENT 'ready (to execute node), waiting, done',
    `group` LowCardinality(String) COMMENT 'treatment or holdout (the journey-level holdout: entered, never sent to)',
    `entered_at` DateTime64(3, 'UTC'),
    `since` DateTime64(3, 'UTC') COMMENT 'When the current wait began',
    `wake_at` DateTime64(3, 'UTC') COMMENT 'When a waiting run wakes (a wait\'s end, a wait-for\'s timeout)',
    `exit_reason` LowCardinality(String) COMMENT 'done runs: exit node id reached (exit), converted, left_segment, stopped, holdout',
    `updated_at` DateTime64(3, 'UTC'),
    INDEX person_idx person_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', seq)
ORDER BY (journey_id, person_id, entry)
COMMENT 'Journey runs: one per (journey, person, entry); each step writes the run\'s new state with the next seq, the highest seq wins. Waits keep their timer here.';

CREATE TABLE IF NOT EXISTS `cdp`.`journey_runs` ON CLUSTER `cdp_cluster` AS `cdp`.`journey_runs_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'journey_runs_local', cityHash64(journey_id, person_id, entry));

CREATE TABLE IF NOT EXISTS `cdp`.`journey_steps_local` ON CLUSTER `cdp_cluster`
(
    `journey_id` String,
    `person_id` UInt32,
    `entry` UInt32,
    `seq` UInt32,
    `version` UInt32,
    `node` String,
    `type` LowCardinality(String) COMMENT 'entry, send, wait, wait_for, branch, split, exit',
    `outcome` LowCardinality(String),
    `detail` String COMMENT 'The entry\'s cause (segment, event, order, schedule:<time>, replenishment); a send\'s step id',
    `at` DateTime64(3, 'UTC'),
    INDEX person_idx person_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', at)
ORDER BY (journey_id, person_id, entry, seq)
COMMENT 'The steps journey runs took, one row per (run, seq): the node, its type and outcome (sent, excluded:<reason>, waiting, waited, happened, timed_out, yes, no, the split arm, exited).';

CREATE TABLE IF NOT EXISTS `cdp`.`journey_steps` ON CLUSTER `cdp_cluster` AS `cdp`.`journey_steps_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'journey_steps_local', cityHash64(journey_id, person_id, entry, seq));

-- migration 13 analytics
CREATE OR REPLACE VIEW `bi_cdp`.`actions` ON CLUSTER `cdp_cluster`
(
    `ts` DateTime64(3, 'UTC') COMMENT 'When it happened',
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `kind` String COMMENT 'event, order or wecom',
    `name` String COMMENT 'The event name; \'order\'; the WeCom change type (add_external_contact, ...) or \'chat\'',
    `channel` String COMMENT 'The event\'s source, the order\'s channel, the contact\'s State tag; \'wecom\' for chats',
    `topic` String COMMENT 'Content topic of an event; empty otherwise',
    `city` String COMMENT 'City of an order; empty otherwise',
    `amount` Float64 COMMENT 'Yuan of an order; 0 otherwise'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT a.ts AS ts, toDate(a.ts, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'event' AS kind, toString(a.event) AS name, toString(a.source) AS channel, toString(a.topic) AS topic, '' AS city, 0. AS amount
FROM `cdp`.events AS a LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.person_id != 0
UNION ALL
SELECT a.ordered_at AS ts, toDate(a.ordered_at, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'order' AS kind, 'order' AS name, toString(a.channel) AS channel, '' AS topic, toString(a.city) AS city, toFloat64(a.amount) AS amount
FROM `cdp`.orders AS a FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.status NOT IN ('refunded', 'cancelled') AND a.person_id != 0
UNION ALL
SELECT a.ts AS ts, toDate(a.ts, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'wecom' AS kind, toString(a.change_type) AS name, toString(a.state) AS channel, '' AS topic, '' AS city, 0. AS amount
FROM `cdp`.wecom_contact_events AS a LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.person_id != 0
UNION ALL
SELECT a.msgtime AS ts, toDate(a.msgtime, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'wecom' AS kind, 'chat' AS name, 'wecom' AS channel, '' AS topic, '' AS city, 0. AS amount
FROM `cdp`.wecom_messages_visible AS a LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.person_id != 0 AND a.external_userid != '' AND a.`from` = a.external_userid
COMMENT 'What funnels read: behaviour events, valid orders, WeCom contact changes and the customer\'s own WeCom messages, one row each, attributed to OneIDs.';

CREATE OR REPLACE VIEW `bi_cdp`.`customer_cohorts` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `first_order_at` DateTime64(3, 'UTC') COMMENT 'First valid order',
    `first_date` Date COMMENT 'Day in Asia/Shanghai of the first valid order',
    `cohort_month` Date COMMENT 'First day of the month of first_date',
    `first_channel` String COMMENT 'Channel of the first valid order',
    `first_category` String COMMENT 'Category of the first line of the first valid order'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT f.person_id AS person_id, f.first_order_at AS first_order_at, toDate(f.first_date) AS first_date, toStartOfMonth(f.first_date) AS cohort_month, f.first_channel AS first_channel, ifNull(l.category, '') AS first_category
FROM (SELECT person_id, min(ordered_at) AS first_order_at, argMin(date, ordered_at) AS first_date, argMin(channel, (ordered_at, order_id)) AS first_channel, argMin(order_id, (ordered_at, order_id)) AS first_order
    FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) GROUP BY person_id) AS f
LEFT JOIN (SELECT channel, order_id, argMin(toString(category), line_no) AS category FROM `cdp`.order_lines FINAL GROUP BY channel, order_id) AS l ON l.channel = f.first_channel AND l.order_id = f.first_order)
COMMENT 'One row per customer (OneID with a valid order): the first order, its Beijing month (the cohort), channel and category.';

CREATE OR REPLACE VIEW `bi_cdp`.`customer_months` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `cohort_month` Date COMMENT 'Month of the customer\'s first valid order',
    `month_index` UInt32 COMMENT 'Calendar months since cohort_month (0: the first order\'s month)',
    `orders` UInt64 COMMENT 'Valid orders that month',
    `spend` Float64 COMMENT 'Yuan of those orders',
    `first_channel` String COMMENT 'Channel of the customer\'s first valid order',
    `first_category` String COMMENT 'Category of the first line of the customer\'s first valid order'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT o.person_id AS person_id, any(c.cohort_month) AS cohort_month, toUInt32(dateDiff('month', any(c.cohort_month), toStartOfMonth(o.date))) AS month_index, count() AS orders, sum(o.amount) AS spend, any(c.first_channel) AS first_channel, any(c.first_category) AS first_category
FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) AS o
INNER JOIN (SELECT f.person_id AS person_id, f.first_order_at AS first_order_at, toDate(f.first_date) AS first_date, toStartOfMonth(f.first_date) AS cohort_month, f.first_channel AS first_channel, ifNull(l.category, '') AS first_category
FROM (SELECT person_id, min(ordered_at) AS first_order_at, argMin(date, ordered_at) AS first_date, argMin(channel, (ordered_at, order_id)) AS first_channel, argMin(order_id, (ordered_at, order_id)) AS first_order
    FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) GROUP BY person_id) AS f
LEFT JOIN (SELECT channel, order_id, argMin(toString(category), line_no) AS category FROM `cdp`.order_lines FINAL GROUP BY channel, order_id) AS l ON l.channel = f.first_channel AND l.order_id = f.first_order) AS c ON c.person_id = o.person_id
GROUP BY o.person_id, toStartOfMonth(o.date))
COMMENT 'One row per customer and calendar month with a valid order: months since the cohort month, orders and spend. Retention and LTV curves read it.';

CREATE OR REPLACE VIEW `bi_cdp`.`repurchases` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `kind` String COMMENT 'rice or oil',
    `first_date` Date COMMENT 'First Beijing day with a valid order of this kind',
    `second_date` Nullable(Date) COMMENT 'The next such day; NULL when none yet',
    `days_to_repurchase` Nullable(UInt32) COMMENT 'second_date - first_date; NULL when none yet',
    `gaps` Array(UInt32) COMMENT 'Days between consecutive purchase days of this kind',
    `first_channel` String COMMENT 'Channel of the customer\'s first valid order'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT k.person_id AS person_id, k.kind AS kind, k.days[1] AS first_date, if(length(k.days) > 1, CAST(k.days[2], 'Nullable(Date)'), NULL) AS second_date, if(length(k.days) > 1, toNullable(toUInt32(dateDiff('day', k.days[1], k.days[2]))), NULL) AS days_to_repurchase, arrayMap(g -> toUInt32(g), arrayPopFront(arrayDifference(arrayMap(d -> toInt32(d), k.days)))) AS gaps, c.first_channel AS first_channel
FROM (SELECT o.person_id AS person_id, multiIf(positionUTF8(l.category, '米') > 0, 'rice', positionUTF8(l.category, '油') > 0, 'oil', '') AS kind, arraySort(groupUniqArray(o.date)) AS days
    FROM `cdp`.order_lines AS l FINAL
    INNER JOIN (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) AS o ON o.channel = l.channel AND o.order_id = l.order_id
    WHERE kind != '' GROUP BY person_id, kind) AS k
INNER JOIN (SELECT f.person_id AS person_id, f.first_order_at AS first_order_at, toDate(f.first_date) AS first_date, toStartOfMonth(f.first_date) AS cohort_month, f.first_channel AS first_channel
FROM (SELECT person_id, min(ordered_at) AS first_order_at, argMin(date, ordered_at) AS first_date, argMin(channel, (ordered_at, order_id)) AS first_channel, argMin(order_id, (ordered_at, order_id)) AS first_order
    FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) GROUP BY person_id) AS f) AS c ON c.person_id = k.person_id)
COMMENT 'One row per customer and purchase kind (rice: categories naming 米, oil: naming 油): the first purchase day and the days until the next.';

CREATE OR REPLACE VIEW `bi_cdp`.`lifecycle` ON CLUSTER `cdp_cluster`
(
    `audience` String COMMENT 'buyers or engaged',
    `period_unit` String COMMENT 'week or month',
    `period` Date COMMENT 'First day of the week (Monday) or month, Beijing',
    `state` String COMMENT 'new, returning, resurrecting or dormant',
    `persons` UInt64 COMMENT 'Persons in that state'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT 'buyers' AS audience, 'week' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT person_id, toMonday(toDate(ordered_at, 'Asia/Shanghai')) AS period FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0)) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = x - 7, 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = x + 7, (toDate(0), ''), (x + 7, 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
UNION ALL
SELECT 'buyers' AS audience, 'month' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT person_id, toStartOfMonth(toDate(ordered_at, 'Asia/Shanghai')) AS period FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0)) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = addMonths(x, -1), 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = addMonths(x, 1), (toDate(0), ''), (addMonths(x, 1), 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
UNION ALL
SELECT 'engaged' AS audience, 'week' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT ifNull(nullIf(p_e.canonical, 0), e.person_id) AS person_id, toMonday(toDate(e.ts, 'Asia/Shanghai')) AS period FROM `cdp`.events AS e LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_e ON p_e.person_id = e.person_id WHERE e.person_id != 0
    UNION DISTINCT SELECT ifNull(nullIf(p_m.canonical, 0), m.person_id), toMonday(toDate(m.msgtime, 'Asia/Shanghai')) FROM `cdp`.wecom_messages_visible AS m LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_m ON p_m.person_id = m.person_id WHERE m.person_id != 0 AND m.external_userid != '' AND m.`from` = m.external_userid) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = x - 7, 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = x + 7, (toDate(0), ''), (x + 7, 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
UNION ALL
SELECT 'engaged' AS audience, 'month' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT ifNull(nullIf(p_e.canonical, 0), e.person_id) AS person_id, toStartOfMonth(toDate(e.ts, 'Asia/Shanghai')) AS period FROM `cdp`.events AS e LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_e ON p_e.person_id = e.person_id WHERE e.person_id != 0
    UNION DISTINCT SELECT ifNull(nullIf(p_m.canonical, 0), m.person_id), toStartOfMonth(toDate(m.msgtime, 'Asia/Shanghai')) FROM `cdp`.wecom_messages_visible AS m LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_m ON p_m.person_id = m.person_id WHERE m.person_id != 0 AND m.external_userid != '' AND m.`from` = m.external_userid) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = addMonths(x, -1), 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = addMonths(x, 1), (toDate(0), ''), (addMonths(x, 1), 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
COMMENT 'Customers per period by lifecycle state: new, returning, resurrecting and dormant, per week (Monday) or month, for buyers (valid orders) and engaged customers (behaviour or their own WeCom messages).';

CREATE TABLE IF NOT EXISTS `cdp`.`segment_lists_local` ON CLUSTER `cdp_cluster`
(
    `list_id` String,
    `origin` String COMMENT 'JSON: the analysis and the part of it the list was saved from',
    `members` AggregateFunction(groupBitmap, UInt32) COMMENT 'OneIDs when saved (merged later: read through persons)',
    `size` UInt64,
    `created_at` DateTime64(3, 'UTC'),
    `created_by` String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', created_at)
ORDER BY list_id
COMMENT 'Fixed lists of persons saved from an analysis (a funnel step\'s converted or dropped people); a segment\'s rule in_list("lst_...") reads one.';

CREATE TABLE IF NOT EXISTS `cdp`.`segment_lists` ON CLUSTER `cdp_cluster` AS `cdp`.`segment_lists_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'segment_lists_local', cityHash64(list_id));

-- migration 14 journey_bi_views
CREATE OR REPLACE VIEW `bi_cdp`.`journeys` ON CLUSTER `cdp_cluster`
(
    `journey_id` String COMMENT 'The journey (as in the API and the console)',
    `name` String COMMENT 'Its name',
    `status` String COMMENT 'draft, running, paused, stopped',
    `version` UInt32 COMMENT 'The current definition: new entrants run it',
    `launched_at` DateTime64(3, 'UTC') COMMENT 'When it was first launched (1970 for a draft)',
    `updated_at` DateTime64(3, 'UTC') COMMENT 'The last change'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT journey_id, name, toString(status) AS status, version, launched_at, updated_at FROM `cdp`.journeys FINAL
COMMENT 'Journeys (multi-step automation): one row per journey in its latest state.';

CREATE OR REPLACE VIEW `bi_cdp`.`journey_runs` ON CLUSTER `cdp_cluster`
(
    `journey_id` String COMMENT 'The journey (as in the API and the console)',
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `entry` UInt32 COMMENT 'The person\'s n-th run of the journey (1, 2, ...)',
    `version` UInt32 COMMENT 'The definition the run follows',
    `node` String COMMENT 'The node the run is at (the last one once done)',
    `state` String COMMENT 'ready, waiting or done',
    `group` String COMMENT 'treatment or holdout (the journey-level holdout: entered, never sent to)',
    `entered_at` DateTime64(3, 'UTC') COMMENT 'When the run entered',
    `entered_date` Date COMMENT 'Day in Asia/Shanghai of entered_at',
    `wake_at` DateTime64(3, 'UTC') COMMENT 'When a waiting run wakes (a wait\'s end, a wait-for\'s timeout)',
    `exit_reason` String COMMENT 'Done runs: the exit node reached, converted, left_segment, stopped or holdout',
    `updated_at` DateTime64(3, 'UTC') COMMENT 'The run\'s last step'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT r.journey_id AS journey_id, ifNull(nullIf(p_r.canonical, 0), r.person_id) AS person_id, r.entry AS entry, r.version AS version, r.node AS node, toString(r.state) AS state, toString(r.group) AS group, r.entered_at AS entered_at, toDate(r.entered_at, 'Asia/Shanghai') AS entered_date, r.wake_at AS wake_at, toString(r.exit_reason) AS exit_reason, r.updated_at AS updated_at
FROM (SELECT * FROM `cdp`.journey_runs FINAL) AS r LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_r ON p_r.person_id = r.person_id
COMMENT 'Journey runs: one row per (journey, person, entry) in its latest state; per-node counts of waiting and done runs come from here.';

CREATE OR REPLACE VIEW `bi_cdp`.`journey_steps` ON CLUSTER `cdp_cluster`
(
    `journey_id` String COMMENT 'The journey (as in the API and the console)',
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `entry` UInt32 COMMENT 'The person\'s n-th run of the journey',
    `seq` UInt32 COMMENT 'The step\'s number in the run',
    `version` UInt32 COMMENT 'The definition the run followed',
    `node` String COMMENT 'The node (step) id in the definition',
    `type` String COMMENT 'entry, send, wait, wait_for, branch, split or exit',
    `outcome` String COMMENT 'sent, excluded:<reason>, waiting, waited, happened, timed_out, yes, no, the split arm, exited',
    `detail` String COMMENT 'The entry\'s cause (segment, event, order, schedule:<time>, replenishment); a send\'s step id',
    `at` DateTime64(3, 'UTC') COMMENT 'When the step was taken',
    `date` Date COMMENT 'Day in Asia/Shanghai of at'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT s.journey_id AS journey_id, ifNull(nullIf(p_s.canonical, 0), s.person_id) AS person_id, s.entry AS entry, s.seq AS seq, s.version AS version, s.node AS node, toString(s.type) AS type, toString(s.outcome) AS outcome, s.detail AS detail, s.at AS at, toDate(s.at, 'Asia/Shanghai') AS date
FROM `cdp`.journey_steps AS s LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_s ON p_s.person_id = s.person_id
COMMENT 'Every step a journey run took, one row per (run, step): the node, its type and outcome.';

-- migration 15 wecom_tags
CREATE TABLE IF NOT EXISTS `cdp`.`wecom_corp_tags_local` ON CLUSTER `cdp_cluster`
(
    `tag_id` String,
    `tag_name` String,
    `group_id` String,
    `group_name` String,
    `deleted` UInt8 COMMENT '1 once the library no longer lists it',
    `ts` DateTime64(3, 'UTC') COMMENT 'When the library was read'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY tag_id
COMMENT 'The WeCom corp tag library (get_corp_tag_list); the latest row per tag wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_corp_tags` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_corp_tags_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_corp_tags_local', cityHash64(tag_id));

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_customer_tags_local` ON CLUSTER `cdp_cluster`
(
    `external_userid` String,
    `staff_userid` LowCardinality(String),
    `tag_id` String,
    `tag_name` String,
    `tag_type` UInt8 COMMENT '1 corp tag, 2 personal tag, 3 rule-group tag',
    `present` UInt8 COMMENT '0 once a later read no longer shows it',
    `ts` DateTime64(3, 'UTC') COMMENT 'When it was read'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY (external_userid, staff_userid, tag_id)
COMMENT 'Tags seen on a (staff member, customer) pair in externalcontact/get; the latest row per pair and tag wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_customer_tags` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_customer_tags_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_customer_tags_local', cityHash64(external_userid, staff_userid, tag_id));

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_tag_syncs_local` ON CLUSTER `cdp_cluster`
(
    `sync_id` String,
    `segment_id` String,
    `tag_id` String COMMENT 'The corp tag written (one sync per tag)',
    `tag_name` String,
    `status` LowCardinality(String) COMMENT 'active, stopped (stopping removes what the sync added)',
    `updated_at` DateTime64(3, 'UTC'),
    `by` String COMMENT 'API token id of who made the change'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', updated_at)
ORDER BY sync_id
COMMENT 'Segments synced to a WeCom corp tag; every change is a new row, the latest updated_at wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_tag_syncs` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_tag_syncs_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_tag_syncs_local', cityHash64(sync_id));

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_tag_marks_local` ON CLUSTER `cdp_cluster`
(
    `tag_id` String,
    `external_userid` String,
    `staff_userid` LowCardinality(String),
    `sync_id` String,
    `person_id` UInt32 COMMENT 'The OneID the pair was tagged for',
    `state` LowCardinality(String) COMMENT 'adding, added, removing, removed, manual (a staff member\'s own tag: never touched)',
    `entered_at` DateTime64(3, 'UTC') COMMENT 'When the person\'s entry (or exit) that asked for this write was seen',
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY (tag_id, external_userid, staff_userid)
COMMENT 'What the platform wrote with mark_tag, per corp tag and (staff member, customer) pair; the latest row wins. adding/removing are written before the call, added/removed after it.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_tag_marks` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_tag_marks_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_tag_marks_local', cityHash64(tag_id, external_userid, staff_userid));

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_ops_cursors_local` ON CLUSTER `cdp_cluster`
(
    `name` String,
    `position` UInt64,
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY name
COMMENT 'How far each wecomops loop has read its input (e.g. the spool_seq of wecom_contact_events); the latest row per name wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_ops_cursors` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_ops_cursors_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_ops_cursors_local', cityHash64(name));

-- migration 16 demand
CREATE TABLE IF NOT EXISTS `cdp`.`demand_terms_local` ON CLUSTER `cdp_cluster`
(
    `term` String COMMENT 'A word contained in a search keyword or chat text, or a content topic',
    `match` LowCardinality(String) COMMENT 'text or topic',
    `class` String COMMENT 'The product class it signals, e.g. 高油酸花生油',
    `deleted` UInt8 COMMENT '1 once removed from the dictionary',
    `version` UInt64 COMMENT 'Row version (nanoseconds); the latest wins'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY (match, term)
COMMENT 'The demand dictionary: which search keywords, chat words (match text, contained) and content topics (match topic, equal) signal which product class.';

CREATE TABLE IF NOT EXISTS `cdp`.`demand_terms` ON CLUSTER `cdp_cluster` AS `cdp`.`demand_terms_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'demand_terms_local', cityHash64(match, term));

CREATE TABLE IF NOT EXISTS `cdp`.`demand_signals_hourly_local` ON CLUSTER `cdp_cluster`
(
    `hour` DateTime('UTC') COMMENT 'Start of the hour (UTC)',
    `class` LowCardinality(String) COMMENT 'Product class from the dictionary',
    `source` LowCardinality(String) COMMENT 'search, view or chat',
    `province` LowCardinality(String) COMMENT 'Province (empty when unknown)',
    `city` LowCardinality(String) COMMENT 'City (empty when unknown)',
    `signals` UInt64 COMMENT 'Records signalling the class'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', signals)
PARTITION BY toYYYYMM(hour)
ORDER BY (class, source, province, city, hour)
COMMENT 'Demand signals per hour, product class, source (search, view, chat) and region, summed on insert from events and chats; no person ids.';

CREATE TABLE IF NOT EXISTS `cdp`.`demand_signals_hourly` ON CLUSTER `cdp_cluster` AS `cdp`.`demand_signals_hourly_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'demand_signals_hourly_local', cityHash64(class, source, province, city, hour));

CREATE MATERIALIZED VIEW IF NOT EXISTS `cdp`.`demand_signals_events_mv` ON CLUSTER `cdp_cluster` TO `cdp`.`demand_signals_hourly`
AS SELECT toStartOfHour(e.ts) AS hour, c AS class, if(e.event = 'search', 'search', 'view') AS source, JSONExtractString(e.context, 'location', 'region') AS province, JSONExtractString(e.context, 'location', 'city') AS city, toUInt64(count()) AS signals
FROM `cdp`.`events_local` AS e
ARRAY JOIN arrayDistinct(arrayMap(t -> t.2, arrayFilter(t -> if(t.3 = 'topic', e.event = 'video_play' AND t.1 = toString(e.topic), e.event = 'search' AND positionCaseInsensitiveUTF8(e.keyword, t.1) > 0), (SELECT groupArray((term, class, match)) FROM `cdp`.demand_terms FINAL WHERE deleted = 0)))) AS c
WHERE e.event IN ('search', 'video_play')
GROUP BY hour, class, source, province, city;

CREATE MATERIALIZED VIEW IF NOT EXISTS `cdp`.`demand_signals_chats_mv` ON CLUSTER `cdp_cluster` TO `cdp`.`demand_signals_hourly`
AS SELECT toStartOfHour(m.msgtime) AS hour, c AS class, 'chat' AS source, '' AS province, '' AS city, toUInt64(count()) AS signals
FROM `cdp`.`wecom_messages_local` AS m
ARRAY JOIN arrayDistinct(arrayMap(t -> t.2, arrayFilter(t -> t.3 = 'text' AND positionCaseInsensitiveUTF8(m.content, t.1) > 0, (SELECT groupArray((term, class, match)) FROM `cdp`.demand_terms FINAL WHERE deleted = 0)))) AS c
WHERE m.action = 'send' AND m.external_userid != '' AND m.`from` = m.external_userid
GROUP BY hour, class, source, province, city;

INSERT INTO `cdp`.demand_terms (term, match, class, deleted, version)
SELECT t.1, t.2, t.3, 0, 1 FROM system.one ARRAY JOIN [('低GI大米', 'text', '低GI大米'), ('低GI', 'text', '低GI大米'), ('控糖', 'text', '低GI大米'), ('糖尿病吃什么米', 'text', '低GI大米'), ('血糖高吃什么主食', 'text', '低GI大米'), ('低GI', 'topic', '低GI大米'), ('控糖', 'topic', '低GI大米'), ('五常大米', 'text', '五常大米'), ('五常', 'text', '五常大米'), ('稻花香', 'text', '五常大米'), ('东北大米', 'text', '五常大米'), ('高油酸花生油', 'text', '高油酸花生油'), ('高油酸', 'text', '高油酸花生油'), ('花生油', 'text', '高油酸花生油'), ('减脂用什么油', 'text', '高油酸花生油'), ('减脂', 'topic', '高油酸花生油'), ('小包装油', 'text', '小包装油'), ('婴儿辅食油', 'text', '小包装油'), ('宝宝辅食', 'topic', '小包装油'), ('小瓶油', 'text', '小包装油'), ('菜籽油', 'text', '菜籽油'), ('玉米油', 'text', '玉米油'), ('粮油礼盒', 'text', '礼盒'), ('节日礼盒', 'topic', '礼盒')] AS t
WHERE (SELECT count() FROM `cdp`.demand_terms) = 0;

CREATE OR REPLACE VIEW `bi_cdp`.`demand_terms` ON CLUSTER `cdp_cluster`
(
    `term` String COMMENT 'The word (contained in a search keyword or chat text) or the content topic',
    `match` String COMMENT 'text or topic',
    `class` String COMMENT 'The product class it signals'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT term, toString(match) AS match, class FROM `cdp`.demand_terms FINAL WHERE deleted = 0
COMMENT 'The demand dictionary: search and chat words and content topics, and the product class each signals.';

CREATE OR REPLACE VIEW `bi_cdp`.`demand_signals_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `class` String COMMENT 'Product class from the dictionary',
    `source` String COMMENT 'search (Douyin, mini program), view (content by topic) or chat (WeCom, customers\' own texts)',
    `province` String COMMENT 'Province (empty when unknown; chats carry none)',
    `city` String COMMENT 'City (empty when unknown)',
    `signals` UInt64 COMMENT 'Records signalling the class'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT toDate(hour, 'Asia/Shanghai') AS date, toString(class) AS class, toString(source) AS source, toString(province) AS province, toString(city) AS city, sum(signals) AS signals FROM `cdp`.demand_signals_hourly GROUP BY date, class, source, province, city
COMMENT 'Demand signals per day, product class, source (search, view, chat) and region: what surge detection reads.';

CREATE OR REPLACE VIEW `bi_cdp`.`demand_orders_daily` ON CLUSTER `cdp_cluster`
(
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `class` String COMMENT 'Product class (the line\'s category)',
    `sku` String COMMENT 'SKU',
    `province` String COMMENT 'Province of the order',
    `city` String COMMENT 'City of the order',
    `units` Float64 COMMENT 'Units ordered (sum of quantity)',
    `amount` Float64 COMMENT 'Amount in yuan',
    `lines` UInt64 COMMENT 'Order lines'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT toDate(hour, 'Asia/Shanghai') AS date, class, sku, province, city, sum(units) AS units, sum(amount) AS amount, count() AS lines FROM (SELECT toStartOfHour(l.ordered_at) AS hour, toString(l.category) AS class, l.sku AS sku, toString(o.province) AS province, toString(o.city) AS city, toFloat64(l.quantity) AS units, toFloat64(l.amount) AS amount
    FROM `cdp`.order_lines AS l FINAL INNER JOIN (SELECT channel, order_id, status, province, city, ordered_at FROM `cdp`.orders FINAL) AS o ON o.channel = l.channel AND o.order_id = l.order_id
    WHERE o.status NOT IN ('refunded', 'cancelled')) GROUP BY date, class, sku, province, city
COMMENT 'Order demand per day, product class, SKU and region: units and amount of valid order lines.';

-- migration 17 demand_alerts
CREATE TABLE IF NOT EXISTS `cdp`.`demand_alerts_local` ON CLUSTER `cdp_cluster`
(
    `alert_id` String COMMENT 'Stable for a series and window: the idempotency key of its deliveries',
    `class` LowCardinality(String),
    `province` LowCardinality(String),
    `city` LowCardinality(String),
    `window_from` DateTime('UTC') COMMENT 'The 24-hour window whose count alarmed',
    `window_to` DateTime('UTC'),
    `observed` Float64,
    `expected` Float64,
    `ratio` Float64,
    `q` Float64 COMMENT 'Benjamini-Hochberg adjusted p-value',
    `evidence` String COMMENT 'JSON: the whole alert (test and neighbouring regions)',
    `created_at` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', created_at)
PARTITION BY toYYYYMM(window_to)
ORDER BY alert_id
COMMENT 'Demand surge alerts with their evidence, one row per alert id (a series and the window that alarmed).';

CREATE TABLE IF NOT EXISTS `cdp`.`demand_alerts` ON CLUSTER `cdp_cluster` AS `cdp`.`demand_alerts_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'demand_alerts_local', cityHash64(alert_id));

CREATE TABLE IF NOT EXISTS `cdp`.`demand_deliveries_local` ON CLUSTER `cdp_cluster`
(
    `alert_id` String,
    `target` LowCardinality(String) COMMENT 'The supply system\'s configured name (oms, wms, mill, ...)',
    `state` LowCardinality(String) COMMENT 'pending, delivered or refused',
    `attempts` UInt32 COMMENT 'Posts made so far',
    `detail` String COMMENT 'The last answer or error',
    `updated_at` DateTime64(3, 'UTC'),
    `version` UInt64 COMMENT 'Row version (nanoseconds); the latest wins'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY (alert_id, target)
COMMENT 'The journal of alert deliveries: one row per (alert, supply system) in its latest state; pending rows are posted (again) until a 2xx answer.';

CREATE TABLE IF NOT EXISTS `cdp`.`demand_deliveries` ON CLUSTER `cdp_cluster` AS `cdp`.`demand_deliveries_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'demand_deliveries_local', cityHash64(alert_id, target));

-- migration 18 wecom_contact_ways
CREATE TABLE IF NOT EXISTS `cdp`.`wecom_contact_ways_local` ON CLUSTER `cdp_cluster`
(
    `state` String COMMENT 'The channel tag WeCom returns in the add event\'s State (at most 30 characters), unique among the platform\'s codes',
    `config_id` String COMMENT 'WeCom\'s id of the contact way; empty while pending',
    `kind` LowCardinality(String) COMMENT 'store, staff, sku, batch or other: what the State stands for',
    `ref` String COMMENT 'The store id, staff userid, SKU or batch the State stands for',
    `remark` String COMMENT 'WeCom\'s remark (at most 30 characters)',
    `users` Array(String) COMMENT 'The staff members who answer the code',
    `skip_verify` UInt8,
    `qr_code` String COMMENT 'The QR image URL WeCom returned',
    `status` LowCardinality(String) COMMENT 'pending, active, deleted',
    `updated_at` DateTime64(3, 'UTC'),
    `by` String COMMENT 'API token id of who made the change'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', updated_at)
ORDER BY state
COMMENT 'Channel QR codes (add_contact_way), one per State; every change is a new row, the latest updated_at wins. status pending is written before add_contact_way, active after it (with config_id), deleted after del_contact_way.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_contact_ways` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_contact_ways_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_contact_ways_local', cityHash64(state));

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_welcome_msgs_local` ON CLUSTER `cdp_cluster`
(
    `state` String,
    `text` String COMMENT 'The text (at most 4,000 bytes)',
    `link_title` String,
    `link_url` String,
    `link_desc` String,
    `link_picurl` String,
    `mp_title` String COMMENT 'Mini program attachment: title',
    `mp_appid` String,
    `mp_page` String,
    `mp_pic_media_id` String,
    `tag_ids` Array(String) COMMENT 'Corp tags put on the (staff member, customer) pair with mark_tag',
    `deleted` UInt8,
    `updated_at` DateTime64(3, 'UTC'),
    `by` String
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', updated_at)
ORDER BY state
COMMENT 'The welcome message and automatic corp tags of a State; the latest updated_at wins, deleted = 1 switches it off.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_welcome_msgs` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_welcome_msgs_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_welcome_msgs_local', cityHash64(state));

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_welcome_journal_local` ON CLUSTER `cdp_cluster`
(
    `welcome_code` String,
    `state` String,
    `staff_userid` LowCardinality(String),
    `external_userid` String,
    `received_at` DateTime64(3, 'UTC') COMMENT 'When the add event arrived: the 20 s window starts here',
    `status` LowCardinality(String),
    `step` UInt8 COMMENT '0 pending, 1 sending, 2 final',
    `tags_applied` UInt8 COMMENT '1 once the State\'s tags were marked',
    `error` String,
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
PARTITION BY toYYYYMM(received_at)
ORDER BY welcome_code
COMMENT 'One WelcomeCode\'s way through send_welcome_msg: pending when the add event arrived, sending before the call, then sent, used (41051), expired (the 20 s window passed before a call could be made), unconfirmed (a call was cut off and the window passed), failed or skipped (no welcome message for the State). The row with the highest (step, ts) wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_welcome_journal` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_welcome_journal_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_welcome_journal_local', cityHash64(welcome_code));

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_loss_alerts_local` ON CLUSTER `cdp_cluster`
(
    `dedup_key` String COMMENT 'The message_id of the contact_lost event alerted about',
    `change_type` LowCardinality(String),
    `staff_userid` LowCardinality(String),
    `external_userid` String,
    `manager` String COMMENT 'The userid @-mentioned',
    `lost_at` DateTime64(3, 'UTC'),
    `person_id` UInt32,
    `status` LowCardinality(String) COMMENT 'pending, posting, sent, failed, unconfirmed, off (no robot configured)',
    `step` UInt8 COMMENT '0 pending, 1 posting, 2 final',
    `error` String,
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
PARTITION BY toYYYYMM(lost_at)
ORDER BY dedup_key
COMMENT 'Alerts about a lost customer (a contact_lost event: del_follow_user, del_external_contact) to the staff member\'s manager: pending when found, posting before the robot post, then sent, failed or unconfirmed (a post cut off: never repeated); the latest ts wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_loss_alerts` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_loss_alerts_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_loss_alerts_local', cityHash64(dedup_key));

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_transfers_local` ON CLUSTER `cdp_cluster`
(
    `transfer_id` String COMMENT 'The request that asked for it',
    `kind` LowCardinality(String) COMMENT 'on_job or resigned',
    `handover_userid` String,
    `takeover_userid` String,
    `external_userid` String,
    `status` LowCardinality(String) COMMENT 'requested, waiting, done, refused, limit_exceeded, no_record, failed',
    `errcode` Int32 COMMENT 'The per-customer errcode of the transfer call',
    `takeover_at` DateTime64(3, 'UTC') COMMENT 'When it was (or will be) taken over',
    `requested_at` DateTime64(3, 'UTC'),
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY (handover_userid, takeover_userid, external_userid, transfer_id)
COMMENT 'Customers handed from one staff member to another (transfer_customer, resigned/transfer_customer), with the state transfer_result reports; the latest ts wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_transfers` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_transfers_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_transfers_local', cityHash64(handover_userid, takeover_userid, external_userid, transfer_id));

-- migration 19 wecom_groups
CREATE TABLE IF NOT EXISTS `cdp`.`wecom_group_chats_local` ON CLUSTER `cdp_cluster`
(
    `chat_id` String,
    `name` String COMMENT 'The group\'s name; person tags wecom_group:<name>',
    `owner` LowCardinality(String) COMMENT 'The staff member who owns the group (群主): the sender of its mass messages',
    `notice` String,
    `created_at` DateTime64(3, 'UTC') COMMENT 'When the group was created in WeCom',
    `status` UInt8 COMMENT 'groupchat/list status: 0 owner normal, 1 owner resigned, 2 inheritance in progress, 3 inherited',
    `members` UInt32 COMMENT 'Members at the read (staff and customers)',
    `dismissed` UInt8 COMMENT '1 once dismissed (callback) or no longer listed',
    `ts` DateTime64(3, 'UTC') COMMENT 'When it was read'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY chat_id
COMMENT 'WeCom customer groups (groupchat/get); the latest read per group wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_group_chats` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_group_chats_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_group_chats_local', cityHash64(chat_id));

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_group_members_local` ON CLUSTER `cdp_cluster`
(
    `chat_id` String,
    `userid` String COMMENT 'A staff userid (member_type 1) or a customer\'s external_userid (2)',
    `member_type` UInt8 COMMENT '1 staff member, 2 customer (external contact)',
    `unionid` String COMMENT 'The customer\'s WeChat unionid when WeCom gives it',
    `join_time` DateTime64(3, 'UTC'),
    `join_scene` UInt8 COMMENT '1 invited directly, 2 invited by link, 3 scanned the group QR code',
    `present` UInt8,
    `ts` DateTime64(3, 'UTC') COMMENT 'When it was read'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY (chat_id, userid)
COMMENT 'Members of WeCom customer groups per (group, member); the latest read wins, present = 0 once a read no longer shows them.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_group_members` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_group_members_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_group_members_local', cityHash64(chat_id, userid));

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_group_sends_local` ON CLUSTER `cdp_cluster`
(
    `campaign_id` String,
    `task_id` String,
    `chat_id` String,
    `owner` LowCardinality(String) COMMENT 'The group owner the task went to',
    `day` Date COMMENT 'Beijing day of the attempt: WeCom\'s limit is one group mass message per group per day',
    `state` LowCardinality(String) COMMENT 'sending, sent (the owner\'s task created), delivered, not_sent, capped (WeCom\'s limit), skipped (our limit), failed',
    `msgid` String,
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY (campaign_id, task_id, chat_id)
COMMENT 'Group mass messages (add_msg_template chat_type group) per campaign task and group; the latest row wins. sending is written before the call.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_group_sends` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_group_sends_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_group_sends_local', cityHash64(campaign_id, task_id, chat_id));

-- migration 20 wecom_moments
CREATE TABLE IF NOT EXISTS `cdp`.`wecom_moments_local` ON CLUSTER `cdp_cluster`
(
    `id` String COMMENT 'The platform\'s id of the task',
    `text` String COMMENT 'text.content (at most 2,000 characters, 4,000 bytes)',
    `attachments` String COMMENT 'The attachments as JSON: up to 9 images, one video or one link, by WeCom media id',
    `senders` Array(String) COMMENT 'The staff members asked to publish it (sender_list); empty: all in the app\'s visible range',
    `tag_ids` Array(String) COMMENT 'Corp tags whose customers see it (external_contact_list.tag_list); empty: every customer of the senders',
    `status` LowCardinality(String) COMMENT 'creating (a call may be under way or cut off), queued (WeCom refused for now: 45009 or busy), submitted (jobid known), created (moment_id known), failed',
    `attempts` UInt16 COMMENT 'add_moment_task calls made (journalled before each)',
    `jobid` String,
    `moment_id` String,
    `invalid_senders` Array(String) COMMENT 'Senders WeCom could not use (invalid_sender_list)',
    `invalid_tags` Array(String) COMMENT 'Tags WeCom could not use (invalid_external_contact_list)',
    `error` String,
    `created_by` String COMMENT 'API token id of who created it',
    `created_at` DateTime64(3, 'UTC'),
    `attempt_at` DateTime64(3, 'UTC') COMMENT 'When the latest add_moment_task call was journalled',
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY id
COMMENT 'Customer-moment tasks (add_moment_task); every change is a new row, the latest ts wins. creating is written before each add_moment_task call, submitted with WeCom\'s jobid after it, created once the job gave a moment_id.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_moments` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_moments_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_moments_local', cityHash64(id));

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_moment_results_local` ON CLUSTER `cdp_cluster`
(
    `id` String COMMENT 'The platform\'s id of the task',
    `moment_id` String,
    `sender` String COMMENT 'The staff member\'s userid',
    `published` UInt8 COMMENT '1 once the sender published it (publish_status 1)',
    `visible` UInt32 COMMENT 'Customers the sender made it visible to',
    `reached` UInt32 COMMENT 'Customers it reached through the sender',
    `ts` DateTime64(3, 'UTC') COMMENT 'When it was read'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', ts)
ORDER BY (id, sender)
COMMENT 'What each sender did with a moment task, as last read (get_moment_task, get_moment_customer_list, get_moment_send_result); the latest ts wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_moment_results` ON CLUSTER `cdp_cluster` AS `cdp`.`wecom_moment_results_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'wecom_moment_results_local', cityHash64(id, sender));

-- migration 21 demand_regressors
CREATE TABLE IF NOT EXISTS `cdp`.`demand_regressors_local` ON CLUSTER `cdp_cluster`
(
    `name` LowCardinality(String) COMMENT 'The regressor, e.g. promo, rain_mm, temp_max_c',
    `date` Date COMMENT 'The Beijing day the value is for (future days: plans and forecasts)',
    `province` LowCardinality(String) COMMENT 'Province (empty: the nation)',
    `city` LowCardinality(String) COMMENT 'City (empty: the whole province)',
    `class` LowCardinality(String) COMMENT 'Product class (empty: every class)',
    `value` Float64,
    `imported_by` String COMMENT 'API token id of who imported it',
    `imported_at` DateTime64(3, 'UTC'),
    `version` UInt64 COMMENT 'Row version (nanoseconds of the import); the latest wins'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
ORDER BY (name, province, city, class, date)
COMMENT 'External regressors of the demand forecast (promo, rain_mm, temp_max_c, ...): one value per name, Beijing day, region and class; the latest import of a value wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`demand_regressors` ON CLUSTER `cdp_cluster` AS `cdp`.`demand_regressors_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'demand_regressors_local', cityHash64(name, province, city, class, date));

CREATE OR REPLACE VIEW `bi_cdp`.`demand_regressors` ON CLUSTER `cdp_cluster`
(
    `name` String COMMENT 'The regressor, e.g. promo, rain_mm, temp_max_c',
    `date` Date COMMENT 'Beijing day',
    `province` String COMMENT 'Province (empty: the nation)',
    `city` String COMMENT 'City (empty: the whole province)',
    `class` String COMMENT 'Product class (empty: every class)',
    `value` Float64 COMMENT 'The value',
    `imported_by` String COMMENT 'API token id of who imported it',
    `imported_at` DateTime64(3, 'UTC') COMMENT 'When it was imported'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT toString(name) AS name, date, toString(province) AS province, toString(city) AS city, toString(class) AS class, value, imported_by, imported_at FROM `cdp`.demand_regressors FINAL
COMMENT 'External regressors of the demand forecast (promotions, weather), one value per name, day, region and class, as last imported.';

-- migration 22 analytics_views_one_pass
CREATE OR REPLACE VIEW `bi_cdp`.`actions` ON CLUSTER `cdp_cluster`
(
    `ts` DateTime64(3, 'UTC') COMMENT 'When it happened',
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `kind` String COMMENT 'event, order or wecom',
    `name` String COMMENT 'The event name; \'order\'; the WeCom change type (add_external_contact, ...) or \'chat\'',
    `channel` String COMMENT 'The event\'s source, the order\'s channel, the contact\'s State tag; \'wecom\' for chats',
    `topic` String COMMENT 'Content topic of an event; empty otherwise',
    `city` String COMMENT 'City of an order; empty otherwise',
    `amount` Float64 COMMENT 'Yuan of an order; 0 otherwise'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT a.ts AS ts, toDate(a.ts, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'event' AS kind, toString(a.event) AS name, toString(a.source) AS channel, toString(a.topic) AS topic, '' AS city, 0. AS amount
FROM `cdp`.events AS a LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.person_id != 0
UNION ALL
SELECT a.ordered_at AS ts, toDate(a.ordered_at, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'order' AS kind, 'order' AS name, toString(a.channel) AS channel, '' AS topic, toString(a.city) AS city, toFloat64(a.amount) AS amount
FROM `cdp`.orders AS a FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.status NOT IN ('refunded', 'cancelled') AND a.person_id != 0
UNION ALL
SELECT a.ts AS ts, toDate(a.ts, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'wecom' AS kind, toString(a.change_type) AS name, toString(a.state) AS channel, '' AS topic, '' AS city, 0. AS amount
FROM `cdp`.wecom_contact_events AS a LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.person_id != 0
UNION ALL
SELECT a.msgtime AS ts, toDate(a.msgtime, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'wecom' AS kind, 'chat' AS name, 'wecom' AS channel, '' AS topic, '' AS city, 0. AS amount
FROM `cdp`.wecom_messages_visible AS a LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.person_id != 0 AND a.external_userid != '' AND a.`from` = a.external_userid
COMMENT 'What funnels read: behaviour events, valid orders, WeCom contact changes and the customer\'s own WeCom messages, one row each, attributed to OneIDs.';

CREATE OR REPLACE VIEW `bi_cdp`.`customer_cohorts` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `first_order_at` DateTime64(3, 'UTC') COMMENT 'First valid order',
    `first_date` Date COMMENT 'Day in Asia/Shanghai of the first valid order',
    `cohort_month` Date COMMENT 'First day of the month of first_date',
    `first_channel` String COMMENT 'Channel of the first valid order',
    `first_category` String COMMENT 'Category of the first line of the first valid order'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT f.person_id AS person_id, f.first_order_at AS first_order_at, f.first_date AS first_date, f.cohort_month AS cohort_month, f.first_channel AS first_channel, f.first_category AS first_category
FROM (SELECT c.*, ifNull(l.category, '') AS first_category FROM (SELECT person_id, first_order_at, toDate(first_date) AS first_date, toStartOfMonth(first_date) AS cohort_month, first_channel, first_order, months
FROM (SELECT person_id, min(ordered_at) AS first_order_at, argMin(date, ordered_at) AS first_date, argMin(channel, (ordered_at, order_id)) AS first_channel, argMin(order_id, (ordered_at, order_id)) AS first_order, arraySort(groupUniqArray(toStartOfMonth(date))) AS months
    FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) GROUP BY person_id)) AS c
LEFT JOIN (SELECT channel, order_id, argMin(toString(category), line_no) AS category FROM `cdp`.order_lines FINAL GROUP BY channel, order_id) AS l ON l.channel = c.first_channel AND l.order_id = c.first_order) AS f)
COMMENT 'One row per customer (OneID with a valid order): the first order, its Beijing month (the cohort), channel and category.';

CREATE OR REPLACE VIEW `bi_cdp`.`customer_months` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `cohort_month` Date COMMENT 'Month of the customer\'s first valid order',
    `month_index` UInt32 COMMENT 'Calendar months since cohort_month (0: the first order\'s month)',
    `orders` UInt64 COMMENT 'Valid orders that month',
    `spend` Float64 COMMENT 'Yuan of those orders',
    `first_channel` String COMMENT 'Channel of the customer\'s first valid order',
    `first_category` String COMMENT 'Category of the first line of the customer\'s first valid order'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT o.person_id AS person_id, any(c.cohort_month) AS cohort_month, toUInt32(dateDiff('month', any(c.cohort_month), toStartOfMonth(o.date))) AS month_index, count() AS orders, sum(o.amount) AS spend, any(c.first_channel) AS first_channel, any(c.first_category) AS first_category
FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) AS o
INNER JOIN (SELECT f.person_id AS person_id, f.first_order_at AS first_order_at, f.first_date AS first_date, f.cohort_month AS cohort_month, f.first_channel AS first_channel, f.first_category AS first_category
FROM (SELECT c.*, ifNull(l.category, '') AS first_category FROM (SELECT person_id, first_order_at, toDate(first_date) AS first_date, toStartOfMonth(first_date) AS cohort_month, first_channel, first_order, months
FROM (SELECT person_id, min(ordered_at) AS first_order_at, argMin(date, ordered_at) AS first_date, argMin(channel, (ordered_at, order_id)) AS first_channel, argMin(order_id, (ordered_at, order_id)) AS first_order, arraySort(groupUniqArray(toStartOfMonth(date))) AS months
    FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) GROUP BY person_id)) AS c
LEFT JOIN (SELECT channel, order_id, argMin(toString(category), line_no) AS category FROM `cdp`.order_lines FINAL GROUP BY channel, order_id) AS l ON l.channel = c.first_channel AND l.order_id = c.first_order) AS f) AS c ON c.person_id = o.person_id
GROUP BY o.person_id, toStartOfMonth(o.date))
COMMENT 'One row per customer and calendar month with a valid order: months since the cohort month, orders and spend. Retention and LTV curves read it.';

CREATE OR REPLACE VIEW `bi_cdp`.`repurchases` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `kind` String COMMENT 'rice or oil',
    `first_date` Date COMMENT 'First Beijing day with a valid order of this kind',
    `second_date` Nullable(Date) COMMENT 'The next such day; NULL when none yet',
    `days_to_repurchase` Nullable(UInt32) COMMENT 'second_date - first_date; NULL when none yet',
    `gaps` Array(UInt32) COMMENT 'Days between consecutive purchase days of this kind',
    `first_channel` String COMMENT 'Channel of the customer\'s first valid order'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT k.person_id AS person_id, k.kind AS kind, k.days[1] AS first_date, if(length(k.days) > 1, CAST(k.days[2], 'Nullable(Date)'), NULL) AS second_date, if(length(k.days) > 1, toNullable(toUInt32(dateDiff('day', k.days[1], k.days[2]))), NULL) AS days_to_repurchase, arrayMap(g -> toUInt32(g), arrayPopFront(arrayDifference(arrayMap(d -> toInt32(d), k.days)))) AS gaps, c.first_channel AS first_channel
FROM (SELECT o.person_id AS person_id, multiIf(positionUTF8(l.category, '米') > 0, 'rice', positionUTF8(l.category, '油') > 0, 'oil', '') AS kind, arraySort(groupUniqArray(o.date)) AS days
    FROM `cdp`.order_lines AS l FINAL
    INNER JOIN (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) AS o ON o.channel = l.channel AND o.order_id = l.order_id
    WHERE kind != '' GROUP BY person_id, kind) AS k
INNER JOIN (SELECT f.person_id AS person_id, f.first_order_at AS first_order_at, f.first_date AS first_date, f.cohort_month AS cohort_month, f.first_channel AS first_channel
FROM (SELECT person_id, first_order_at, toDate(first_date) AS first_date, toStartOfMonth(first_date) AS cohort_month, first_channel, first_order, months
FROM (SELECT person_id, min(ordered_at) AS first_order_at, argMin(date, ordered_at) AS first_date, argMin(channel, (ordered_at, order_id)) AS first_channel, argMin(order_id, (ordered_at, order_id)) AS first_order, arraySort(groupUniqArray(toStartOfMonth(date))) AS months
    FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) GROUP BY person_id)) AS f) AS c ON c.person_id = k.person_id)
COMMENT 'One row per customer and purchase kind (rice: categories naming 米, oil: naming 油): the first purchase day and the days until the next.';

CREATE OR REPLACE VIEW `bi_cdp`.`lifecycle` ON CLUSTER `cdp_cluster`
(
    `audience` String COMMENT 'buyers or engaged',
    `period_unit` String COMMENT 'week or month',
    `period` Date COMMENT 'First day of the week (Monday) or month, Beijing',
    `state` String COMMENT 'new, returning, resurrecting or dormant',
    `persons` UInt64 COMMENT 'Persons in that state'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT 'buyers' AS audience, 'week' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT person_id, toMonday(toDate(ordered_at, 'Asia/Shanghai')) AS period FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0)) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = x - 7, 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = x + 7, (toDate(0), ''), (x + 7, 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
UNION ALL
SELECT 'buyers' AS audience, 'month' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT person_id, toStartOfMonth(toDate(ordered_at, 'Asia/Shanghai')) AS period FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0)) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = addMonths(x, -1), 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = addMonths(x, 1), (toDate(0), ''), (addMonths(x, 1), 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
UNION ALL
SELECT 'engaged' AS audience, 'week' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT ifNull(nullIf(p_e.canonical, 0), e.person_id) AS person_id, toMonday(toDate(e.ts, 'Asia/Shanghai')) AS period FROM `cdp`.events AS e LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_e ON p_e.person_id = e.person_id WHERE e.person_id != 0
    UNION DISTINCT SELECT ifNull(nullIf(p_m.canonical, 0), m.person_id), toMonday(toDate(m.msgtime, 'Asia/Shanghai')) FROM `cdp`.wecom_messages_visible AS m LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_m ON p_m.person_id = m.person_id WHERE m.person_id != 0 AND m.external_userid != '' AND m.`from` = m.external_userid) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = x - 7, 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = x + 7, (toDate(0), ''), (x + 7, 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
UNION ALL
SELECT 'engaged' AS audience, 'month' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT ifNull(nullIf(p_e.canonical, 0), e.person_id) AS person_id, toStartOfMonth(toDate(e.ts, 'Asia/Shanghai')) AS period FROM `cdp`.events AS e LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_e ON p_e.person_id = e.person_id WHERE e.person_id != 0
    UNION DISTINCT SELECT ifNull(nullIf(p_m.canonical, 0), m.person_id), toStartOfMonth(toDate(m.msgtime, 'Asia/Shanghai')) FROM `cdp`.wecom_messages_visible AS m LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_m ON p_m.person_id = m.person_id WHERE m.person_id != 0 AND m.external_userid != '' AND m.`from` = m.external_userid) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = addMonths(x, -1), 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = addMonths(x, 1), (toDate(0), ''), (addMonths(x, 1), 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
COMMENT 'Customers per period by lifecycle state: new, returning, resurrecting and dormant, per week (Monday) or month, for buyers (valid orders) and engaged customers (behaviour or their own WeCom messages).';

-- migration 23 segment_trait_snapshots
CREATE TABLE IF NOT EXISTS `cdp`.`segment_trait_snapshots_local` ON CLUSTER `cdp_cluster`
(
    `slot` UInt8 COMMENT 'Always 0: one index per database',
    `read_at` DateTime64(3, 'UTC') COMMENT 'When the read it holds began (platform clock)',
    `orders_seq` UInt64 COMMENT 'The highest orders.spool_seq before the read began',
    `persons_version` UInt64 COMMENT 'The highest persons.version before the read began',
    `format` UInt16 COMMENT 'Encoding of snapshot; another format is ignored',
    `snapshot` String COMMENT 'The encoded index: roaring bitmaps of person ids'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', read_at)
ORDER BY slot
COMMENT 'The segment engine\'s trait index (per-person order facts as bitmaps: ltv, aov, orders, last order, city, province, channels) as of read_at; the latest row wins. Person ids only, no identifiers.';

CREATE TABLE IF NOT EXISTS `cdp`.`segment_trait_snapshots` ON CLUSTER `cdp_cluster` AS `cdp`.`segment_trait_snapshots_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'segment_trait_snapshots_local', cityHash64(slot));

-- migration 24 item_orders
CREATE TABLE IF NOT EXISTS `cdp`.`item_orders_local` ON CLUSTER `cdp_cluster`
(
    `item` LowCardinality(String) COMMENT 'A category or a SKU of one of the order\'s lines',
    `ordered_at` DateTime64(3, 'UTC') COMMENT 'When the order was placed (fixed per order)',
    `channel` LowCardinality(String),
    `order_id` String,
    `version` UInt64 COMMENT 'The order version of the lines; the highest wins',
    `person_id` UInt32 COMMENT 'The buyer, as on the order\'s lines (0 when unknown or erased)'
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)
PARTITION BY toYYYYMM(ordered_at)
ORDER BY (item, toDate(ordered_at), channel, order_id)
COMMENT 'The orders holding each item (category or SKU) of their lines, per person, kept from order_lines by a materialized view (item_orders_mv); read with FINAL: the latest version\'s person. Refunds and cancellations are not applied here (read orders).';

CREATE TABLE IF NOT EXISTS `cdp`.`item_orders` ON CLUSTER `cdp_cluster` AS `cdp`.`item_orders_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'item_orders_local', cityHash64(channel, order_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS `cdp`.`item_orders_mv` ON CLUSTER `cdp_cluster` TO `cdp`.`item_orders_local`
AS SELECT item, ordered_at, channel, order_id, version, person_id
FROM `cdp`.`order_lines_local`
ARRAY JOIN arrayDistinct(arrayFilter(x -> x != '', [toString(category), sku])) AS item;

INSERT INTO `cdp`.item_orders SETTINGS max_partitions_per_insert_block = 0
SELECT item, ordered_at, channel, order_id, version, person_id
FROM `cdp`.order_lines
ARRAY JOIN arrayDistinct(arrayFilter(x -> x != '', [toString(category), sku])) AS item;

-- migration 25 analytics_views_engine_settings
CREATE OR REPLACE VIEW `bi_cdp`.`actions` ON CLUSTER `cdp_cluster`
(
    `ts` DateTime64(3, 'UTC') COMMENT 'When it happened',
    `date` Date COMMENT 'Day in Asia/Shanghai',
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `kind` String COMMENT 'event, order or wecom',
    `name` String COMMENT 'The event name; \'order\'; the WeCom change type (add_external_contact, ...) or \'chat\'',
    `channel` String COMMENT 'The event\'s source, the order\'s channel, the contact\'s State tag; \'wecom\' for chats',
    `topic` String COMMENT 'Content topic of an event; empty otherwise',
    `city` String COMMENT 'City of an order; empty otherwise',
    `amount` Float64 COMMENT 'Yuan of an order; 0 otherwise'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT a.ts AS ts, toDate(a.ts, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'event' AS kind, toString(a.event) AS name, toString(a.source) AS channel, toString(a.topic) AS topic, '' AS city, 0. AS amount
FROM `cdp`.events AS a LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.person_id != 0
UNION ALL
SELECT a.ordered_at AS ts, toDate(a.ordered_at, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'order' AS kind, 'order' AS name, toString(a.channel) AS channel, '' AS topic, toString(a.city) AS city, toFloat64(a.amount) AS amount
FROM `cdp`.orders AS a FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.status NOT IN ('refunded', 'cancelled') AND a.person_id != 0
UNION ALL
SELECT a.ts AS ts, toDate(a.ts, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'wecom' AS kind, toString(a.change_type) AS name, toString(a.state) AS channel, '' AS topic, '' AS city, 0. AS amount
FROM `cdp`.wecom_contact_events AS a LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.person_id != 0
UNION ALL
SELECT a.msgtime AS ts, toDate(a.msgtime, 'Asia/Shanghai') AS date, ifNull(nullIf(p_a.canonical, 0), a.person_id) AS person_id, 'wecom' AS kind, 'chat' AS name, 'wecom' AS channel, '' AS topic, '' AS city, 0. AS amount
FROM `cdp`.wecom_messages_visible AS a LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_a ON p_a.person_id = a.person_id WHERE a.person_id != 0 AND a.external_userid != '' AND a.`from` = a.external_userid)
SETTINGS query_plan_join_swap_table = false, do_not_merge_across_partitions_select_final = 1
COMMENT 'What funnels read: behaviour events, valid orders, WeCom contact changes and the customer\'s own WeCom messages, one row each, attributed to OneIDs.';

CREATE OR REPLACE VIEW `bi_cdp`.`customer_cohorts` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `first_order_at` DateTime64(3, 'UTC') COMMENT 'First valid order',
    `first_date` Date COMMENT 'Day in Asia/Shanghai of the first valid order',
    `cohort_month` Date COMMENT 'First day of the month of first_date',
    `first_channel` String COMMENT 'Channel of the first valid order',
    `first_category` String COMMENT 'Category of the first line of the first valid order'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT * FROM (SELECT f.person_id AS person_id, f.first_order_at AS first_order_at, f.first_date AS first_date, f.cohort_month AS cohort_month, f.first_channel AS first_channel, f.first_category AS first_category
FROM (SELECT c.*, ifNull(l.category, '') AS first_category FROM (SELECT person_id, first_order_at, toDate(first_date) AS first_date, toStartOfMonth(first_date) AS cohort_month, first_channel, first_order, months
FROM (SELECT person_id, min(ordered_at) AS first_order_at, argMin(date, ordered_at) AS first_date, argMin(channel, (ordered_at, order_id)) AS first_channel, argMin(order_id, (ordered_at, order_id)) AS first_order, arraySort(groupUniqArray(toStartOfMonth(date))) AS months
    FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) GROUP BY person_id)) AS c
LEFT JOIN (SELECT channel, order_id, argMin(toString(category), line_no) AS category FROM `cdp`.order_lines FINAL GROUP BY channel, order_id) AS l ON l.channel = c.first_channel AND l.order_id = c.first_order) AS f))
SETTINGS query_plan_join_swap_table = false, do_not_merge_across_partitions_select_final = 1
COMMENT 'One row per customer (OneID with a valid order): the first order, its Beijing month (the cohort), channel and category.';

CREATE OR REPLACE VIEW `bi_cdp`.`customer_months` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `cohort_month` Date COMMENT 'Month of the customer\'s first valid order',
    `month_index` UInt32 COMMENT 'Calendar months since cohort_month (0: the first order\'s month)',
    `orders` UInt64 COMMENT 'Valid orders that month',
    `spend` Float64 COMMENT 'Yuan of those orders',
    `first_channel` String COMMENT 'Channel of the customer\'s first valid order',
    `first_category` String COMMENT 'Category of the first line of the customer\'s first valid order'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT * FROM (SELECT o.person_id AS person_id, any(c.cohort_month) AS cohort_month, toUInt32(dateDiff('month', any(c.cohort_month), toStartOfMonth(o.date))) AS month_index, count() AS orders, sum(o.amount) AS spend, any(c.first_channel) AS first_channel, any(c.first_category) AS first_category
FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) AS o
INNER JOIN (SELECT f.person_id AS person_id, f.first_order_at AS first_order_at, f.first_date AS first_date, f.cohort_month AS cohort_month, f.first_channel AS first_channel, f.first_category AS first_category
FROM (SELECT c.*, ifNull(l.category, '') AS first_category FROM (SELECT person_id, first_order_at, toDate(first_date) AS first_date, toStartOfMonth(first_date) AS cohort_month, first_channel, first_order, months
FROM (SELECT person_id, min(ordered_at) AS first_order_at, argMin(date, ordered_at) AS first_date, argMin(channel, (ordered_at, order_id)) AS first_channel, argMin(order_id, (ordered_at, order_id)) AS first_order, arraySort(groupUniqArray(toStartOfMonth(date))) AS months
    FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) GROUP BY person_id)) AS c
LEFT JOIN (SELECT channel, order_id, argMin(toString(category), line_no) AS category FROM `cdp`.order_lines FINAL GROUP BY channel, order_id) AS l ON l.channel = c.first_channel AND l.order_id = c.first_order) AS f) AS c ON c.person_id = o.person_id
GROUP BY o.person_id, toStartOfMonth(o.date)))
SETTINGS query_plan_join_swap_table = false, do_not_merge_across_partitions_select_final = 1
COMMENT 'One row per customer and calendar month with a valid order: months since the cohort month, orders and spend. Retention and LTV curves read it.';

CREATE OR REPLACE VIEW `bi_cdp`.`repurchases` ON CLUSTER `cdp_cluster`
(
    `person_id` UInt32 COMMENT 'OneID (canonical)',
    `kind` String COMMENT 'rice or oil',
    `first_date` Date COMMENT 'First Beijing day with a valid order of this kind',
    `second_date` Nullable(Date) COMMENT 'The next such day; NULL when none yet',
    `days_to_repurchase` Nullable(UInt32) COMMENT 'second_date - first_date; NULL when none yet',
    `gaps` Array(UInt32) COMMENT 'Days between consecutive purchase days of this kind',
    `first_channel` String COMMENT 'Channel of the customer\'s first valid order'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT * FROM (SELECT k.person_id AS person_id, k.kind AS kind, k.days[1] AS first_date, if(length(k.days) > 1, CAST(k.days[2], 'Nullable(Date)'), NULL) AS second_date, if(length(k.days) > 1, toNullable(toUInt32(dateDiff('day', k.days[1], k.days[2]))), NULL) AS days_to_repurchase, arrayMap(g -> toUInt32(g), arrayPopFront(arrayDifference(arrayMap(d -> toInt32(d), k.days)))) AS gaps, c.first_channel AS first_channel
FROM (SELECT o.person_id AS person_id, multiIf(positionUTF8(l.category, '米') > 0, 'rice', positionUTF8(l.category, '油') > 0, 'oil', '') AS kind, arraySort(groupUniqArray(o.date)) AS days
    FROM `cdp`.order_lines AS l FINAL
    INNER JOIN (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) AS o ON o.channel = l.channel AND o.order_id = l.order_id
    WHERE kind != '' GROUP BY person_id, kind) AS k
INNER JOIN (SELECT f.person_id AS person_id, f.first_order_at AS first_order_at, f.first_date AS first_date, f.cohort_month AS cohort_month, f.first_channel AS first_channel
FROM (SELECT person_id, first_order_at, toDate(first_date) AS first_date, toStartOfMonth(first_date) AS cohort_month, first_channel, first_order, months
FROM (SELECT person_id, min(ordered_at) AS first_order_at, argMin(date, ordered_at) AS first_date, argMin(channel, (ordered_at, order_id)) AS first_channel, argMin(order_id, (ordered_at, order_id)) AS first_order, arraySort(groupUniqArray(toStartOfMonth(date))) AS months
    FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0) GROUP BY person_id)) AS f) AS c ON c.person_id = k.person_id))
SETTINGS query_plan_join_swap_table = false, do_not_merge_across_partitions_select_final = 1
COMMENT 'One row per customer and purchase kind (rice: categories naming 米, oil: naming 油): the first purchase day and the days until the next.';

CREATE OR REPLACE VIEW `bi_cdp`.`lifecycle` ON CLUSTER `cdp_cluster`
(
    `audience` String COMMENT 'buyers or engaged',
    `period_unit` String COMMENT 'week or month',
    `period` Date COMMENT 'First day of the week (Monday) or month, Beijing',
    `state` String COMMENT 'new, returning, resurrecting or dormant',
    `persons` UInt64 COMMENT 'Persons in that state'
)
DEFINER = CURRENT_USER SQL SECURITY DEFINER
AS SELECT * FROM (SELECT 'buyers' AS audience, 'week' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT person_id, toMonday(toDate(ordered_at, 'Asia/Shanghai')) AS period FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0)) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = x - 7, 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = x + 7, (toDate(0), ''), (x + 7, 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
UNION ALL
SELECT 'buyers' AS audience, 'month' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT person_id, toStartOfMonth(toDate(ordered_at, 'Asia/Shanghai')) AS period FROM (SELECT ifNull(nullIf(p_o.canonical, 0), o.person_id) AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, toDate(o.ordered_at, 'Asia/Shanghai') AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city
    FROM `cdp`.orders AS o FINAL LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_o ON p_o.person_id = o.person_id
    WHERE o.status NOT IN ('refunded', 'cancelled') AND o.person_id != 0)) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = addMonths(x, -1), 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = addMonths(x, 1), (toDate(0), ''), (addMonths(x, 1), 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
UNION ALL
SELECT 'engaged' AS audience, 'week' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT ifNull(nullIf(p_e.canonical, 0), e.person_id) AS person_id, toMonday(toDate(e.ts, 'Asia/Shanghai')) AS period FROM `cdp`.events AS e LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_e ON p_e.person_id = e.person_id WHERE e.person_id != 0
    UNION DISTINCT SELECT ifNull(nullIf(p_m.canonical, 0), m.person_id), toMonday(toDate(m.msgtime, 'Asia/Shanghai')) FROM `cdp`.wecom_messages_visible AS m LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_m ON p_m.person_id = m.person_id WHERE m.person_id != 0 AND m.external_userid != '' AND m.`from` = m.external_userid) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = x - 7, 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = x + 7, (toDate(0), ''), (x + 7, 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state)
UNION ALL
SELECT 'engaged' AS audience, 'month' AS period_unit, period, state, persons FROM (SELECT s.1 AS period, s.2 AS state, count() AS persons
FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM (SELECT DISTINCT ifNull(nullIf(p_e.canonical, 0), e.person_id) AS person_id, toStartOfMonth(toDate(e.ts, 'Asia/Shanghai')) AS period FROM `cdp`.events AS e LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_e ON p_e.person_id = e.person_id WHERE e.person_id != 0
    UNION DISTINCT SELECT ifNull(nullIf(p_m.canonical, 0), m.person_id), toStartOfMonth(toDate(m.msgtime, 'Asia/Shanghai')) FROM `cdp`.wecom_messages_visible AS m LEFT JOIN (SELECT person_id, canonical FROM `cdp`.persons FINAL WHERE person_id != canonical) AS p_m ON p_m.person_id = m.person_id WHERE m.person_id != 0 AND m.external_userid != '' AND m.`from` = m.external_userid) GROUP BY person_id)
ARRAY JOIN arrayConcat(
    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = addMonths(x, -1), 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),
    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = addMonths(x, 1), (toDate(0), ''), (addMonths(x, 1), 'dormant')), ps, arrayEnumerate(ps)))
) AS s
GROUP BY period, state))
SETTINGS query_plan_join_swap_table = false, do_not_merge_across_partitions_select_final = 1
COMMENT 'Customers per period by lifecycle state: new, returning, resurrecting and dormant, per week (Monday) or month, for buyers (valid orders) and engaged customers (behaviour or their own WeCom messages).';

-- migration 26 events_persons_by_day
ALTER TABLE `cdp`.`events_local` ON CLUSTER `cdp_cluster` ADD PROJECTION IF NOT EXISTS `persons_by_day` (SELECT event, topic, toDate(ts), groupBitmapState(person_id) GROUP BY event, topic, toDate(ts));

ALTER TABLE `cdp`.`events_local` ON CLUSTER `cdp_cluster` MATERIALIZE PROJECTION `persons_by_day`;

-- migration 27 demand_views_one_pass_match
ALTER TABLE `cdp`.`demand_signals_events_mv` ON CLUSTER `cdp_cluster` MODIFY QUERY
WITH (SELECT (groupArrayIf(term, match = 'text'), groupArrayIf(class, match = 'text'), groupArrayIf(term, match = 'topic'), groupArrayIf(class, match = 'topic')) FROM `cdp`.demand_terms FINAL WHERE deleted = 0) AS d
SELECT toStartOfHour(e.ts) AS hour, c AS class, if(e.event = 'search', 'search', 'view') AS source, JSONExtractString(e.context, 'location', 'region') AS province, JSONExtractString(e.context, 'location', 'city') AS city, toUInt64(count()) AS signals
FROM `cdp`.`events_local` AS e
ARRAY JOIN arrayDistinct(if(e.event = 'video_play', arrayFilter(x -> x != '', [transform(toString(e.topic), d.3, d.4, '')]), arrayFilter((c, p) -> p > 0, d.2, arrayResize(arrayConcat(multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 256, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 511, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 766, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1021, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1276, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1531, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1786, 255))), length(d.1))))) AS c
WHERE e.event IN ('search', 'video_play')
GROUP BY hour, class, source, province, city;

ALTER TABLE `cdp`.`demand_signals_chats_mv` ON CLUSTER `cdp_cluster` MODIFY QUERY
WITH (SELECT (groupArrayIf(term, match = 'text'), groupArrayIf(class, match = 'text'), groupArrayIf(term, match = 'topic'), groupArrayIf(class, match = 'topic')) FROM `cdp`.demand_terms FINAL WHERE deleted = 0) AS d
SELECT toStartOfHour(m.msgtime) AS hour, c AS class, 'chat' AS source, '' AS province, '' AS city, toUInt64(count()) AS signals
FROM `cdp`.`wecom_messages_local` AS m
ARRAY JOIN arrayDistinct(arrayFilter((c, p) -> p > 0, d.2, arrayResize(arrayConcat(multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 256, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 511, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 766, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1021, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1276, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1531, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1786, 255))), length(d.1)))) AS c
WHERE m.action = 'send' AND m.external_userid != '' AND m.`from` = m.external_userid
GROUP BY hour, class, source, province, city;

-- migration 28 events_persons_by_day_keyword
ALTER TABLE `cdp`.`events_local` ON CLUSTER `cdp_cluster` ADD PROJECTION IF NOT EXISTS `persons_by_day_keyword` (SELECT event, topic, keyword, toDate(ts), groupBitmapState(person_id) GROUP BY event, topic, keyword, toDate(ts));

ALTER TABLE `cdp`.`events_local` ON CLUSTER `cdp_cluster` MATERIALIZE PROJECTION `persons_by_day_keyword`;

ALTER TABLE `cdp`.`events_local` ON CLUSTER `cdp_cluster` DROP PROJECTION IF EXISTS `persons_by_day`;

-- migration 29 events_latest_name
ALTER TABLE `cdp`.`events_local` ON CLUSTER `cdp_cluster` ADD PROJECTION IF NOT EXISTS `latest_name` (SELECT person_id, argMaxIf(JSONExtractString(traits, 'name'), ts, notEmpty(JSONExtractString(traits, 'name'))), maxIf(ts, notEmpty(JSONExtractString(traits, 'name'))) GROUP BY person_id);

ALTER TABLE `cdp`.`events_local` ON CLUSTER `cdp_cluster` MATERIALIZE PROJECTION `latest_name`;

-- migration 30 no_auto_statistics
ALTER TABLE `cdp`.`schema_migrations_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`api_tokens_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`write_keys_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`audit_log_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`events_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`orders_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`order_lines_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_contact_events_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_messages_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`pii_vault_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`ingest_dead_letters_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`identity_links_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`persons_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`identity_merges_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`identity_conflicts_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`suppressions_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`person_tags_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`segments_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`segment_members_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`segment_changes_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`consents_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`offers_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`campaigns_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`campaign_sends_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`campaign_outbox_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`campaign_tasks_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`journeys_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`journey_versions_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`journey_runs_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`journey_steps_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`segment_lists_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_corp_tags_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_customer_tags_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_tag_syncs_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_tag_marks_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_ops_cursors_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`demand_terms_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`demand_signals_hourly_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`demand_alerts_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`demand_deliveries_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_contact_ways_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_welcome_msgs_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_welcome_journal_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_loss_alerts_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_transfers_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_group_chats_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_group_members_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_group_sends_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_moments_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`wecom_moment_results_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`demand_regressors_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`segment_trait_snapshots_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

ALTER TABLE `cdp`.`item_orders_local` ON CLUSTER `cdp_cluster` MODIFY SETTING auto_statistics_types = '';

