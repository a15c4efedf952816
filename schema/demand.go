package schema

import (
	"fmt"
	"strings"
)

// Demand sensing (package demand, docs/demand.md). Migration 16 holds the
// keyword → product-class dictionary, the hourly demand signals and the
// materialized views that keep them current as events and chats are
// inserted; migration 17 the demand alerts, the alert delivery journal and
// the BI views.
//
// Behaviour is many immutable rows: it is aggregated on insert into
// demand_signals_hourly (a SummingMergeTree of counts with no person id,
// so an erasure leaves nothing of the person to recover there). Orders are
// few and change after the fact (status versions, refunds, cancellations,
// erasure's anonymisation), so their series is read from the current
// state of orders with ValidOrder (DemandOrders), never materialized.

// Migration 16's materialized views, frozen as released (a released
// migration never changes): the live dictionary as one array of (term,
// class, match) tuples, a scalar subquery evaluated for each inserted
// block, matched by a lambda over every entry for every row. Migration 27
// replaced their queries with DemandEventsSelect and DemandChatsSelect.
const demandTermsArray16 = "(SELECT groupArray((term, class, match)) FROM {db}.demand_terms FINAL WHERE deleted = 0)"

func demandEventsSelect16(src string) string {
	prov, city := DemandRegion("e")
	return "SELECT toStartOfHour(e.ts) AS hour, c AS class, if(e.event = 'search', 'search', 'view') AS source, " +
		prov + " AS province, " + city + " AS city, toUInt64(count()) AS signals\nFROM " + src + " AS e\nARRAY JOIN " +
		"arrayDistinct(arrayMap(t -> t.2, arrayFilter(t -> if(t.3 = 'topic', e.event = 'video_play' AND t.1 = toString(e.topic), " +
		"e.event = 'search' AND positionCaseInsensitiveUTF8(e.keyword, t.1) > 0), " + demandTermsArray16 + ")))" +
		" AS c\nWHERE e.event IN ('search', 'video_play')\nGROUP BY hour, class, source, province, city"
}

func demandChatsSelect16(src string) string {
	return "SELECT toStartOfHour(m.msgtime) AS hour, c AS class, 'chat' AS source, '' AS province, '' AS city, toUInt64(count()) AS signals\nFROM " +
		src + " AS m\nARRAY JOIN arrayDistinct(arrayMap(t -> t.2, arrayFilter(t -> t.3 = 'text' AND positionCaseInsensitiveUTF8(m.content, t.1) > 0, " +
		demandTermsArray16 + "))) AS c\nWHERE " + DemandCustomerChat("m") + "\nGROUP BY hour, class, source, province, city"
}

// DemandMaxTerms bounds the demand dictionary (demand.ValidateTerms): every
// inserted search and chat is matched against it. The materialized views
// search a text for all text terms at once, 255 needles a call (the
// engine's limit for multiSearch functions), in as many calls as this
// bound needs: raising it changes their queries, so it takes a migration.
const DemandMaxTerms = 2000

// demandNeedles is the most needles one multiSearch call takes.
const demandNeedles = 255

// DemandDictionary is the live dictionary as a tuple of four arrays: the
// text terms, their classes, the topic terms and theirs. The materialized
// views name it d (WITH ... AS d) and the engine evaluates it once for
// each inserted block, so a dictionary change applies to rows inserted
// after it (demand.Service.Rebuild re-reads the history). Topic terms are
// unique (the dictionary's key is (match, term)).
const DemandDictionary = "(SELECT (groupArrayIf(term, match = 'text'), groupArrayIf(class, match = 'text'), " +
	"groupArrayIf(term, match = 'topic'), groupArrayIf(class, match = 'topic')) FROM {db}.demand_terms FINAL WHERE deleted = 0)"

// demandTextPositions is, for a text expression, the position of every
// text term of the dictionary d in it, case-insensitive (0: absent), in
// one pass over the text per call of 255 terms.
func demandTextPositions(text, d string) string {
	var b strings.Builder
	// Resized to the terms' count: were the dictionary ever longer than
	// the calls cover, the terms past them would not match, and no insert
	// would fail on arrays of different lengths.
	b.WriteString("arrayResize(arrayConcat(")
	for i := 0; i*demandNeedles < DemandMaxTerms; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "multiSearchAllPositionsCaseInsensitiveUTF8(%s, arraySlice(%s.1, %d, %d))", text, d, 1+i*demandNeedles, demandNeedles)
	}
	b.WriteString("), length(" + d + ".1))")
	return b.String()
}

// DemandEventClasses is the distinct classes an events row of alias e
// signals against the dictionary d (DemandDictionary): a search whose
// keyword contains a text term (case-insensitive), or a video play whose
// topic is a topic term. Migration 16's views matched every entry by a
// lambda per row (demandEventsSelect16): about six times the engine's
// CPU of this form, which searches a keyword for all text terms at once
// and maps a topic with transform.
func DemandEventClasses(e, d string) string {
	return "arrayDistinct(if(" + e + ".event = 'video_play', arrayFilter(x -> x != '', [transform(toString(" + e + ".topic), " + d + ".3, " + d + ".4, '')]), " +
		"arrayFilter((c, p) -> p > 0, " + d + ".2, " + demandTextPositions(e+".keyword", d) + ")))"
}

// DemandChatClasses is the distinct classes a chat text expression
// signals: the text terms of the dictionary d it contains.
func DemandChatClasses(text, d string) string {
	return "arrayDistinct(arrayFilter((c, p) -> p > 0, " + d + ".2, " + demandTextPositions(text, d) + "))"
}

// DemandRegion is the province and city of an events row of alias e: the
// Segment context.location (region is the province), empty when absent.
func DemandRegion(e string) (province, city string) {
	return "JSONExtractString(" + e + ".context, 'location', 'region')", "JSONExtractString(" + e + ".context, 'location', 'city')"
}

// DemandCustomerChat is the condition on a wecom_messages row of alias m
// for a customer's own one-to-one text: what chat keywords are read from.
func DemandCustomerChat(m string) string {
	return m + ".action = 'send' AND " + m + ".external_userid != '' AND " + m + ".`from` = " + m + ".external_userid"
}

// DemandEventsSelect is the aggregation of inserted events (FROM src AS
// e) into demand_signals_hourly rows against the dictionary expression
// dict (DemandDictionary); the rebuild runs it over the table.
func DemandEventsSelect(src, dict string) string {
	prov, city := DemandRegion("e")
	return "WITH " + dict + " AS d\nSELECT toStartOfHour(e.ts) AS hour, c AS class, if(e.event = 'search', 'search', 'view') AS source, " +
		prov + " AS province, " + city + " AS city, toUInt64(count()) AS signals\nFROM " + src + " AS e\nARRAY JOIN " +
		DemandEventClasses("e", "d") + " AS c\nWHERE e.event IN ('search', 'video_play')\nGROUP BY hour, class, source, province, city"
}

// DemandChatsSelect is the aggregation of inserted chat messages (FROM
// src AS m) into demand_signals_hourly rows. Chats carry no location:
// their province and city are empty (the national series).
func DemandChatsSelect(src, dict string) string {
	return "WITH " + dict + " AS d\nSELECT toStartOfHour(m.msgtime) AS hour, c AS class, 'chat' AS source, '' AS province, '' AS city, toUInt64(count()) AS signals\nFROM " +
		src + " AS m\nARRAY JOIN " + DemandChatClasses("m.content", "d") + " AS c\nWHERE " + DemandCustomerChat("m") +
		"\nGROUP BY hour, class, source, province, city"
}

// DemandOrders is a subquery of the valid order lines as demand: hour
// (UTC start), class (the line's category), sku, province, city, units
// (quantity) and amount (yuan), one row per line in its current state.
// since, when not empty, is a condition on o.ordered_at.
func DemandOrders(t Tables, since string) string {
	where := ValidOrderOf("o")
	if since != "" {
		where += " AND " + since
	}
	return "(SELECT toStartOfHour(l.ordered_at) AS hour, toString(l.category) AS class, l.sku AS sku, toString(o.province) AS province, " +
		"toString(o.city) AS city, toFloat64(l.quantity) AS units, toFloat64(l.amount) AS amount\n" +
		"    FROM " + t("order_lines") + " AS l FINAL INNER JOIN (SELECT channel, order_id, status, province, city, ordered_at FROM " + t("orders") +
		" FINAL) AS o ON o.channel = l.channel AND o.order_id = l.order_id\n    WHERE " + where + ")"
}

// materializedView is a materialized view from Source into Target: on a
// cluster it reads the shard-local source table, so that each insert on a
// shard feeds it, and writes to the Distributed target. Query is a
// function of the source table's qualified name. With Local, on a cluster
// it writes to the shard-local target instead: for a target split
// between the shards by the same key as its source, each row is already
// on its shard.
type materializedView struct {
	Name, Source, Target string
	Local                bool
	Query                func(src string) string
}

func (m materializedView) render(t Target) []string {
	target := m.Target
	if m.Local && t.Cluster != "" {
		target += "_local"
	}
	return []string{fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s%s TO %s\nAS %s", t.table(m.Name), t.onCluster(), t.table(target), m.query(t))}
}

// query is the view's SELECT on t: over the shard-local source table on
// a cluster, so that each insert on a shard feeds it.
func (m materializedView) query(t Target) string {
	src := m.Source
	if t.Cluster != "" {
		src += "_local"
	}
	return biTemplate(m.Query(t.table(src)), t)
}

// modifyMaterializedView replaces the query of a materialized view m
// made (ALTER TABLE … MODIFY QUERY: the view keeps feeding its target,
// with no moment between two views when an insert would feed none).
type modifyMaterializedView materializedView

func (m modifyMaterializedView) render(t Target) []string {
	return []string{fmt.Sprintf("ALTER TABLE %s%s MODIFY QUERY\n%s", t.table(m.Name), t.onCluster(), materializedView(m).query(t))}
}

// demandMatchSteps give the demand views the one-pass match
// (DemandEventClasses, DemandChatClasses): migration 27.
var demandMatchSteps = []Step{
	modifyMaterializedView{Name: "demand_signals_events_mv", Source: "events",
		Query: func(src string) string { return DemandEventsSelect(src, DemandDictionary) }},
	modifyMaterializedView{Name: "demand_signals_chats_mv", Source: "wecom_messages",
		Query: func(src string) string { return DemandChatsSelect(src, DemandDictionary) }},
}

var demandSteps = []Step{
	CreateTable{
		Name:    "demand_terms",
		Comment: "The demand dictionary: which search keywords, chat words (match text, contained) and content topics (match topic, equal) signal which product class.",
		Columns: []Column{
			{Name: "term", Type: "String", Comment: "A word contained in a search keyword or chat text, or a content topic"},
			{Name: "match", Type: "LowCardinality(String)", Comment: "text or topic"},
			{Name: "class", Type: "String", Comment: "The product class it signals, e.g. 高油酸花生油"},
			{Name: "deleted", Type: "UInt8", Comment: "1 once removed from the dictionary"},
			{Name: "version", Type: "UInt64", Comment: "Row version (nanoseconds); the latest wins"},
		},
		Engine:  "ReplacingMergeTree(version)",
		OrderBy: "(match, term)",
	},
	CreateTable{
		Name:    "demand_signals_hourly",
		Comment: "Demand signals per hour, product class, source (search, view, chat) and region, summed on insert from events and chats; no person ids.",
		Columns: []Column{
			{Name: "hour", Type: "DateTime('UTC')", Comment: "Start of the hour (UTC)"},
			{Name: "class", Type: "LowCardinality(String)", Comment: "Product class from the dictionary"},
			{Name: "source", Type: "LowCardinality(String)", Comment: "search, view or chat"},
			{Name: "province", Type: "LowCardinality(String)", Comment: "Province (empty when unknown)"},
			{Name: "city", Type: "LowCardinality(String)", Comment: "City (empty when unknown)"},
			{Name: "signals", Type: "UInt64", Comment: "Records signalling the class"},
		},
		Engine:      "SummingMergeTree(signals)",
		PartitionBy: "toYYYYMM(hour)",
		OrderBy:     "(class, source, province, city, hour)",
	},
	materializedView{Name: "demand_signals_events_mv", Source: "events", Target: "demand_signals_hourly",
		Query: demandEventsSelect16},
	materializedView{Name: "demand_signals_chats_mv", Source: "wecom_messages", Target: "demand_signals_hourly",
		Query: demandChatsSelect16},
}

// DemandTerm is one dictionary entry: a term (contained in a search
// keyword or chat text when Match is text, equal to a content topic when
// Match is topic) and the product class it signals.
type DemandTerm struct {
	Term  string `json:"term"`
	Match string `json:"match"`
	Class string `json:"class"`
}

// DefaultDemandTerms is the dictionary a new database starts with: the
// brand's rice and oil classes (as order_lines.category names them) and
// the words customers use for them.
var DefaultDemandTerms = []DemandTerm{
	{"低GI大米", "text", "低GI大米"}, {"低GI", "text", "低GI大米"}, {"控糖", "text", "低GI大米"}, {"糖尿病吃什么米", "text", "低GI大米"},
	{"血糖高吃什么主食", "text", "低GI大米"}, {"低GI", "topic", "低GI大米"}, {"控糖", "topic", "低GI大米"},
	{"五常大米", "text", "五常大米"}, {"五常", "text", "五常大米"}, {"稻花香", "text", "五常大米"}, {"东北大米", "text", "五常大米"},
	{"高油酸花生油", "text", "高油酸花生油"}, {"高油酸", "text", "高油酸花生油"}, {"花生油", "text", "高油酸花生油"},
	{"减脂用什么油", "text", "高油酸花生油"}, {"减脂", "topic", "高油酸花生油"},
	{"小包装油", "text", "小包装油"}, {"婴儿辅食油", "text", "小包装油"}, {"宝宝辅食", "topic", "小包装油"}, {"小瓶油", "text", "小包装油"},
	{"菜籽油", "text", "菜籽油"}, {"玉米油", "text", "玉米油"},
	{"粮油礼盒", "text", "礼盒"}, {"节日礼盒", "topic", "礼盒"},
}

// demandSeed inserts DefaultDemandTerms into an empty dictionary (so a
// replay of the migration, or a dictionary already edited, is left alone).
func demandSeed() Step {
	var b []byte
	b = append(b, "INSERT INTO {db}.demand_terms{local} (term, match, class, deleted, version)\nSELECT t.1, t.2, t.3, 0, 1 FROM system.one ARRAY JOIN ["...)
	for i, d := range DefaultDemandTerms {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, "("+sqlString(d.Term)+", "+sqlString(d.Match)+", "+sqlString(d.Class)+")"...)
	}
	b = append(b, "] AS t\nWHERE (SELECT count() FROM {db}.demand_terms{local}) = 0"...)
	return SQL(b)
}

// demandViews are the BI views of demand sensing (migration 16).
var demandViews = []View{
	{
		Name:    "demand_terms",
		Comment: "The demand dictionary: search and chat words and content topics, and the product class each signals.",
		Columns: []Column{
			{Name: "term", Type: "String", Comment: "The word (contained in a search keyword or chat text) or the content topic"},
			{Name: "match", Type: "String", Comment: "text or topic"},
			{Name: "class", Type: "String", Comment: "The product class it signals"},
		},
		Query: "SELECT term, toString(match) AS match, class FROM {db}.demand_terms FINAL WHERE deleted = 0",
	},
	{
		Name:    "demand_signals_daily",
		Comment: "Demand signals per day, product class, source (search, view, chat) and region: what surge detection reads.",
		Columns: []Column{
			{Name: "date", Type: "Date", Comment: biDate},
			{Name: "class", Type: "String", Comment: "Product class from the dictionary"},
			{Name: "source", Type: "String", Comment: "search (Douyin, mini program), view (content by topic) or chat (WeCom, customers' own texts)"},
			{Name: "province", Type: "String", Comment: "Province (empty when unknown; chats carry none)"},
			{Name: "city", Type: "String", Comment: "City (empty when unknown)"},
			{Name: "signals", Type: "UInt64", Comment: "Records signalling the class"},
		},
		Query: "SELECT " + BeijingDate("hour") + " AS date, toString(class) AS class, toString(source) AS source, toString(province) AS province, " +
			"toString(city) AS city, sum(signals) AS signals FROM {db}.demand_signals_hourly GROUP BY date, class, source, province, city",
	},
	{
		Name:    "demand_orders_daily",
		Comment: "Order demand per day, product class, SKU and region: units and amount of valid order lines.",
		Columns: []Column{
			{Name: "date", Type: "Date", Comment: biDate},
			{Name: "class", Type: "String", Comment: "Product class (the line's category)"},
			{Name: "sku", Type: "String", Comment: "SKU"},
			{Name: "province", Type: "String", Comment: "Province of the order"},
			{Name: "city", Type: "String", Comment: "City of the order"},
			{Name: "units", Type: "Float64", Comment: "Units ordered (sum of quantity)"},
			{Name: "amount", Type: "Float64", Comment: "Amount in yuan"},
			{Name: "lines", Type: "UInt64", Comment: "Order lines"},
		},
		Query: "SELECT " + BeijingDate("hour") + " AS date, class, sku, province, city, sum(units) AS units, sum(amount) AS amount, count() AS lines FROM " +
			DemandOrders(dbTables, "") + " GROUP BY date, class, sku, province, city",
	},
}

// demandAlertSteps (migration 17) are the demand alerts and the journal
// of their delivery to supply systems.
var demandAlertSteps = []Step{
	CreateTable{
		Name:    "demand_alerts",
		Comment: "Demand surge alerts with their evidence, one row per alert id (a series and the window that alarmed).",
		Columns: []Column{
			{Name: "alert_id", Type: "String", Comment: "Stable for a series and window: the idempotency key of its deliveries"},
			{Name: "class", Type: "LowCardinality(String)"},
			{Name: "province", Type: "LowCardinality(String)"},
			{Name: "city", Type: "LowCardinality(String)"},
			{Name: "window_from", Type: "DateTime('UTC')", Comment: "The 24-hour window whose count alarmed"},
			{Name: "window_to", Type: "DateTime('UTC')"},
			{Name: "observed", Type: "Float64"},
			{Name: "expected", Type: "Float64"},
			{Name: "ratio", Type: "Float64"},
			{Name: "q", Type: "Float64", Comment: "Benjamini-Hochberg adjusted p-value"},
			{Name: "evidence", Type: "String", Comment: "JSON: the whole alert (test and neighbouring regions)"},
			{Name: "created_at", Type: "DateTime64(3, 'UTC')"},
		},
		Engine:      "ReplacingMergeTree(created_at)",
		PartitionBy: "toYYYYMM(window_to)",
		OrderBy:     "alert_id",
	},
	CreateTable{
		Name:    "demand_deliveries",
		Comment: "The journal of alert deliveries: one row per (alert, supply system) in its latest state; pending rows are posted (again) until a 2xx answer.",
		Columns: []Column{
			{Name: "alert_id", Type: "String"},
			{Name: "target", Type: "LowCardinality(String)", Comment: "The supply system's configured name (oms, wms, mill, ...)"},
			{Name: "state", Type: "LowCardinality(String)", Comment: "pending, delivered or refused"},
			{Name: "attempts", Type: "UInt32", Comment: "Posts made so far"},
			{Name: "detail", Type: "String", Comment: "The last answer or error"},
			{Name: "updated_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "version", Type: "UInt64", Comment: "Row version (nanoseconds); the latest wins"},
		},
		Engine:  "ReplacingMergeTree(version)",
		OrderBy: "(alert_id, target)",
	},
}

// demandRegressorSteps (migration 21) are the forecast's external
// regressors, imported as CSV (demand.Service.ImportRegressors): one value
// per name, Beijing day, region and class, future days included (a
// planned promotion, a weather forecast). A re-import of a value
// replaces it (the latest version wins), so importing the same file
// twice does not double it.
var demandRegressorSteps = []Step{
	CreateTable{
		Name:    "demand_regressors",
		Comment: "External regressors of the demand forecast (promo, rain_mm, temp_max_c, ...): one value per name, Beijing day, region and class; the latest import of a value wins.",
		Columns: []Column{
			{Name: "name", Type: "LowCardinality(String)", Comment: "The regressor, e.g. promo, rain_mm, temp_max_c"},
			{Name: "date", Type: "Date", Comment: "The Beijing day the value is for (future days: plans and forecasts)"},
			{Name: "province", Type: "LowCardinality(String)", Comment: "Province (empty: the nation)"},
			{Name: "city", Type: "LowCardinality(String)", Comment: "City (empty: the whole province)"},
			{Name: "class", Type: "LowCardinality(String)", Comment: "Product class (empty: every class)"},
			{Name: "value", Type: "Float64"},
			{Name: "imported_by", Type: "String", Comment: "API token id of who imported it"},
			{Name: "imported_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "version", Type: "UInt64", Comment: "Row version (nanoseconds of the import); the latest wins"},
		},
		Engine:  "ReplacingMergeTree(version)",
		OrderBy: "(name, province, city, class, date)",
	},
}

// demandRegressorViews are the BI view of the regressors (migration 21).
var demandRegressorViews = []View{
	{
		Name:    "demand_regressors",
		Comment: "External regressors of the demand forecast (promotions, weather), one value per name, day, region and class, as last imported.",
		Columns: []Column{
			{Name: "name", Type: "String", Comment: "The regressor, e.g. promo, rain_mm, temp_max_c"},
			{Name: "date", Type: "Date", Comment: "Beijing day"},
			{Name: "province", Type: "String", Comment: "Province (empty: the nation)"},
			{Name: "city", Type: "String", Comment: "City (empty: the whole province)"},
			{Name: "class", Type: "String", Comment: "Product class (empty: every class)"},
			{Name: "value", Type: "Float64", Comment: "The value"},
			{Name: "imported_by", Type: "String", Comment: "API token id of who imported it"},
			{Name: "imported_at", Type: "DateTime64(3, 'UTC')", Comment: "When it was imported"},
		},
		Query: "SELECT toString(name) AS name, date, toString(province) AS province, toString(city) AS city, toString(class) AS class, value, imported_by, imported_at " +
			"FROM {db}.demand_regressors FINAL",
	},
}
