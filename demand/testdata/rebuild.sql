-- one server, each node: false
-- drop
DROP TABLE IF EXISTS `cdp`.`demand_signals_hourly_rebuild`;

-- create
CREATE TABLE `cdp`.`demand_signals_hourly_rebuild` AS `cdp`.`demand_signals_hourly`;

-- events
INSERT INTO `cdp`.`demand_signals_hourly_rebuild` WITH (SELECT (groupArrayIf(term, match = 'text'), groupArrayIf(class, match = 'text'), groupArrayIf(term, match = 'topic'), groupArrayIf(class, match = 'topic')) FROM `cdp`.demand_terms FINAL WHERE deleted = 0) AS d
SELECT toStartOfHour(e.ts) AS hour, c AS class, if(e.event = 'search', 'search', 'view') AS source, JSONExtractString(e.context, 'location', 'region') AS province, JSONExtractString(e.context, 'location', 'city') AS city, toUInt64(count()) AS signals
FROM `cdp`.`events` AS e
ARRAY JOIN arrayDistinct(if(e.event = 'video_play', arrayFilter(x -> x != '', [transform(toString(e.topic), d.3, d.4, '')]), arrayFilter((c, p) -> p > 0, d.2, arrayResize(arrayConcat(multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 256, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 511, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 766, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1021, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1276, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1531, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1786, 255))), length(d.1))))) AS c
WHERE e.event IN ('search', 'video_play')
GROUP BY hour, class, source, province, city;

-- chats
INSERT INTO `cdp`.`demand_signals_hourly_rebuild` WITH (SELECT (groupArrayIf(term, match = 'text'), groupArrayIf(class, match = 'text'), groupArrayIf(term, match = 'topic'), groupArrayIf(class, match = 'topic')) FROM `cdp`.demand_terms FINAL WHERE deleted = 0) AS d
SELECT toStartOfHour(m.msgtime) AS hour, c AS class, 'chat' AS source, '' AS province, '' AS city, toUInt64(count()) AS signals
FROM (SELECT * FROM `cdp`.`wecom_messages` FINAL) AS m
ARRAY JOIN arrayDistinct(arrayFilter((c, p) -> p > 0, d.2, arrayResize(arrayConcat(multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 256, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 511, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 766, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1021, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1276, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1531, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1786, 255))), length(d.1)))) AS c
WHERE m.action = 'send' AND m.external_userid != '' AND m.`from` = m.external_userid
GROUP BY hour, class, source, province, city;

-- exchange
EXCHANGE TABLES `cdp`.`demand_signals_hourly_rebuild` AND `cdp`.`demand_signals_hourly`;

-- drop old
DROP TABLE `cdp`.`demand_signals_hourly_rebuild`;

-- sharded (on every node), each node: true
-- drop
DROP TABLE IF EXISTS `cdp`.`demand_signals_hourly_rebuild_local`;

-- create
CREATE TABLE `cdp`.`demand_signals_hourly_rebuild_local` AS `cdp`.`demand_signals_hourly_local`;

-- events
INSERT INTO `cdp`.`demand_signals_hourly_rebuild_local` WITH (SELECT (groupArrayIf(term, match = 'text'), groupArrayIf(class, match = 'text'), groupArrayIf(term, match = 'topic'), groupArrayIf(class, match = 'topic')) FROM `cdp`.demand_terms FINAL WHERE deleted = 0) AS d
SELECT toStartOfHour(e.ts) AS hour, c AS class, if(e.event = 'search', 'search', 'view') AS source, JSONExtractString(e.context, 'location', 'region') AS province, JSONExtractString(e.context, 'location', 'city') AS city, toUInt64(count()) AS signals
FROM `cdp`.`events` AS e
ARRAY JOIN arrayDistinct(if(e.event = 'video_play', arrayFilter(x -> x != '', [transform(toString(e.topic), d.3, d.4, '')]), arrayFilter((c, p) -> p > 0, d.2, arrayResize(arrayConcat(multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 256, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 511, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 766, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1021, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1276, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1531, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1786, 255))), length(d.1))))) AS c
WHERE e.event IN ('search', 'video_play')
GROUP BY hour, class, source, province, city;

-- chats
INSERT INTO `cdp`.`demand_signals_hourly_rebuild_local` WITH (SELECT (groupArrayIf(term, match = 'text'), groupArrayIf(class, match = 'text'), groupArrayIf(term, match = 'topic'), groupArrayIf(class, match = 'topic')) FROM `cdp`.demand_terms FINAL WHERE deleted = 0) AS d
SELECT toStartOfHour(m.msgtime) AS hour, c AS class, 'chat' AS source, '' AS province, '' AS city, toUInt64(count()) AS signals
FROM (SELECT * FROM `cdp`.`wecom_messages` FINAL) AS m
ARRAY JOIN arrayDistinct(arrayFilter((c, p) -> p > 0, d.2, arrayResize(arrayConcat(multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 256, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 511, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 766, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1021, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1276, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1531, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1786, 255))), length(d.1)))) AS c
WHERE m.action = 'send' AND m.external_userid != '' AND m.`from` = m.external_userid
GROUP BY hour, class, source, province, city;

-- exchange
EXCHANGE TABLES `cdp`.`demand_signals_hourly_rebuild_local` AND `cdp`.`demand_signals_hourly_local`;

-- drop old
DROP TABLE `cdp`.`demand_signals_hourly_rebuild_local`;

-- replicated (once, ON CLUSTER), each node: false
-- drop front
DROP TABLE IF EXISTS `cdp`.`demand_signals_hourly_rebuild` ON CLUSTER `cdp_cluster` SYNC;

-- drop
DROP TABLE IF EXISTS `cdp`.`demand_signals_hourly_rebuild_local` ON CLUSTER `cdp_cluster` SYNC;

-- create
CREATE TABLE IF NOT EXISTS `cdp`.`demand_signals_hourly_rebuild_local` ON CLUSTER `cdp_cluster`
(
    `hour` DateTime('UTC') COMMENT 'Start of the hour (UTC)',
    `class` LowCardinality(String) COMMENT 'Product class from the dictionary',
    `source` LowCardinality(String) COMMENT 'search, view or chat',
    `province` LowCardinality(String) COMMENT 'Province (empty when unknown)',
    `city` LowCardinality(String) COMMENT 'City (empty when unknown)',
    `signals` UInt64 COMMENT 'Records signalling the class'
)
ENGINE = ReplicatedSummingMergeTree('/clickhouse/tables/{uuid}/{shard}', '{replica}', signals)
PARTITION BY toYYYYMM(hour)
ORDER BY (class, source, province, city, hour)
COMMENT 'Demand signals per hour, product class, source (search, view, chat) and region, summed on insert from events and chats; no person ids.';

-- create front
CREATE TABLE IF NOT EXISTS `cdp`.`demand_signals_hourly_rebuild` ON CLUSTER `cdp_cluster` AS `cdp`.`demand_signals_hourly_rebuild_local`
ENGINE = Distributed('cdp_cluster', 'cdp', 'demand_signals_hourly_rebuild_local', cityHash64(class, source, province, city, hour));

-- events
INSERT INTO `cdp`.`demand_signals_hourly_rebuild` SETTINGS distributed_foreground_insert = 1 WITH (SELECT (groupArrayIf(term, match = 'text'), groupArrayIf(class, match = 'text'), groupArrayIf(term, match = 'topic'), groupArrayIf(class, match = 'topic')) FROM `cdp`.demand_terms FINAL WHERE deleted = 0) AS d
SELECT toStartOfHour(e.ts) AS hour, c AS class, if(e.event = 'search', 'search', 'view') AS source, JSONExtractString(e.context, 'location', 'region') AS province, JSONExtractString(e.context, 'location', 'city') AS city, toUInt64(count()) AS signals
FROM `cdp`.`events` AS e
ARRAY JOIN arrayDistinct(if(e.event = 'video_play', arrayFilter(x -> x != '', [transform(toString(e.topic), d.3, d.4, '')]), arrayFilter((c, p) -> p > 0, d.2, arrayResize(arrayConcat(multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 256, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 511, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 766, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1021, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1276, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1531, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(e.keyword, arraySlice(d.1, 1786, 255))), length(d.1))))) AS c
WHERE e.event IN ('search', 'video_play')
GROUP BY hour, class, source, province, city;

-- chats
INSERT INTO `cdp`.`demand_signals_hourly_rebuild` SETTINGS distributed_foreground_insert = 1 WITH (SELECT (groupArrayIf(term, match = 'text'), groupArrayIf(class, match = 'text'), groupArrayIf(term, match = 'topic'), groupArrayIf(class, match = 'topic')) FROM `cdp`.demand_terms FINAL WHERE deleted = 0) AS d
SELECT toStartOfHour(m.msgtime) AS hour, c AS class, 'chat' AS source, '' AS province, '' AS city, toUInt64(count()) AS signals
FROM (SELECT * FROM `cdp`.`wecom_messages` FINAL) AS m
ARRAY JOIN arrayDistinct(arrayFilter((c, p) -> p > 0, d.2, arrayResize(arrayConcat(multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 256, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 511, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 766, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1021, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1276, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1531, 255)), multiSearchAllPositionsCaseInsensitiveUTF8(m.content, arraySlice(d.1, 1786, 255))), length(d.1)))) AS c
WHERE m.action = 'send' AND m.external_userid != '' AND m.`from` = m.external_userid
GROUP BY hour, class, source, province, city;

-- exchange
EXCHANGE TABLES `cdp`.`demand_signals_hourly_rebuild_local` AND `cdp`.`demand_signals_hourly_local` ON CLUSTER `cdp_cluster`;

-- drop old front
DROP TABLE `cdp`.`demand_signals_hourly_rebuild` ON CLUSTER `cdp_cluster` SYNC;

-- drop old
DROP TABLE `cdp`.`demand_signals_hourly_rebuild_local` ON CLUSTER `cdp_cluster` SYNC;

