package schema

import (
	_ "embed"
	"fmt"
	"strings"
)

// BIDatabase names the database of BI views for a platform database:
// bi_cdp for cdp. It is a prefix, not a suffix, because ClickHouse's
// wildcard grants match prefixes only: GRANT SELECT ON bi_*.* reaches every
// BI database (the test engine relies on it) and no platform database.
func BIDatabase(platform string) string { return "bi_" + platform }

// View is a BI view: a documented, typed contract over the platform's
// tables. It runs with its definer's rights (SQL SECURITY DEFINER), so a
// BI user granted SELECT on the BI database alone can read it without any
// right on the tables beneath. Column types are part of the contract:
// ClickHouse casts the query's result to them.
type View struct {
	Name    string
	Comment string
	Columns []Column
	// Query is the SELECT; {db} is the platform database and {bi} the BI
	// database.
	Query string
}

func (v View) render(t Target) []string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE OR REPLACE VIEW %s%s\n(\n", quote(BIDatabase(t.Database))+"."+quote(v.Name), t.onCluster())
	for i, c := range v.Columns {
		fmt.Fprintf(&b, "    %s %s COMMENT %s", quote(c.Name), c.Type, sqlString(c.Comment))
		if i < len(v.Columns)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString(")\nDEFINER = CURRENT_USER SQL SECURITY DEFINER\nAS ")
	b.WriteString(biTemplate(v.Query, t))
	b.WriteString("\nCOMMENT " + sqlString(v.Comment))
	return []string{b.String()}
}

// biSQL is a statement template like SQL with {bi} for the BI database.
type biSQL string

func (s biSQL) render(t Target) []string { return []string{biTemplate(string(s), t)} }

func biTemplate(s string, t Target) string {
	return strings.NewReplacer("{bi}", quote(BIDatabase(t.Database)), "{db}", quote(t.Database), "{on_cluster}", t.onCluster()).Replace(s)
}

// BIViews returns the BI views in creation order (a view may read the
// ones before it): those every BI migration replays, then the analytics
// views of migration 13, the journey views of migration 14, the demand
// views of migration 16 and the regressors' of migration 21.
func BIViews() []View {
	return append(append(append(append(append([]View(nil), biViews...), analyticsViews...), journeyViews...), demandViews...), demandRegressorViews...)
}

// migration6BI is migration 6 as released: the BI database and the first
// definitions of its views, rendered once to statement templates ({db},
// {bi}, {on_cluster}) separated by lines of ";;". It is frozen because a
// released migration's DDL must not change (its checksum is recorded);
// the views' current definitions come from the latest migration that
// replays them (biViewSteps).
//
//go:embed migration6_bi.sql
var migration6BI string

// migration10BI is migration 10 as released, frozen as migration 6 is:
// the views with phones masked to their last four digits and the
// platform's engine user as definer.
//
//go:embed migration10_bi.sql
var migration10BI string

// frozenBISteps are the statement templates of a released BI migration.
func frozenBISteps(templates string) []Step {
	var steps []Step
	for _, s := range strings.Split(templates, "\n;;\n") {
		steps = append(steps, biSQL(s))
	}
	return steps
}

// biViewSteps create or replace every BI view with its current definition.
// Views hold no data, so a migration that changes them replays them all:
// on a fresh database the latest such migration leaves the current
// definitions, and an older database gets them from it too.
func biViewSteps() []Step { return viewSteps(biViews) }

// viewSteps are the steps that create or replace views, in order.
func viewSteps(views []View) []Step {
	steps := make([]Step, 0, len(views))
	for _, v := range views {
		steps = append(steps, v)
	}
	return steps
}

// The domain's fragments (domain.go) over the platform database of a
// statement template ({db}), for the BI views and the migrations' views.
var (
	// dbCanonical maps every person id to the OneID it belongs to now.
	dbCanonical = Canonical("{db}.persons", "")
	// dbVault is the phone vault, the latest mask and ciphertext per hash.
	dbVault = Vault("{db}.pii_vault", "")
)

// The BI views' own masks.

const (
	// biMaskPhones masks mainland mobile numbers in free text (a search
	// for one's own number) as the profile shows them, to the last four
	// digits: ingest's token "[phone *******5678 h:<keyed hash>]" loses its
	// hash (BI needs the mask, not a join key), and a number stored before
	// the scrubber existed is masked here.
	biMaskPhones = `replaceRegexpAll(replaceRegexpAll(%s, '\\[phone (\\*{7}[0-9]{4}) h:[0-9a-f]{32}\\]', '\\1'), '1[3-9][0-9]{5}([0-9]{4})', '*******\\1')`
	// biMaskStored brings a mask kept in pii_vault down to the last four
	// digits: numbers ingested before masks kept four were stored as
	// +86 138****5678.
	biMaskStored = `if(%[1]s = '', '', concat('*******', right(%[1]s, 4)))`
)

const biDate = "Day in " + BeijingName

var biViews = []View{
	{
		Name:    "persons",
		Comment: "One row per person (OneID, canonical after merges) with the traits the profile shows. Phones only masked.",
		Columns: []Column{
			{Name: "person_id", Type: "UInt32", Comment: "OneID: the canonical person id (the id in the console and the API)"},
			{Name: "merged_ids", Type: "UInt32", Comment: "Person ids merged into this one, itself included"},
			{Name: "phone_masked", Type: "String", Comment: "Latest linked mobile number, masked to its last four digits (*******5678); empty when none"},
			{Name: "phones", Type: "UInt32", Comment: "Distinct mobile numbers linked"},
			{Name: "city", Type: "String", Comment: "City of the latest order that names one"},
			{Name: "province", Type: "String", Comment: "Province of the latest order that names one"},
			{Name: "city_tier", Type: "UInt8", Comment: "1 (北京 上海 广州 深圳) to 4; 0 when the city is not in the tier table"},
			{Name: "first_seen", Type: "Nullable(DateTime64(3, 'UTC'))", Comment: "First event, order or WeCom contact"},
			{Name: "last_seen", Type: "Nullable(DateTime64(3, 'UTC'))", Comment: "Latest event, order or WeCom contact"},
			{Name: "first_order_channel", Type: "String", Comment: "Channel of the first valid order (tmall, douyin_shop, group_buy, pos, phone, mini_program)"},
			{Name: "first_order_at", Type: "Nullable(DateTime64(3, 'UTC'))", Comment: "First valid (not refunded or cancelled) order"},
			{Name: "last_order_at", Type: "Nullable(DateTime64(3, 'UTC'))", Comment: "Latest valid order"},
			{Name: "orders", Type: "UInt64", Comment: "Valid orders"},
			{Name: "lifetime_value", Type: "Float64", Comment: "Sum of valid orders in yuan (LTV)"},
			{Name: "average_order_value", Type: "Float64", Comment: "lifetime_value / orders; 0 without orders"},
			{Name: "recency_days", Type: "Nullable(Int64)", Comment: "Days since the latest valid order"},
			{Name: "repurchase_interval_days", Type: "Nullable(Float64)", Comment: "Mean days between valid orders (two or more orders)"},
			{Name: "rfm", Type: "String", Comment: "RFM score over 365 days, e.g. 545 (each 1..5, as the profile); empty without orders"},
			{Name: "r", Type: "UInt8", Comment: "Recency score 1..5; 0 without orders"},
			{Name: "f", Type: "UInt8", Comment: "Frequency score 1..5; 0 without orders"},
			{Name: "m", Type: "UInt8", Comment: "Monetary score 1..5; 0 without orders"},
			{Name: "next_rice_purchase", Type: "Nullable(Date)", Comment: "Predicted next rice purchase (median gap, or 21 days after a single one)"},
			{Name: "next_oil_purchase", Type: "Nullable(Date)", Comment: "Predicted next oil purchase (median gap, or 49 days after a single one)"},
			{Name: "acquisition_channel", Type: "String", Comment: "WeCom State channel tag of the first add (the 联系我 QR code)"},
			{Name: "owner_staff", Type: "String", Comment: "WeCom staff member who owns the customer now"},
			{Name: "completed_videos", Type: "UInt64", Comment: "Douyin videos watched to the end"},
			{Name: "topics", Type: "Array(String)", Comment: "Content topics the person engaged with (控糖, 低GI, 减脂, ...)"},
		},
		Query: `SELECT
    c.person_id AS person_id,
    c.merged_ids AS merged_ids,
    ph.phone_masked AS phone_masked,
    ph.phones AS phones,
    g.city AS city,
    g.province AS province,
    transform(g.city, ` + cityTierArrays + `, 0) AS city_tier,
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
FROM (SELECT canonical AS person_id, count() AS merged_ids FROM ` + dbCanonical + ` GROUP BY canonical) AS c
LEFT JOIN {db}.person_traits AS t ON t.person_id = c.person_id
LEFT JOIN {db}.person_rfm AS r ON r.person_id = c.person_id
LEFT JOIN
(
    SELECT person_id, nullIf(maxIf(next_purchase, kind = 'rice'), toDate(0)) AS rice, nullIf(maxIf(next_purchase, kind = 'oil'), toDate(0)) AS oil
    FROM {db}.person_next_purchase GROUP BY person_id
) AS n ON n.person_id = c.person_id
LEFT JOIN
(
    SELECT p.canonical AS person_id,
        argMaxIf(toString(o.city), o.ordered_at, o.city != '') AS city,
        argMaxIf(toString(o.province), o.ordered_at, o.province != '') AS province,
        toString(argMinIf(o.channel, o.ordered_at, ` + ValidOrderOf("o") + `)) AS first_order_channel,
        CAST(minIf(o.ordered_at, ` + ValidOrderOf("o") + `), 'Nullable(DateTime64(3, \'UTC\'))') AS first_order_at_raw,
        if(countIf(` + ValidOrderOf("o") + `) = 0, NULL, first_order_at_raw) AS first_order_at
    FROM {db}.orders AS o FINAL
    INNER JOIN ` + dbCanonical + ` AS p ON p.person_id = o.person_id
    WHERE o.person_id != 0
    GROUP BY p.canonical
) AS g ON g.person_id = c.person_id
LEFT JOIN
(
    SELECT p.canonical AS person_id, ` + fmt.Sprintf(biMaskStored, "argMax(v.masked, l.linked_at)") + ` AS phone_masked, uniqExact(l.id_value) AS phones
    FROM {db}.identity_links AS l FINAL
    INNER JOIN ` + dbVault + ` AS v ON v.hash = l.id_value
    INNER JOIN ` + dbCanonical + ` AS p ON p.person_id = l.person_id
    WHERE l.id_type = 'phone'
    GROUP BY p.canonical
) AS ph ON ph.person_id = c.person_id`,
	},
	{
		Name:    "events",
		Comment: "Behaviour events (Douyin views and searches, app and mini-program events) attributed to canonical persons. No identifiers, no raw JSON.",
		Columns: []Column{
			{Name: "ts", Type: "DateTime64(3, 'UTC')", Comment: "When it happened"},
			{Name: "date", Type: "Date", Comment: biDate},
			{Name: "person_id", Type: "UInt32", Comment: "OneID (canonical)"},
			{Name: "type", Type: "String", Comment: "track, identify, page, screen, group, alias"},
			{Name: "event", Type: "String", Comment: "Event name, e.g. video_complete, video_play, search, like"},
			{Name: "source", Type: "String", Comment: "Source of the write key: douyin, app, mini_program, ..."},
			{Name: "topic", Type: "String", Comment: "Content topic, e.g. 控糖, 低GI, 减脂, 宝宝辅食"},
			{Name: "keyword", Type: "String", Comment: "Search keyword; mobile numbers in it masked"},
			{Name: "completion", Type: "Float32", Comment: "Video completion ratio 0..1"},
		},
		Query: `SELECT e.ts AS ts, ` + BeijingDate("e.ts") + ` AS date, p.canonical AS person_id, toString(e.type) AS type, toString(e.event) AS event,
    toString(e.source) AS source, toString(e.topic) AS topic, ` + fmt.Sprintf(biMaskPhones, "e.keyword") + ` AS keyword, e.completion AS completion
FROM {db}.events AS e
INNER JOIN ` + dbCanonical + ` AS p ON p.person_id = e.person_id
WHERE e.person_id != 0`,
	},
	{
		Name:    "orders",
		Comment: "Orders of every channel in their current state, attributed to canonical persons; person_order_number tells first orders from repurchases.",
		Columns: []Column{
			{Name: "channel", Type: "String", Comment: "tmall, douyin_shop, group_buy, pos, phone, mini_program"},
			{Name: "order_id", Type: "String", Comment: "The channel's order id"},
			{Name: "status", Type: "String", Comment: "created, paid, shipped, completed, refunded, cancelled"},
			{Name: "valid", Type: "UInt8", Comment: "1 unless refunded or cancelled: what LTV, GMV and conversions count"},
			{Name: "ordered_at", Type: "DateTime64(3, 'UTC')", Comment: "When it was ordered"},
			{Name: "date", Type: "Date", Comment: biDate + " of ordered_at"},
			{Name: "amount", Type: "Decimal(18, 2)", Comment: "Order total in yuan"},
			{Name: "province", Type: "String", Comment: "Delivery or store province"},
			{Name: "city", Type: "String", Comment: "Delivery or store city"},
			{Name: "store_id", Type: "String", Comment: "POS store"},
			{Name: "leader_id", Type: "String", Comment: "Community group-buying leader (团长)"},
			{Name: "person_id", Type: "UInt32", Comment: "OneID (canonical); 0 when the buyer is unknown"},
			{Name: "person_order_number", Type: "UInt32", Comment: "1 for the person's first valid order, 2 for the first repurchase, ...; 0 for invalid orders and unknown buyers"},
		},
		Query: `SELECT channel, order_id, status, valid, ordered_at, date, amount, province, city, store_id, leader_id, person_id,
    if(valid AND person_id != 0, toUInt32(row_number() OVER (PARTITION BY person_id, valid ORDER BY ordered_at, channel, order_id)), 0) AS person_order_number
FROM
(
    SELECT toString(o.channel) AS channel, o.order_id AS order_id, toString(o.status) AS status, toUInt8(` + ValidOrderOf("o") + `) AS valid,
        o.ordered_at AS ordered_at, ` + BeijingDate("o.ordered_at") + ` AS date, o.amount AS amount,
        toString(o.province) AS province, toString(o.city) AS city, o.store_id AS store_id, o.leader_id AS leader_id,
        if(o.person_id = 0, 0, p.canonical) AS person_id
    FROM {db}.orders AS o FINAL
    LEFT JOIN ` + dbCanonical + ` AS p ON p.person_id = o.person_id
)`,
	},
	{
		Name:    "order_lines",
		Comment: "Order lines with their order's state, place and canonical buyer, and the pack size read from the product name.",
		Columns: []Column{
			{Name: "channel", Type: "String", Comment: "The order's channel"},
			{Name: "order_id", Type: "String", Comment: "The order"},
			{Name: "line_no", Type: "UInt16", Comment: "Line number in the order"},
			{Name: "sku", Type: "String", Comment: "SKU, e.g. WC-5KG, LGI-0.5-TRIAL, HOPO-5L"},
			{Name: "product_name", Type: "String", Comment: "e.g. 五常大米 5kg"},
			{Name: "category", Type: "String", Comment: "e.g. 低GI大米, 五常大米, 东北大米, 高油酸花生油, 小包装油"},
			{Name: "quantity", Type: "Decimal(12, 3)", Comment: "Units (packs)"},
			{Name: "unit_price", Type: "Decimal(18, 2)", Comment: "Yuan per unit"},
			{Name: "amount", Type: "Decimal(18, 2)", Comment: "Line total in yuan"},
			{Name: "pack_kg", Type: "Float64", Comment: "Rice pack weight in kg read from the product name (5 for 5kg, 0.5 for 500g); 0 when none"},
			{Name: "pack_litres", Type: "Float64", Comment: "Oil pack volume in litres read from the product name (5 for 5L, 0.4 for 400ml); 0 when none"},
			{Name: "status", Type: "String", Comment: "The order's current status"},
			{Name: "valid", Type: "UInt8", Comment: "1 unless the order is refunded or cancelled"},
			{Name: "ordered_at", Type: "DateTime64(3, 'UTC')", Comment: "When the order was placed"},
			{Name: "date", Type: "Date", Comment: biDate + " of ordered_at"},
			{Name: "province", Type: "String", Comment: "The order's province"},
			{Name: "city", Type: "String", Comment: "The order's city"},
			{Name: "person_id", Type: "UInt32", Comment: "OneID (canonical) of the buyer; 0 when unknown"},
		},
		Query: `SELECT toString(l.channel) AS channel, l.order_id AS order_id, l.line_no AS line_no, l.sku AS sku, l.product_name AS product_name,
    toString(l.category) AS category, l.quantity AS quantity, l.unit_price AS unit_price, l.amount AS amount,
    if(kg > 0, kg, grams / 1000) AS pack_kg, if(litres > 0, litres, ml / 1000) AS pack_litres,
    o.status AS status, toUInt8(` + ValidOrderOf("o") + `) AS valid, o.ordered_at AS ordered_at, ` + BeijingDate("o.ordered_at") + ` AS date,
    o.province AS province, o.city AS city, if(o.person_id = 0, 0, p.canonical) AS person_id,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:kg|公斤|千克)')) AS kg,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:g|克)(?:[^a-z]|$)')) AS grams,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:l|升)(?:[^a-z]|$)')) AS litres,
    toFloat64OrZero(extract(l.product_name, '(?i)([0-9]+(?:\\.[0-9]+)?)\\s*(?:ml|毫升)')) AS ml
FROM {db}.order_lines AS l FINAL
INNER JOIN
(
    SELECT channel, order_id, toString(status) AS status, ordered_at, toString(province) AS province, toString(city) AS city, person_id
    FROM {db}.orders FINAL
) AS o ON o.channel = l.channel AND o.order_id = l.order_id
LEFT JOIN ` + dbCanonical + ` AS p ON p.person_id = o.person_id`,
	},
	{
		Name:    "segments",
		Comment: "Current segment definitions with the size of their latest membership snapshot (deleted segments left out).",
		Columns: []Column{
			{Name: "segment_id", Type: "String", Comment: "Segment id (seg_...)"},
			{Name: "name", Type: "String", Comment: "Name, e.g. 高潜控糖人群"},
			{Name: "description", Type: "String", Comment: "What it is for"},
			{Name: "rule", Type: "String", Comment: "The rule in the segment language (docs/segments.md)"},
			{Name: "version", Type: "UInt32", Comment: "Current definition version"},
			{Name: "live", Type: "UInt8", Comment: "1: kept current as records arrive"},
			{Name: "size", Type: "UInt64", Comment: "Members in the latest snapshot (what the console shows)"},
			{Name: "computed_at", Type: "Nullable(DateTime64(3, 'UTC'))", Comment: "When the latest snapshot was taken"},
		},
		Query: `SELECT d.segment_id AS segment_id, d.name AS name, d.description AS description, d.rule AS rule, d.current_version AS version, d.live AS live,
    s.size AS size, if(s.segment_id = '', NULL, s.computed_at) AS computed_at
FROM
(
    SELECT segment_id, argMax(name, version) AS name, argMax(description, version) AS description, argMax(rule, version) AS rule,
        max(version) AS current_version, argMax(live, version) AS live, argMax(deleted, version) AS deleted
    FROM {db}.segments GROUP BY segment_id
) AS d
LEFT JOIN (SELECT segment_id, computed_at, size FROM {db}.segment_members FINAL) AS s ON s.segment_id = d.segment_id
WHERE d.deleted = 0`,
	},
	{
		Name:    "segment_members",
		Comment: "Segment membership, one row per (segment, person), exploded from the latest bitmap snapshot of each segment.",
		Columns: []Column{
			{Name: "segment_id", Type: "String", Comment: "Segment id"},
			{Name: "segment_name", Type: "String", Comment: "Segment name"},
			{Name: "person_id", Type: "UInt32", Comment: "OneID of the member"},
			{Name: "computed_at", Type: "DateTime64(3, 'UTC')", Comment: "When the snapshot was taken"},
		},
		Query: `SELECT segment_id, name AS segment_name, person_id, computed_at FROM {db}.segment_members_current`,
	},
	{
		Name:    "campaigns",
		Comment: "Current campaign definitions with their offer.",
		Columns: []Column{
			{Name: "campaign_id", Type: "String", Comment: "Campaign id"},
			{Name: "name", Type: "String", Comment: "Campaign name"},
			{Name: "status", Type: "String", Comment: "draft, scheduled, running, finished, cancelled"},
			{Name: "channel", Type: "String", Comment: "outbox or wecom"},
			{Name: "segment_id", Type: "String", Comment: "Target segment"},
			{Name: "offer_id", Type: "String", Comment: "Offer"},
			{Name: "offer_name", Type: "String", Comment: "Offer name, e.g. 低GI大米试用装"},
			{Name: "offer_skus", Type: "Array(String)", Comment: "An order line with one of these SKUs converts"},
			{Name: "offer_categories", Type: "Array(String)", Comment: "Or one with one of these categories"},
			{Name: "holdout_percent", Type: "Float64", Comment: "Share of the audience held out to measure uplift"},
			{Name: "attribution_days", Type: "UInt32", Comment: "Days after the send in which a matching order counts"},
			{Name: "launched_at", Type: "Nullable(DateTime64(3, 'UTC'))", Comment: "When it was launched"},
			{Name: "created_by", Type: "String", Comment: "Token id of its author"},
		},
		Query: `SELECT c.campaign_id AS campaign_id, JSONExtractString(c.def, 'name') AS name, c.status AS status,
    JSONExtractString(c.def, 'channel') AS channel, JSONExtractString(c.def, 'segment_id') AS segment_id,
    JSONExtractString(c.def, 'offer_id') AS offer_id, JSONExtractString(o.def, 'name') AS offer_name,
    JSONExtract(o.def, 'skus', 'Array(String)') AS offer_skus, JSONExtract(o.def, 'categories', 'Array(String)') AS offer_categories,
    JSONExtractFloat(c.def, 'holdout_percent') AS holdout_percent,
    if(JSONExtractUInt(c.def, 'attribution_days') = 0, 14, JSONExtractUInt(c.def, 'attribution_days')) AS attribution_days,
    parseDateTime64BestEffortOrNull(JSONExtractString(c.def, 'launched_at'), 3, 'UTC') AS launched_at,
    JSONExtractString(c.def, 'created_by') AS created_by
FROM (SELECT campaign_id, argMax(definition, version) AS def, toString(argMax(status, version)) AS status FROM {db}.campaigns GROUP BY campaign_id) AS c
LEFT JOIN (SELECT offer_id, argMax(definition, version) AS def FROM {db}.offers GROUP BY offer_id) AS o
    ON o.offer_id = JSONExtractString(c.def, 'offer_id')`,
	},
	{
		Name:    "campaign_sends",
		Comment: "The send log: one row per (campaign, person) with its group (treatment, holdout, excluded), exclusion reason and delivery state. No addresses.",
		Columns: []Column{
			{Name: "campaign_id", Type: "String", Comment: "Campaign"},
			{Name: "campaign_name", Type: "String", Comment: "Campaign name"},
			{Name: "person_id", Type: "UInt32", Comment: "OneID planned for"},
			{Name: "group", Type: "String", Comment: "treatment, holdout or excluded"},
			{Name: "reason", Type: "String", Comment: "Why excluded: opted_out, no_sensitive_consent, cap_reached, quiet_hours, no_channel_address, global_control, send_limit, suppressed"},
			{Name: "channel", Type: "String", Comment: "outbox or wecom"},
			{Name: "staff_userid", Type: "String", Comment: "WeCom staff member who sends it"},
			{Name: "state", Type: "String", Comment: "planned, sent, delivered, failed, not_sent"},
			{Name: "planned_at", Type: "DateTime64(3, 'UTC')", Comment: "When it was planned (the start of attribution)"},
			{Name: "date", Type: "Date", Comment: biDate + " of planned_at"},
			{Name: "updated_at", Type: "DateTime64(3, 'UTC')", Comment: "Last state change"},
		},
		Query: `SELECT s.campaign_id AS campaign_id, c.name AS campaign_name, s.person_id AS person_id, toString(s.group) AS group, toString(s.reason) AS reason,
    toString(s.channel) AS channel, toString(s.sender) AS staff_userid, toString(s.state) AS state, s.planned_at AS planned_at,
    ` + BeijingDate("s.planned_at") + ` AS date, s.updated_at AS updated_at
FROM {db}.campaign_sends AS s FINAL
LEFT JOIN (SELECT campaign_id, JSONExtractString(argMax(definition, version), 'name') AS name FROM {db}.campaigns GROUP BY campaign_id) AS c
    ON c.campaign_id = s.campaign_id`,
	},
	{
		// The same count as campaigns.Service.Results: recipients (treatment
		// sent or delivered) and holdout; a conversion is a valid order with
		// a line of the offer's SKUs or categories within attribution_days
		// of planned_at.
		Name:    "campaign_results",
		Comment: "Conversion per campaign, treatment against holdout by intention to treat, counted as the console's results: valid orders with an offer SKU or category within the attribution window, of persons as merged since.",
		Columns: []Column{
			{Name: "campaign_id", Type: "String", Comment: "Campaign"},
			{Name: "campaign_name", Type: "String", Comment: "Campaign name"},
			{Name: "offer_name", Type: "String", Comment: "Offer name"},
			{Name: "attribution_days", Type: "UInt32", Comment: "Attribution window in days"},
			{Name: "treatment_persons", Type: "UInt64", Comment: "Persons assigned to treatment, delivered or not (intention to treat)"},
			{Name: "treatment_converted", Type: "UInt64", Comment: "Treatment persons with a matching order in the window"},
			{Name: "treatment_rate", Type: "Float64", Comment: "treatment_converted / treatment_persons"},
			{Name: "treatment_revenue", Type: "Float64", Comment: "Yuan of matching order lines of treatment persons in the window"},
			{Name: "holdout_persons", Type: "UInt64", Comment: "Held-out persons"},
			{Name: "holdout_converted", Type: "UInt64", Comment: "Held-out persons with a matching order in the window"},
			{Name: "holdout_rate", Type: "Float64", Comment: "holdout_converted / holdout_persons"},
			{Name: "holdout_revenue", Type: "Float64", Comment: "Yuan of matching order lines of held-out persons in the window"},
			{Name: "uplift", Type: "Float64", Comment: "treatment_rate - holdout_rate (the console adds its 95% interval)"},
		},
		Query: `SELECT campaign_id, any(c_name) AS campaign_name, any(o_name) AS offer_name, any(days) AS attribution_days,
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
        FROM {db}.campaign_sends AS x FINAL
        INNER JOIN {bi}.campaigns AS c ON c.campaign_id = x.campaign_id
        LEFT JOIN ` + dbCanonical + ` AS pc ON pc.person_id = x.person_id
        WHERE x.group IN ('treatment', 'holdout')
    ) AS s
    LEFT JOIN
    (
        SELECT p.canonical AS person_id, o.ordered_at AS ordered_at, l.sku AS sku, toString(l.category) AS category, toFloat64(l.amount) AS amount
        FROM {db}.order_lines AS l FINAL
        INNER JOIN (SELECT channel, order_id, person_id, ordered_at FROM {db}.orders FINAL WHERE ` + ValidOrder + `) AS o
            ON o.channel = l.channel AND o.order_id = l.order_id
        INNER JOIN ` + dbCanonical + ` AS p ON p.person_id = o.person_id
    ) AS m ON m.person_id = s.person_id
    GROUP BY s.campaign_id, s.group
)
GROUP BY campaign_id`,
	},
	{
		Name:    "kpi_daily",
		Comment: "Daily KPIs over valid orders: GMV, buyers, new and returning customers, and to date: customers, repeat customers, repurchase rate and average lifetime value.",
		Columns: []Column{
			{Name: "date", Type: "Date", Comment: biDate + " (days without orders have no row)"},
			{Name: "orders", Type: "UInt64", Comment: "Valid orders"},
			{Name: "gmv", Type: "Decimal(38, 2)", Comment: "Yuan of valid orders (order totals)"},
			{Name: "buyers", Type: "UInt64", Comment: "Distinct known buyers"},
			{Name: "new_customers", Type: "UInt64", Comment: "Persons whose first valid order was that day"},
			{Name: "returning_buyers", Type: "UInt64", Comment: "Buyers that day who had ordered before"},
			{Name: "customers_to_date", Type: "UInt64", Comment: "Persons with a valid order up to that day"},
			{Name: "repeat_customers_to_date", Type: "UInt64", Comment: "Persons with two or more valid orders up to that day"},
			{Name: "repurchase_rate", Type: "Float64", Comment: "repeat_customers_to_date / customers_to_date (复购率)"},
			{Name: "average_ltv", Type: "Float64", Comment: "Yuan of known buyers' valid orders to date / customers_to_date; on the last day the mean of persons.lifetime_value over persons with orders"},
		},
		Query: `SELECT date, orders, gmv, buyers, new_customers, returning_buyers,
    sum(new_customers) OVER w AS customers_to_date,
    sum(second_orders) OVER w AS repeat_customers_to_date,
    if(customers_to_date = 0, 0, round(repeat_customers_to_date / customers_to_date, 4)) AS repurchase_rate,
    if(customers_to_date = 0, 0, round(toFloat64(sum(known_gmv) OVER w) / customers_to_date, 2)) AS average_ltv
FROM
(
    SELECT date, count() AS orders, sum(amount) AS gmv, sumIf(amount, person_id != 0) AS known_gmv, uniqExactIf(person_id, person_id != 0) AS buyers,
        countIf(person_order_number = 1) AS new_customers, uniqExactIf(person_id, person_order_number > 1) AS returning_buyers,
        countIf(person_order_number = 2) AS second_orders
    FROM {bi}.orders WHERE valid = 1 GROUP BY date
)
WINDOW w AS (ORDER BY date ASC ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`,
	},
	{
		Name:    "kpi_new_customers_daily",
		Comment: "New customers per day and channel: persons whose first valid order was that day, by that order's channel.",
		Columns: []Column{
			{Name: "date", Type: "Date", Comment: biDate},
			{Name: "channel", Type: "String", Comment: "Channel of the first order"},
			{Name: "city", Type: "String", Comment: "City of the first order"},
			{Name: "new_customers", Type: "UInt64", Comment: "Persons whose first valid order it was"},
			{Name: "first_order_gmv", Type: "Decimal(38, 2)", Comment: "Yuan of those first orders"},
		},
		Query: `SELECT date, channel, city, count() AS new_customers, sum(amount) AS first_order_gmv
FROM {bi}.orders WHERE person_order_number = 1 GROUP BY date, channel, city`,
	},
	{
		Name:    "kpi_gmv_daily",
		Comment: "GMV per day, category and place, from the lines of valid orders.",
		Columns: []Column{
			{Name: "date", Type: "Date", Comment: biDate},
			{Name: "category", Type: "String", Comment: "Product category"},
			{Name: "province", Type: "String", Comment: "Province"},
			{Name: "city", Type: "String", Comment: "City"},
			{Name: "orders", Type: "UInt64", Comment: "Valid orders with a line of the category"},
			{Name: "buyers", Type: "UInt64", Comment: "Distinct known buyers"},
			{Name: "quantity", Type: "Decimal(38, 3)", Comment: "Units sold"},
			{Name: "gmv", Type: "Decimal(38, 2)", Comment: "Yuan of those lines (line totals; order-level discounts and shipping are not in lines)"},
		},
		Query: `SELECT l.date AS date, l.category AS category, l.province AS province, l.city AS city, uniqExact(l.channel, l.order_id) AS orders,
    uniqExactIf(l.person_id, l.person_id != 0) AS buyers, sum(l.quantity) AS quantity, sum(l.amount) AS gmv
FROM {bi}.order_lines AS l WHERE l.valid = 1 GROUP BY date, category, province, city`,
	},
	{
		Name:    "kpi_wecom_contacts_daily",
		Comment: "WeCom contact growth per day, staff member and State channel tag: adds, removals (either side) and net.",
		Columns: []Column{
			{Name: "date", Type: "Date", Comment: biDate},
			{Name: "staff_userid", Type: "String", Comment: "WeCom staff member (follow user)"},
			{Name: "state", Type: "String", Comment: "State channel tag of the QR code the customer added through (removals inherit the add's tag)"},
			{Name: "added", Type: "UInt64", Comment: "Customers who added the staff member (add_external_contact)"},
			{Name: "removed", Type: "UInt64", Comment: "Contacts ended by the staff member (del_external_contact) or the customer (del_follow_user)"},
			{Name: "net", Type: "Int64", Comment: "added - removed"},
		},
		Query: `SELECT ` + BeijingDate("e.ts") + ` AS date, toString(e.staff_userid) AS staff_userid, if(e.state != '', toString(e.state), a.add_state) AS state,
    countIf(e.change_type = 'add_external_contact') AS added,
    countIf(e.change_type IN ('del_external_contact', 'del_follow_user')) AS removed,
    toInt64(added) - toInt64(removed) AS net
FROM {db}.wecom_contact_events AS e FINAL
LEFT JOIN
(
    SELECT external_userid, staff_userid, toString(argMin(state, ts)) AS add_state
    FROM {db}.wecom_contact_events FINAL
    WHERE change_type = 'add_external_contact' AND state != ''
    GROUP BY external_userid, staff_userid
) AS a ON a.external_userid = e.external_userid AND a.staff_userid = e.staff_userid
WHERE e.change_type IN ('add_external_contact', 'del_external_contact', 'del_follow_user')
GROUP BY date, staff_userid, state`,
	},
}

// cityTierArrays is the city tier table (segments.DefaultCityTiers, the
// data generator's cities) as transform()'s two arrays; a test keeps the
// two in step.
var cityTierArrays = func() string {
	tiers := [][]string{
		{"北京", "上海", "广州", "深圳"},
		{"成都", "重庆", "杭州", "武汉", "西安", "苏州", "南京", "天津", "长沙", "郑州", "东莞", "青岛", "沈阳", "宁波", "昆明"},
		{"合肥", "福州", "济南", "哈尔滨", "长春", "石家庄", "南昌", "南宁", "贵阳", "太原", "厦门", "无锡", "佛山", "大连"},
		{"洛阳", "赣州", "绵阳", "潍坊", "岳阳", "襄阳", "桂林", "邯郸", "盐城"},
	}
	var names, nums []string
	for i, cities := range tiers {
		for _, c := range cities {
			names = append(names, sqlString(c))
			nums = append(nums, fmt.Sprint(i+1))
		}
	}
	return "[" + strings.Join(names, ", ") + "], [" + strings.Join(nums, ", ") + "]"
}()
