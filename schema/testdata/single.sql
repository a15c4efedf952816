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

-- migration 2 ingest
CREATE TABLE IF NOT EXISTS `cdp`.`events`
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
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (event, toDate(ts), ts)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Behaviour events (Segment-compatible track/page/screen/identify/group/alias) from SDKs, platform exports and collectors. One row per message_id.';

CREATE TABLE IF NOT EXISTS `cdp`.`orders`
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
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(ordered_at)
ORDER BY (channel, order_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Orders from every channel; one row per (channel, order_id), the highest version wins (query with FINAL or the orders_current view).';

CREATE TABLE IF NOT EXISTS `cdp`.`order_lines`
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
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(ordered_at)
ORDER BY (channel, order_id, line_no)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Order lines; one row per (channel, order_id, line_no), the highest version wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_contact_events`
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (external_userid, staff_userid, ts, dedup_key)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'WeCom customer-contact callbacks (change_external_contact): who added or removed whom, and through which State channel tag.';

CREATE TABLE IF NOT EXISTS `cdp`.`wecom_messages`
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(msgtime)
ORDER BY (msgid)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'WeCom chat-archive messages (decrypted by the customer\'s archive job), one row per msgid. Recalls are rows with action = \'recall\' naming pre_msgid; wecom_messages_visible leaves recalled messages out.';

CREATE VIEW IF NOT EXISTS `cdp`.wecom_messages_visible AS
SELECT * FROM `cdp`.wecom_messages FINAL
WHERE action = 'send' AND msgid NOT IN (SELECT pre_msgid FROM `cdp`.wecom_messages WHERE action = 'recall');

CREATE TABLE IF NOT EXISTS `cdp`.`pii_vault`
(
    `hash` String,
    `type` LowCardinality(String),
    `masked` String,
    `ciphertext` String,
    `updated_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY hash
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Protected personal identifiers: keyed hash (what other tables store), mask for display, AES-GCM ciphertext for sending. Not readable by BI users.';

CREATE TABLE IF NOT EXISTS `cdp`.`ingest_dead_letters`
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
ENGINE = MergeTree
PARTITION BY toYYYYMMDD(received_at)
ORDER BY (received_at, endpoint)
TTL toDateTime(received_at) + INTERVAL 30 DAY
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Records refused by validation, with the reason, kept 30 days for inspection.';

-- migration 3 identity
CREATE TABLE IF NOT EXISTS `cdp`.`identity_links`
(
    `id_type` LowCardinality(String),
    `id_value` String COMMENT 'Phones as keyed hashes h:...',
    `person_id` UInt32 COMMENT 'The owning person (before merges; see persons.canonical)',
    `contested` UInt8,
    `linked_at` DateTime64(3, 'UTC') COMMENT 'Time of the record that linked it',
    `ref` String COMMENT 'The record that linked it (e:source:messageId, o:channel:order:version, c:..., m:msgid)',
    `version` UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (id_type, id_value)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Which person owns each identifier (the identity graph\'s edges). Contested identifiers are shared by persons they may not join.';

CREATE TABLE IF NOT EXISTS `cdp`.`persons`
(
    `person_id` UInt32,
    `parent` UInt32 COMMENT 'The person it was merged into (itself when not merged)',
    `canonical` UInt32 COMMENT 'The root of its merge tree: the OneID to report on',
    `version` UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY person_id
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Every person id and where merges put it: canonical is the person it belongs to now.';

CREATE TABLE IF NOT EXISTS `cdp`.`identity_merges`
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
ENGINE = ReplacingMergeTree(version)
ORDER BY merge_id
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Every merge with its evidence (record, identifiers, rule); undone merges are kept with who undid them.';

CREATE TABLE IF NOT EXISTS `cdp`.`identity_conflicts`
(
    `ts` DateTime64(3, 'UTC'),
    `ref` String,
    `id_type` LowCardinality(String),
    `id_value` String,
    `person_a` UInt32,
    `person_b` UInt32,
    `reason` String
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (ts, id_type, id_value)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Links and merges the identity rules refused (shared phones and devices, limits).';

CREATE TABLE IF NOT EXISTS `cdp`.`suppressions`
(
    `id_type` LowCardinality(String),
    `id_hash` String,
    `reason` LowCardinality(String) COMMENT 'erased, opt_out',
    `ts` DateTime64(3, 'UTC'),
    `by` String
)
ENGINE = ReplacingMergeTree(ts)
ORDER BY (id_type, id_hash)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Identifiers of erased or opted-out persons, as keyed hashes: never targeted again.';

CREATE OR REPLACE VIEW `cdp`.person_traits AS
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

CREATE OR REPLACE VIEW `cdp`.person_rfm AS
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

CREATE OR REPLACE VIEW `cdp`.person_next_purchase AS
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
CREATE TABLE IF NOT EXISTS `cdp`.`person_tags`
(
    `person_id` UInt32,
    `tag` LowCardinality(String) COMMENT 'e.g. 控糖, 高端用户',
    `source` LowCardinality(String) COMMENT 'manual, import, wecom, rule',
    `sensitive` UInt8 COMMENT 'Health-interest tags (PIPL art. 28): usable in campaigns only with consent',
    `deleted` UInt8,
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ts)
ORDER BY (tag, person_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Tags on persons (manual, imported or from rules); the latest row per (person, tag) wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`segments`
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
ENGINE = ReplacingMergeTree(version)
ORDER BY (segment_id, version)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Segment definitions; every edit is a new version (the highest is current).';

CREATE TABLE IF NOT EXISTS `cdp`.`segment_members`
(
    `segment_id` String,
    `version` UInt32,
    `computed_at` DateTime64(3, 'UTC'),
    `members` AggregateFunction(groupBitmap, UInt32),
    `size` UInt64
)
ENGINE = ReplacingMergeTree(computed_at)
ORDER BY segment_id
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Segment membership snapshots as bitmaps of person ids (groupBitmap state); the latest computed_at per segment is current. BI: bitmapToArray(m) or the segment_members_current view.';

CREATE TABLE IF NOT EXISTS `cdp`.`segment_changes`
(
    `segment_id` String,
    `person_id` UInt32,
    `change` Enum8('enter' = 1, 'exit' = 2),
    `ts` DateTime64(3, 'UTC'),
    INDEX person_idx person_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(ts)
ORDER BY (segment_id, ts)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Entries into and exits from segments, as they happened (live updates, recomputes, window expiry).';

CREATE OR REPLACE VIEW `cdp`.segment_members_current AS
SELECT s.segment_id AS segment_id, d.name AS name, arrayJoin(bitmapToArray(s.members)) AS person_id, s.computed_at AS computed_at
FROM `cdp`.segment_members AS s FINAL
INNER JOIN (SELECT segment_id, argMax(name, version) AS name, argMax(deleted, version) AS deleted FROM `cdp`.segments GROUP BY segment_id) AS d
    ON d.segment_id = s.segment_id
WHERE d.deleted = 0;

-- migration 5 campaigns
CREATE TABLE IF NOT EXISTS `cdp`.`consents`
(
    `person_id` UInt32,
    `channel` LowCardinality(String) COMMENT 'wecom, sms, webhook, robot, or * for all',
    `kind` LowCardinality(String) COMMENT 'opt_out or sensitive_consent',
    `granted` UInt8 COMMENT '1: opted out / consent given; 0: withdrawn',
    `source` LowCardinality(String) COMMENT 'api, wecom_keyword, import',
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ts)
ORDER BY (kind, channel, person_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Opt-outs per channel and separate consents for sensitive (health) targeting; the latest row per (person, channel, kind) wins.';

CREATE TABLE IF NOT EXISTS `cdp`.`offers`
(
    `offer_id` String,
    `version` UInt32,
    `definition` String COMMENT 'JSON: name, skus, categories, coupon codes, link, valid_from, valid_to',
    `deleted` UInt8,
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (offer_id, version)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Offers (e.g. a low-GI rice trial pack); every edit is a new version.';

CREATE TABLE IF NOT EXISTS `cdp`.`campaigns`
(
    `campaign_id` String,
    `version` UInt32,
    `definition` String COMMENT 'JSON: name, offer, segment, channel, template, holdout, caps, quiet hours, schedule, send limit, attribution window',
    `status` LowCardinality(String) COMMENT 'draft, scheduled, running, finished, cancelled',
    `ts` DateTime64(3, 'UTC'),
    `by` String
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (campaign_id, version)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Campaigns; every edit or state change is a new version.';

CREATE TABLE IF NOT EXISTS `cdp`.`campaign_sends`
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
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (campaign_id, person_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'The send log: one row per (campaign, person), written as a plan before anything is sent; state moves planned -> sent -> delivered (or failed); excluded and holdout rows say why.';

CREATE TABLE IF NOT EXISTS `cdp`.`campaign_outbox`
(
    `campaign_id` String,
    `person_id` UInt32,
    `address` String,
    `message` String,
    `ts` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(ts)
ORDER BY (campaign_id, person_id)
SETTINGS non_replicated_deduplication_window = 1000
COMMENT 'Messages the outbox channel would send (demo and review); one row per (campaign, person).';

