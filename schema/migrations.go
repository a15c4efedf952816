package schema

// all is every released migration, in order. Append; never edit.
var all = []Migration{
	{Version: 1, Name: "credentials_and_audit", Steps: []Step{
		CreateTable{
			Name:    "api_tokens",
			Comment: "API tokens for the console and the management API. Only a SHA-256 of each token is stored.",
			Columns: []Column{
				{Name: "id", Type: "String", Comment: "Token id (public, shown in the console)"},
				{Name: "name", Type: "String", Comment: "What the token is for"},
				{Name: "role", Type: "LowCardinality(String)", Comment: "admin, marketer or analyst"},
				{Name: "token_hash", Type: "FixedString(64)", Comment: "Hex SHA-256 of the secret token"},
				{Name: "created_at", Type: "DateTime64(3, 'UTC')"},
				{Name: "created_by", Type: "String"},
				{Name: "revoked", Type: "UInt8", Comment: "1 once revoked"},
				{Name: "version", Type: "UInt64", Comment: "Row version (nanoseconds); the latest wins"},
			},
			Engine:  "ReplacingMergeTree(version)",
			OrderBy: "id",
		},
		CreateTable{
			Name:    "write_keys",
			Comment: "Ingest write keys, one or more per source. Only a SHA-256 of each key is stored.",
			Columns: []Column{
				{Name: "id", Type: "String"},
				{Name: "name", Type: "String"},
				{Name: "source", Type: "LowCardinality(String)", Comment: "The source the key writes as, e.g. douyin, tmall, pos"},
				{Name: "key_hash", Type: "FixedString(64)", Comment: "Hex SHA-256 of the secret key"},
				{Name: "created_at", Type: "DateTime64(3, 'UTC')"},
				{Name: "created_by", Type: "String"},
				{Name: "revoked", Type: "UInt8"},
				{Name: "version", Type: "UInt64"},
			},
			Engine:  "ReplacingMergeTree(version)",
			OrderBy: "id",
		},
		CreateTable{
			Name:    "audit_log",
			Comment: "Management actions: who changed which segment, who launched which campaign.",
			Columns: []Column{
				{Name: "ts", Type: "DateTime64(3, 'UTC')"},
				{Name: "actor", Type: "String", Comment: "Token id of the caller"},
				{Name: "action", Type: "LowCardinality(String)"},
				{Name: "object_type", Type: "LowCardinality(String)"},
				{Name: "object_id", Type: "String"},
				{Name: "detail", Type: "String", Comment: "JSON"},
			},
			Engine:      "MergeTree",
			PartitionBy: "toYYYYMM(ts)",
			OrderBy:     "(ts, object_type, object_id)",
		},
	}},
	{Version: 2, Name: "ingest", Steps: ingestTables},
	{Version: 3, Name: "identity", Steps: identityTables},
	{Version: 4, Name: "segments", Steps: segmentTables},
	{Version: 5, Name: "campaigns", Steps: campaignTables},
	{Version: 6, Name: "bi", Steps: frozenBISteps(migration6BI)},
	{Version: 7, Name: "campaign_channels", Steps: campaignChannelSteps},
	{Version: 8, Name: "consent_evidence", Steps: consentEvidenceSteps},
	{Version: 9, Name: "write_key_scopes", Steps: writeKeyScopeSteps},
	// The BI views again (biViewSteps): phones masked to their last four
	// digits, and DEFINER the platform's engine user (cdp): views an
	// older version made on the embedded engine name `default`, which may
	// no longer read the platform's tables.
	{Version: 10, Name: "bi_views_masks_and_definer", Steps: frozenBISteps(migration10BI)},
	// The BI views again (biViewSteps): each reads the domain's fragments
	// (schema/domain.go), so persons.phone_masked takes the vault's latest
	// mask of a phone (Vault) where it took any one.
	{Version: 11, Name: "bi_views_domain_fragments", Steps: biViewSteps()},
	{Version: 12, Name: "journeys", Steps: journeySteps},
	// The analytics definitions as BI views (bi_analytics.go) and the
	// person lists analyses save as segments.
	{Version: 13, Name: "analytics", Steps: analyticsSteps},
	// BI views of journeys, their runs and steps (bi_journeys.go).
	{Version: 14, Name: "journey_bi_views", Steps: journeyBISteps},
	// WeCom customer tags read and written back (wecom_ops.go).
	{Version: 15, Name: "wecom_tags", Steps: wecomTagSteps},
	// Demand sensing (demand.go): the dictionary, hourly signals summed on
	// insert by materialized views, and their BI views.
	{Version: 16, Name: "demand", Steps: append(append(append([]Step{}, demandSteps...), demandSeed()), viewSteps(demandViews)...)},
	// Demand alerts and the journal of their delivery (demand.go).
	{Version: 17, Name: "demand_alerts", Steps: demandAlertSteps},
	// WeCom channel QR codes, welcome messages, lost customers and
	// transfers (wecom_contact_ways.go).
	{Version: 18, Name: "wecom_contact_ways", Steps: wecomContactWaySteps},
	// WeCom customer groups, their members and group mass messages
	// (wecom_groups.go).
	{Version: 19, Name: "wecom_groups", Steps: wecomGroupSteps},
	// WeCom customer-moment tasks and their results (wecom_moments.go).
	{Version: 20, Name: "wecom_moments", Steps: wecomMomentSteps},
	// The demand forecast's external regressors, imported as CSV, and
	// their BI view (demand.go).
	{Version: 21, Name: "demand_regressors", Steps: append(append([]Step{}, demandRegressorSteps...), viewSteps(demandRegressorViews)...)},
	// The analytics views again (bi_analytics.go): customer_cohorts,
	// customer_months and repurchases read the valid orders once per
	// customer (CustomerOrders) instead of joining them to the first
	// orders computed from a second read.
	{Version: 22, Name: "analytics_views_one_pass", Steps: frozenBISteps(migration22Views)},
	// The segment engine's trait index kept between restarts
	// (segment_traits.go).
	{Version: 23, Name: "segment_trait_snapshots", Steps: segmentTraitSteps},
	// The orders holding each category and SKU, per person, kept from
	// order_lines by a materialized view, for the segment engine's
	// bought() and lapsed() leaves (item_orders.go).
	{Version: 24, Name: "item_orders", Steps: itemOrderSteps},
	// The analytics views again (bi_analytics.go), reading with the
	// analytics engine's settings (AnalyticsViewSettings): a BI tool's
	// join keeps its sides and FINAL merges within partitions.
	{Version: 25, Name: "analytics_views_engine_settings", Steps: analyticsViewSteps()},
	// The persons of each event, topic and UTC day, kept by the engine
	// beside the events (persons_by_day.go), for the segment engine's
	// existence leaves.
	{Version: 26, Name: "events_persons_by_day", Steps: []Step{personsByDay}},
	// The demand views match a row against the dictionary in one pass
	// (demand.go, DemandEventClasses): a keyword searched for all text
	// terms at once, a topic mapped by transform, instead of a lambda over
	// every entry per row.
	{Version: 27, Name: "demand_views_one_pass_match", Steps: demandMatchSteps},
	// The persons of each event, topic, search keyword and UTC day
	// (persons_by_day.go) in place of migration 26's projection, so the
	// existence leaves with a keyword filter are read by day too, and one
	// projection is built per inserted part instead of two.
	{Version: 28, Name: "events_persons_by_day_keyword", Steps: personsByDayKeywordSteps},
	// The latest name trait of each person, kept by the engine beside the
	// events (latest_name.go), for the campaigns' personalised messages.
	{Version: 29, Name: "events_latest_name", Steps: []Step{latestName}},
	// No automatic column statistics on the platform's tables
	// (statistics.go): built in every merge and loaded in every query, for
	// reads that gain nothing from them.
	{Version: 30, Name: "no_auto_statistics", Steps: []Step{noAutoStatistics{Before: 30}}},
}

// Identifier columns shared by the ingest tables: parallel arrays of type
// and value. Phone values are keyed hashes ("h:..."), never numbers.
var identifierColumns = []Column{
	{Name: "id_types", Type: "Array(LowCardinality(String))", Comment: "Identifier types on the record (phone, unionid, douyin_openid, ...)"},
	{Name: "id_values", Type: "Array(String)", Comment: "Identifier values, parallel to id_types; phones as keyed hashes h:..."},
}

func withIDs(cols ...Column) []Column { return append(cols, identifierColumns...) }

var ingestTables = []Step{
	CreateTable{
		Name:    "events",
		Comment: "Behaviour events (Segment-compatible track/page/screen/identify/group/alias) from SDKs, platform exports and collectors. One row per message_id.",
		Columns: withIDs(
			Column{Name: "message_id", Type: "String", Comment: "Client's messageId (or derived): the deduplication key"},
			Column{Name: "type", Type: "LowCardinality(String)", Comment: "track, identify, page, screen, group, alias"},
			Column{Name: "event", Type: "LowCardinality(String)", Comment: "Event name (track) or page/screen name, e.g. video_complete, search"},
			Column{Name: "ts", Type: "DateTime64(3, 'UTC')", Comment: "When it happened (clock-skew corrected)"},
			Column{Name: "received_at", Type: "DateTime64(3, 'UTC')"},
			Column{Name: "source", Type: "LowCardinality(String)", Comment: "Source of the write key, e.g. douyin, app, pos"},
			Column{Name: "person_id", Type: "UInt32", Comment: "OneID person (0 until resolved)"},
			Column{Name: "user_id", Type: "String"},
			Column{Name: "anonymous_id", Type: "String"},
			Column{Name: "properties", Type: "String", Comment: "JSON object; phone-like keys masked"},
			Column{Name: "traits", Type: "String", Comment: "JSON object; phone-like keys masked"},
			Column{Name: "context", Type: "String", Comment: "JSON object"},
			Column{Name: "topic", Type: "LowCardinality(String)", Default: "JSONExtractString(properties, 'topic')", Comment: "Content topic, e.g. 控糖, 低GI, 减脂, 宝宝辅食"},
			Column{Name: "keyword", Type: "String", Default: "JSONExtractString(properties, 'keyword')", Comment: "Search keyword"},
			Column{Name: "completion", Type: "Float32", Default: "JSONExtractFloat(properties, 'completion_ratio')", Comment: "Video completion ratio 0..1"},
			Column{Name: "spool_seq", Type: "UInt64", Comment: "Position in the ingest spool (lineage)"},
		),
		// person_id stays out of the sorting key so that an unmerge can
		// re-attribute events; the skipping index serves per-person reads.
		Indexes:     []string{"person_idx person_id TYPE bloom_filter GRANULARITY 4"},
		Engine:      "MergeTree",
		PartitionBy: "toYYYYMM(ts)",
		OrderBy:     "(event, toDate(ts), ts)",
	},
	CreateTable{
		Name:    "orders",
		Comment: "Orders from every channel; one row per (channel, order_id), the highest version wins (query with FINAL or the orders_current view).",
		Columns: withIDs(
			Column{Name: "channel", Type: "LowCardinality(String)", Comment: "tmall, douyin_shop, group_buy, pos, phone, mini_program"},
			Column{Name: "order_id", Type: "String"},
			Column{Name: "version", Type: "UInt64", Comment: "Status version; the highest wins"},
			Column{Name: "status", Type: "LowCardinality(String)", Comment: "created, paid, shipped, completed, refunded, cancelled"},
			Column{Name: "ordered_at", Type: "DateTime64(3, 'UTC')"},
			Column{Name: "status_at", Type: "DateTime64(3, 'UTC')"},
			Column{Name: "amount", Type: "Decimal(18, 2)", Comment: "Order total in yuan"},
			Column{Name: "currency", Type: "LowCardinality(String)"},
			Column{Name: "province", Type: "LowCardinality(String)"},
			Column{Name: "city", Type: "LowCardinality(String)"},
			Column{Name: "store_id", Type: "String", Comment: "POS store"},
			Column{Name: "leader_id", Type: "String", Comment: "Community group-buying leader (团长)"},
			Column{Name: "person_id", Type: "UInt32"},
			Column{Name: "source", Type: "LowCardinality(String)"},
			Column{Name: "received_at", Type: "DateTime64(3, 'UTC')"},
			Column{Name: "spool_seq", Type: "UInt64"},
		),
		Indexes:     []string{"person_idx person_id TYPE bloom_filter GRANULARITY 4"},
		Engine:      "ReplacingMergeTree(version)",
		PartitionBy: "toYYYYMM(ordered_at)",
		OrderBy:     "(channel, order_id)",
	},
	CreateTable{
		Name:    "order_lines",
		Comment: "Order lines; one row per (channel, order_id, line_no), the highest version wins.",
		Columns: []Column{
			{Name: "channel", Type: "LowCardinality(String)"},
			{Name: "order_id", Type: "String"},
			{Name: "line_no", Type: "UInt16"},
			{Name: "version", Type: "UInt64"},
			{Name: "sku", Type: "String"},
			{Name: "product_name", Type: "String"},
			{Name: "category", Type: "LowCardinality(String)", Comment: "e.g. 低GI大米, 五常大米, 高油酸花生油, 小包装油"},
			{Name: "quantity", Type: "Decimal(12, 3)"},
			{Name: "unit_price", Type: "Decimal(18, 2)"},
			{Name: "amount", Type: "Decimal(18, 2)"},
			{Name: "ordered_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "person_id", Type: "UInt32"},
		},
		Indexes:     []string{"person_idx person_id TYPE bloom_filter GRANULARITY 4"},
		Engine:      "ReplacingMergeTree(version)",
		PartitionBy: "toYYYYMM(ordered_at)",
		OrderBy:     "(channel, order_id, line_no)",
	},
	CreateTable{
		Name:    "wecom_contact_events",
		Comment: "WeCom customer-contact callbacks (change_external_contact): who added or removed whom, and through which State channel tag.",
		Columns: []Column{
			{Name: "dedup_key", Type: "String"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
			{Name: "change_type", Type: "LowCardinality(String)", Comment: "add_external_contact, edit_external_contact, del_external_contact, del_follow_user, ..."},
			{Name: "corp_id", Type: "LowCardinality(String)"},
			{Name: "staff_userid", Type: "LowCardinality(String)", Comment: "The staff member (follow user)"},
			{Name: "external_userid", Type: "String"},
			{Name: "state", Type: "LowCardinality(String)", Comment: "State channel tag of the 联系我 QR code"},
			{Name: "name", Type: "String", Comment: "Customer's WeCom name (from the contact API)"},
			{Name: "unionid", Type: "String"},
			{Name: "person_id", Type: "UInt32"},
			{Name: "received_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "spool_seq", Type: "UInt64"},
		},
		Indexes:     []string{"person_idx person_id TYPE bloom_filter GRANULARITY 4"},
		Engine:      "ReplacingMergeTree",
		PartitionBy: "toYYYYMM(ts)",
		OrderBy:     "(external_userid, staff_userid, ts, dedup_key)",
	},
	CreateTable{
		Name:    "wecom_messages",
		Comment: "WeCom chat-archive messages (decrypted by the customer's archive job), one row per msgid. Recalls are rows with action = 'recall' naming pre_msgid; wecom_messages_visible leaves recalled messages out.",
		Columns: []Column{
			{Name: "msgid", Type: "String"},
			{Name: "action", Type: "LowCardinality(String)", Comment: "send, recall, switch"},
			{Name: "from", Type: "String"},
			{Name: "tolist", Type: "Array(String)"},
			{Name: "roomid", Type: "String"},
			{Name: "msgtime", Type: "DateTime64(3, 'UTC')"},
			{Name: "msgtype", Type: "LowCardinality(String)"},
			{Name: "content", Type: "String", Comment: "Text content (text messages)"},
			{Name: "pre_msgid", Type: "String", Comment: "The recalled message (recall rows)"},
			{Name: "external_userid", Type: "String", Comment: "The customer in a one-to-one chat"},
			{Name: "staff_userid", Type: "LowCardinality(String)"},
			{Name: "person_id", Type: "UInt32"},
			{Name: "body", Type: "String", Comment: "The type's JSON body as archived"},
			{Name: "received_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "spool_seq", Type: "UInt64"},
		},
		Indexes:     []string{"person_idx person_id TYPE bloom_filter GRANULARITY 4"},
		Engine:      "ReplacingMergeTree",
		PartitionBy: "toYYYYMM(msgtime)",
		OrderBy:     "(msgid)",
	},
	SQL(`CREATE VIEW IF NOT EXISTS {db}.wecom_messages_visible{on_cluster} AS
SELECT * FROM {db}.wecom_messages FINAL
WHERE action = 'send' AND msgid NOT IN (SELECT pre_msgid FROM {db}.wecom_messages WHERE action = 'recall')`),
	CreateTable{
		Name:    "pii_vault",
		Comment: "Protected personal identifiers: keyed hash (what other tables store), mask for display, AES-GCM ciphertext for sending. Not readable by BI users.",
		Columns: []Column{
			{Name: "hash", Type: "String"},
			{Name: "type", Type: "LowCardinality(String)"},
			{Name: "masked", Type: "String"},
			{Name: "ciphertext", Type: "String"},
			{Name: "updated_at", Type: "DateTime64(3, 'UTC')"},
		},
		Engine:  "ReplacingMergeTree(updated_at)",
		OrderBy: "hash",
	},
	CreateTable{
		Name:    "ingest_dead_letters",
		Comment: "Records refused by validation, with the reason, kept 30 days for inspection.",
		Columns: []Column{
			{Name: "received_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "source", Type: "LowCardinality(String)"},
			{Name: "endpoint", Type: "LowCardinality(String)"},
			{Name: "position", Type: "UInt32", Comment: "Index in the batch or line number in the file"},
			{Name: "code", Type: "LowCardinality(String)"},
			{Name: "field", Type: "String"},
			{Name: "message", Type: "String"},
			{Name: "payload", Type: "String", Comment: "The refused record, truncated to 32 KB, phone numbers masked"},
		},
		Engine:      "MergeTree",
		PartitionBy: "toYYYYMMDD(received_at)",
		OrderBy:     "(received_at, endpoint)",
		TTL:         "toDateTime(received_at) + INTERVAL 30 DAY",
	},
}

var identityTables = []Step{
	CreateTable{
		Name:    "identity_links",
		Comment: "Which person owns each identifier (the identity graph's edges). Contested identifiers are shared by persons they may not join.",
		Columns: []Column{
			{Name: "id_type", Type: "LowCardinality(String)"},
			{Name: "id_value", Type: "String", Comment: "Phones as keyed hashes h:..."},
			{Name: "person_id", Type: "UInt32", Comment: "The owning person (before merges; see persons.canonical)"},
			{Name: "contested", Type: "UInt8"},
			{Name: "linked_at", Type: "DateTime64(3, 'UTC')", Comment: "Time of the record that linked it"},
			{Name: "ref", Type: "String", Comment: "The record that linked it (e:source:messageId, o:channel:order:version, c:..., m:msgid)"},
			{Name: "version", Type: "UInt64"},
		},
		Engine:  "ReplacingMergeTree(version)",
		OrderBy: "(id_type, id_value)",
	},
	CreateTable{
		Name:    "persons",
		Comment: "Every person id and where merges put it: canonical is the person it belongs to now.",
		Columns: []Column{
			{Name: "person_id", Type: "UInt32"},
			{Name: "parent", Type: "UInt32", Comment: "The person it was merged into (itself when not merged)"},
			{Name: "canonical", Type: "UInt32", Comment: "The root of its merge tree: the OneID to report on"},
			{Name: "version", Type: "UInt64"},
		},
		Engine:  "ReplacingMergeTree(version)",
		OrderBy: "person_id",
	},
	CreateTable{
		Name:    "identity_merges",
		Comment: "Every merge with its evidence (record, identifiers, rule); undone merges are kept with who undid them.",
		Columns: []Column{
			{Name: "merge_id", Type: "UInt64"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
			{Name: "survivor", Type: "UInt32"},
			{Name: "absorbed", Type: "UInt32"},
			{Name: "ref", Type: "String"},
			{Name: "anchor_type", Type: "LowCardinality(String)"},
			{Name: "anchor_value", Type: "String"},
			{Name: "evidence_type", Type: "LowCardinality(String)"},
			{Name: "evidence_value", Type: "String"},
			{Name: "rule", Type: "String"},
			{Name: "undone", Type: "UInt8"},
			{Name: "undone_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "undone_by", Type: "String"},
			{Name: "version", Type: "UInt64"},
		},
		Engine:  "ReplacingMergeTree(version)",
		OrderBy: "merge_id",
	},
	CreateTable{
		Name:    "identity_conflicts",
		Comment: "Links and merges the identity rules refused (shared phones and devices, limits).",
		Columns: []Column{
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
			{Name: "ref", Type: "String"},
			{Name: "id_type", Type: "LowCardinality(String)"},
			{Name: "id_value", Type: "String"},
			{Name: "person_a", Type: "UInt32"},
			{Name: "person_b", Type: "UInt32"},
			{Name: "reason", Type: "String"},
		},
		Engine:      "MergeTree",
		PartitionBy: "toYYYYMM(ts)",
		OrderBy:     "(ts, id_type, id_value)",
	},
	CreateTable{
		Name:    "suppressions",
		Comment: "Identifiers of erased or opted-out persons, as keyed hashes: never targeted again.",
		Columns: []Column{
			{Name: "id_type", Type: "LowCardinality(String)"},
			{Name: "id_hash", Type: "String"},
			{Name: "reason", Type: "LowCardinality(String)", Comment: "erased, opt_out"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
			{Name: "by", Type: "String"},
		},
		Engine:  "ReplacingMergeTree(ts)",
		OrderBy: "(id_type, id_hash)",
	},
	// One row per canonical person: what BI reads for OneID traits. A
	// view, so it is current with every record that arrived.
	SQL(`CREATE OR REPLACE VIEW {db}.person_traits{on_cluster} AS
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
    FROM {db}.events WHERE person_id != 0 GROUP BY person_id
    UNION ALL
    SELECT person_id, min(ordered_at), max(ordered_at), countIf(` + ValidOrder + `),
        sumIf(toFloat64(amount), ` + ValidOrder + `),
        minIf(ordered_at, ` + ValidOrder + `), maxIf(ordered_at, ` + ValidOrder + `), 0, [],
        CAST(NULL, 'Nullable(DateTime64(3, \'UTC\'))'), '', CAST(NULL, 'Nullable(DateTime64(3, \'UTC\'))'), ''
    FROM {db}.orders FINAL WHERE person_id != 0 GROUP BY person_id
    UNION ALL
    SELECT person_id, min(ts), max(ts), 0, 0., CAST(NULL, 'Nullable(DateTime64(3, \'UTC\'))'), CAST(NULL, 'Nullable(DateTime64(3, \'UTC\'))'), 0, [],
        minIf(ts, change_type = 'add_external_contact'), toString(argMinIf(state, ts, change_type = 'add_external_contact')),
        maxIf(ts, change_type IN ('add_external_contact', 'edit_external_contact')),
        toString(argMaxIf(staff_userid, ts, change_type IN ('add_external_contact', 'edit_external_contact')))
    FROM {db}.wecom_contact_events WHERE person_id != 0 GROUP BY person_id
) AS t
INNER JOIN ` + dbCanonical + ` AS p ON p.person_id = t.person_id
GROUP BY p.canonical`),
	// RFM over the last 365 days, with the thresholds the profile API uses
	// (docs/identity.md).
	SQL(`CREATE OR REPLACE VIEW {db}.person_rfm{on_cluster} AS
SELECT
    p.canonical AS person_id,
    intDiv(dateDiff('second', max(o.ordered_at), now64(3)), 86400) AS recency_days,
    countIf(o.ordered_at >= now64(3) - INTERVAL 365 DAY) AS orders_365d,
    round(sumIf(toFloat64(o.amount), o.ordered_at >= now64(3) - INTERVAL 365 DAY), 2) AS spend_365d,
    1 + (recency_days <= 180) + (recency_days <= 90) + (recency_days <= 60) + (recency_days <= 30) AS r,
    1 + (orders_365d >= 2) + (orders_365d >= 3) + (orders_365d >= 5) + (orders_365d >= 8) AS f,
    1 + (spend_365d >= 100) + (spend_365d >= 200) + (spend_365d >= 500) + (spend_365d >= 1000) AS m,
    concat(toString(r), toString(f), toString(m)) AS rfm
FROM {db}.orders AS o FINAL
INNER JOIN ` + dbCanonical + ` AS p ON p.person_id = o.person_id
WHERE ` + ValidOrderOf("o") + ` AND o.person_id != 0
GROUP BY p.canonical`),
	// Predicted next purchase of rice and of oil: the last purchase day plus
	// the person's median gap between purchase days (the upper median, as
	// the profile API takes it), or the priors of 21 and 49 days.
	SQL(`CREATE OR REPLACE VIEW {db}.person_next_purchase{on_cluster} AS
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
    FROM {db}.order_lines AS l FINAL
    INNER JOIN (SELECT channel, order_id, person_id FROM {db}.orders FINAL WHERE ` + ValidOrder + `) AS o
        ON o.channel = l.channel AND o.order_id = l.order_id
    INNER JOIN ` + dbCanonical + ` AS p ON p.person_id = o.person_id
    WHERE o.person_id != 0
    GROUP BY person_id, kind
)
WHERE kind != ''`),
}

var segmentTables = []Step{
	CreateTable{
		Name:    "person_tags",
		Comment: "Tags on persons (manual, imported or from rules); the latest row per (person, tag) wins.",
		Columns: []Column{
			{Name: "person_id", Type: "UInt32"},
			{Name: "tag", Type: "LowCardinality(String)", Comment: "e.g. 控糖, 高端用户"},
			{Name: "source", Type: "LowCardinality(String)", Comment: "manual, import, wecom, rule"},
			{Name: "sensitive", Type: "UInt8", Comment: "Health-interest tags (PIPL art. 28): usable in campaigns only with consent"},
			{Name: "deleted", Type: "UInt8"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
		},
		Engine:  "ReplacingMergeTree(ts)",
		OrderBy: "(tag, person_id)",
	},
	CreateTable{
		Name:    "segments",
		Comment: "Segment definitions; every edit is a new version (the highest is current).",
		Columns: []Column{
			{Name: "segment_id", Type: "String"},
			{Name: "version", Type: "UInt32"},
			{Name: "name", Type: "String"},
			{Name: "description", Type: "String"},
			{Name: "rule", Type: "String", Comment: "The rule in the segment language (expr)"},
			{Name: "live", Type: "UInt8", Comment: "Kept current as records arrive"},
			{Name: "deleted", Type: "UInt8"},
			{Name: "created_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "created_by", Type: "String"},
		},
		Engine:  "ReplacingMergeTree(version)",
		OrderBy: "(segment_id, version)",
	},
	CreateTable{
		Name:    "segment_members",
		Comment: "Segment membership snapshots as bitmaps of person ids (groupBitmap state); the latest computed_at per segment is current. BI: bitmapToArray(m) or the segment_members_current view.",
		Columns: []Column{
			{Name: "segment_id", Type: "String"},
			{Name: "version", Type: "UInt32"},
			{Name: "computed_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "members", Type: "AggregateFunction(groupBitmap, UInt32)"},
			{Name: "size", Type: "UInt64"},
		},
		Engine:  "ReplacingMergeTree(computed_at)",
		OrderBy: "segment_id",
	},
	CreateTable{
		Name:    "segment_changes",
		Comment: "Entries into and exits from segments, as they happened (live updates, recomputes, window expiry).",
		Columns: []Column{
			{Name: "segment_id", Type: "String"},
			{Name: "person_id", Type: "UInt32"},
			{Name: "change", Type: "Enum8('enter' = 1, 'exit' = 2)"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
		},
		Indexes:     []string{"person_idx person_id TYPE bloom_filter GRANULARITY 4"},
		Engine:      "MergeTree",
		PartitionBy: "toYYYYMM(ts)",
		OrderBy:     "(segment_id, ts)",
	},
	SQL(`CREATE OR REPLACE VIEW {db}.segment_members_current{on_cluster} AS
SELECT s.segment_id AS segment_id, d.name AS name, arrayJoin(bitmapToArray(s.members)) AS person_id, s.computed_at AS computed_at
FROM {db}.segment_members AS s FINAL
INNER JOIN (SELECT segment_id, argMax(name, version) AS name, argMax(deleted, version) AS deleted FROM {db}.segments GROUP BY segment_id) AS d
    ON d.segment_id = s.segment_id
WHERE d.deleted = 0`),
}
