package schema

import (
	"strconv"
	"strings"
)

// The analytics definitions (package analytics, docs/analytics.md): who a
// customer is per valid order, their first order and cohort, the months
// since it, repurchase of rice and oil, lifecycle states, and the stream
// of actions funnels read. Each is one SQL text built here and used twice:
// by the analytics engine (over store.DB.Table) and by the BI views of
// migration 13 (over {db}), so a BI query over the views counts what the
// console counts.

// Tables names a qualified table: store.DB.Table in the engine, "{db}."
// + name in a migration template.
type Tables func(name string) string

func dbTables(name string) string { return "{db}." + name }

// The default purchase cycles of rice and oil in days: how long a 5 kg bag
// and a 5 L bottle last a household (the priors person_next_purchase
// uses for a person with a single purchase).
const (
	RiceCycleDays = 21
	OilCycleDays  = 49
)

// PurchaseKind is 'rice', 'oil' or ” for a category expression: rice for
// any category naming 米, oil for one naming 油 (as person_next_purchase).
func PurchaseKind(category string) string {
	return "multiIf(positionUTF8(" + category + ", '米') > 0, 'rice', positionUTF8(" + category + ", '油') > 0, 'oil', '')"
}

// PurchaseKindOf is PurchaseKind in Go, for a category value held in
// memory (an offer's categories): "rice", "oil" or "".
func PurchaseKindOf(category string) string {
	switch {
	case strings.Contains(category, "米"):
		return "rice"
	case strings.Contains(category, "油"):
		return "oil"
	}
	return ""
}

// CityTier is the tier (1-4, 0 unknown) of a city expression, from the
// table the BI persons view uses.
func CityTier(city string) string { return "transform(" + city + ", " + cityTierArrays + ", 0)" }

// OneIDJoin maps rows of alias a keyed by person_id to OneIDs: join it
// after FROM ... AS a and read OneIDOf(a). Only merged persons are joined
// (a few percent), the rest are their own OneID; written with ifNull so
// that it holds under join_use_nulls, which BI drivers may set.
func OneIDJoin(t Tables, a string) string {
	return "LEFT JOIN " + Canonical(t("persons"), "person_id != canonical") + " AS p_" + a + " ON p_" + a + ".person_id = " + a + ".person_id"
}

// OneIDOf is the OneID of alias a's row under OneIDJoin.
func OneIDOf(a string) string {
	return "ifNull(nullIf(p_" + a + ".canonical, 0), " + a + ".person_id)"
}

// ValidOrders is a subquery of the valid orders of known buyers, one row
// per order in its current state: person_id (OneID), channel, order_id,
// ordered_at, date (Beijing), amount (Float64), city. since, when not
// empty, is a condition on o.ordered_at that narrows the read.
func ValidOrders(t Tables, since string) string {
	where := ValidOrderOf("o") + " AND o.person_id != 0"
	if since != "" {
		where += " AND " + since
	}
	return "(SELECT " + OneIDOf("o") + " AS person_id, toString(o.channel) AS channel, o.order_id AS order_id, o.ordered_at AS ordered_at, " +
		BeijingDate("o.ordered_at") + " AS date, toFloat64(o.amount) AS amount, toString(o.city) AS city\n" +
		"    FROM " + t("orders") + " AS o FINAL " + OneIDJoin(t, "o") + "\n    WHERE " + where + ")"
}

// CustomerOrders is a subquery with one row per customer (a OneID with a
// valid order), from one read of ValidOrders grouped by person:
// first_order_at, first_date, cohort_month (the Beijing month of the first
// order), first_channel and first_order (the order_id of the first order,
// the smaller on a tie), months (the calendar months with a valid order,
// sorted: cohort_month first), and, when categories is set,
// first_category (the category of the first order's first line).
// CustomerFirsts reads it, and so does the engine's retention table, which
// needs no join of the orders to the first orders: months holds the
// month_index values of CustomerMonths' rows (as months after
// cohort_month). Columns a query does not read are not computed (the
// first channel and order are the costly ones: strings kept per customer).
func CustomerOrders(t Tables, categories bool) string {
	if categories {
		return "(SELECT c.*, " + firstCategory + " AS first_category FROM " + CustomerOrders(t, false) + " AS c\n" + firstCategoryJoin(t, "c") + ")"
	}
	return "(SELECT person_id, first_order_at, toDate(first_date) AS first_date, toStartOfMonth(first_date) AS cohort_month, first_channel, first_order, months\n" +
		"FROM (SELECT person_id, min(ordered_at) AS first_order_at, argMin(date, ordered_at) AS first_date, " +
		"argMin(channel, (ordered_at, order_id)) AS first_channel, argMin(order_id, (ordered_at, order_id)) AS first_order, " +
		"arraySort(groupUniqArray(toStartOfMonth(date))) AS months\n    FROM " + ValidOrders(t, "") + " GROUP BY person_id))"
}

// firstCategoryJoin joins a customer row of alias c (its first_channel
// and first_order) to the category of its first order's first line, read
// as firstCategory.
func firstCategoryJoin(t Tables, c string) string {
	return "LEFT JOIN (SELECT channel, order_id, argMin(toString(category), line_no) AS category FROM " + t("order_lines") +
		" FINAL GROUP BY channel, order_id) AS l ON l.channel = " + c + ".first_channel AND l.order_id = " + c + ".first_order"
}

// firstCategory is the first line's category under firstCategoryJoin.
const firstCategory = "ifNull(l.category, '')"

// MonthBitsSpan is how many months CustomerMonthBits can tell apart: bit
// i of month_bits is the month i months after its base.
const MonthBitsSpan = 64

// CustomerMonthBits is CustomerOrders for a retention table, with the
// months as bits: one row per customer (a OneID with a valid order):
// first_order_at, cohort_month, first_channel, first_order, month_bits
// (bit i set when the customer has a valid order in the Beijing month i
// months after base, a Date expression of a month's first day; months
// before base and from base + MonthBitsSpan on are not recorded),
// cohort_bit (the cohort month's bit, negative before base) and, when
// categories is set, first_category. It reads the orders once and groups
// them first by the person they were recorded for, so that only those
// groups (fewer than the orders) are mapped to OneIDs and merged; a
// fixed-size state per group (a minimum, a bitwise or) instead of a sorted
// array is what makes it faster than CustomerOrders (docs/analytics.md).
// Its customers and months are CustomerOrders' (TestCustomerOrdersAgreeWithThePlainRows).
func CustomerMonthBits(t Tables, base string, categories bool) string {
	bit := "toInt32(toRelativeMonthNum(" + BeijingDate("o.ordered_at") + ")) - toInt32(toRelativeMonthNum(" + base + "))"
	byRecord := "(SELECT o.person_id AS person_id, min(o.ordered_at) AS first_order_at, min((o.ordered_at, o.order_id)) AS first_key, argMin(toString(o.channel), (o.ordered_at, o.order_id)) AS first_channel, " +
		"groupBitOr(if(" + bit + " BETWEEN 0 AND " + strconv.Itoa(MonthBitsSpan-1) + ", toUInt64(bitShiftLeft(toUInt64(1), toUInt8(" + bit + "))), toUInt64(0))) AS month_bits\n" +
		"    FROM " + t("orders") + " AS o FINAL WHERE " + ValidOrderOf("o") + " AND o.person_id != 0 GROUP BY o.person_id)"
	byOneID := "(SELECT " + OneIDOf("a") + " AS person_id, min(a.first_order_at) AS first_order_at, min(a.first_key) AS first_key, argMin(a.first_channel, a.first_key) AS first_channel, groupBitOr(a.month_bits) AS month_bits\n" +
		"    FROM " + byRecord + " AS a " + OneIDJoin(t, "a") + " GROUP BY person_id)"
	c := "(SELECT person_id, first_order_at, toStartOfMonth(" + BeijingDate("first_order_at") + ") AS cohort_month, first_channel, first_key.2 AS first_order, month_bits,\n" +
		"    toInt32(toRelativeMonthNum(cohort_month)) - toInt32(toRelativeMonthNum(" + base + ")) AS cohort_bit FROM " + byOneID + ")"
	if categories {
		return "(SELECT c.*, " + firstCategory + " AS first_category FROM " + c + " AS c\n" + firstCategoryJoin(t, "c") + ")"
	}
	return c
}

// CustomerFirsts is a subquery with one row per customer (a OneID with a
// valid order): first_order_at, first_date, cohort_month (the Beijing
// month of the first order), first_channel, and, when categories is set,
// first_category (the category of the first order's first line).
func CustomerFirsts(t Tables, categories bool) string {
	cat := ""
	if categories {
		cat = ", f.first_category AS first_category"
	}
	return "(SELECT f.person_id AS person_id, f.first_order_at AS first_order_at, f.first_date AS first_date, f.cohort_month AS cohort_month, " +
		"f.first_channel AS first_channel" + cat + "\nFROM " + CustomerOrders(t, categories) + " AS f)"
}

// CustomerMonths is a subquery with one row per customer and month of
// activity: person_id, cohort_month, month_index (calendar months since
// the cohort month, 0 for it), orders and spend (yuan) of valid orders
// that month, and the customer's first_channel (and first_category when
// categories is set).
func CustomerMonths(t Tables, categories bool) string {
	cat := ""
	if categories {
		cat = ", any(c.first_category) AS first_category"
	}
	return "(SELECT o.person_id AS person_id, any(c.cohort_month) AS cohort_month, " +
		"toUInt32(dateDiff('month', any(c.cohort_month), toStartOfMonth(o.date))) AS month_index, " +
		"count() AS orders, sum(o.amount) AS spend, any(c.first_channel) AS first_channel" + cat + "\n" +
		"FROM " + ValidOrders(t, "") + " AS o\nINNER JOIN " + CustomerFirsts(t, categories) + " AS c ON c.person_id = o.person_id\n" +
		"GROUP BY o.person_id, toStartOfMonth(o.date))"
}

// Repurchases is a subquery with one row per customer and purchase kind
// (rice, oil): person_id, kind, first_date (the first Beijing day with a
// valid order of a line of that kind), second_date (the next such day,
// NULL when none yet), days_to_repurchase (NULL when none), gaps (days
// between consecutive purchase days) and the customer's first_channel.
func Repurchases(t Tables) string {
	return "(SELECT k.person_id AS person_id, k.kind AS kind, k.days[1] AS first_date, " +
		"if(length(k.days) > 1, CAST(k.days[2], 'Nullable(Date)'), NULL) AS second_date, " +
		"if(length(k.days) > 1, toNullable(toUInt32(dateDiff('day', k.days[1], k.days[2]))), NULL) AS days_to_repurchase, " +
		"arrayMap(g -> toUInt32(g), arrayPopFront(arrayDifference(arrayMap(d -> toInt32(d), k.days)))) AS gaps, c.first_channel AS first_channel\n" +
		"FROM (SELECT o.person_id AS person_id, " + PurchaseKind("l.category") + " AS kind, arraySort(groupUniqArray(o.date)) AS days\n" +
		"    FROM " + t("order_lines") + " AS l FINAL\n    INNER JOIN " + ValidOrders(t, "") + " AS o ON o.channel = l.channel AND o.order_id = l.order_id\n" +
		"    WHERE kind != '' GROUP BY person_id, kind) AS k\n" +
		"INNER JOIN " + CustomerFirsts(t, false) + " AS c ON c.person_id = k.person_id)"
}

// Lifecycle audiences and period units.
const (
	AudienceBuyers  = "buyers"
	AudienceEngaged = "engaged"
	PeriodWeek      = "week"
	PeriodMonth     = "month"
)

// activity is a subquery of (person_id, period) for an audience: buyers
// are active in a period with a valid order, engaged customers with a
// behaviour event or a WeCom message of their own.
func activity(t Tables, audience, unit string) string {
	start := func(expr string) string {
		if unit == PeriodWeek {
			return "toMonday(" + BeijingDate(expr) + ")"
		}
		return "toStartOfMonth(" + BeijingDate(expr) + ")"
	}
	if audience == AudienceBuyers {
		return "(SELECT DISTINCT person_id, " + start("ordered_at") + " AS period FROM " + ValidOrders(t, "") + ")"
	}
	return "(SELECT DISTINCT " + OneIDOf("e") + " AS person_id, " + start("e.ts") + " AS period FROM " + t("events") + " AS e " + OneIDJoin(t, "e") +
		" WHERE e.person_id != 0\n    UNION DISTINCT SELECT " + OneIDOf("m") + ", " + start("m.msgtime") + " FROM " + t("wecom_messages_visible") +
		" AS m " + OneIDJoin(t, "m") + " WHERE m.person_id != 0 AND m.external_userid != '' AND m.`from` = m.external_userid)"
}

// Lifecycle is a subquery of (period, state, persons) for an audience
// and a period unit (week starting Monday, or month, in Beijing). In each
// period a person active in it is new (first active period ever),
// returning (also active in the period before) or resurrecting (active
// before, but not in the period before); a person active in the period
// before but not in this one is dormant. Dormant rows run up to the period
// after a person's last activity, so the latest period counts those who
// have not come back yet.
func Lifecycle(t Tables, audience, unit string) string {
	prev, next := "addMonths(x, -1)", "addMonths(x, 1)"
	if unit == PeriodWeek {
		prev, next = "x - 7", "x + 7"
	}
	return "(SELECT s.1 AS period, s.2 AS state, count() AS persons\n" +
		"FROM (SELECT person_id, arraySort(groupArray(period)) AS ps FROM " + activity(t, audience, unit) + " GROUP BY person_id)\n" +
		"ARRAY JOIN arrayConcat(\n" +
		"    arrayMap((x, i) -> (x, multiIf(i = 1, 'new', ps[i - 1] = " + prev + ", 'returning', 'resurrecting')), ps, arrayEnumerate(ps)),\n" +
		"    arrayFilter(y -> y.1 != toDate(0), arrayMap((x, i) -> if(i < length(ps) AND ps[i + 1] = " + next + ", (toDate(0), ''), (" + next + ", 'dormant')), ps, arrayEnumerate(ps)))\n" +
		") AS s\nGROUP BY period, state)"
}

// ActionSource is one table funnels read, as the columns every action
// has: the raw person_id, ts, kind (event, order, wecom), name (the event,
// 'order', the WeCom change type or 'chat') and channel (the event's
// source, the order's channel, the contact's State tag, 'wecom' for chats).
// Table is the FROM clause with its alias a; Where the rows that are
// actions. NameColumn, when set, is the stored column Name reads (a
// condition on it can use the table's sorting key). Fields are the
// filterable columns of the kind, by name.
type ActionSource struct {
	Kind       string
	Table      string
	Where      string
	TS         string
	Name       string
	NameColumn string
	Channel    string
	Fields     map[string]string
}

// ActionSources are the tables funnels read (see ActionSource).
func ActionSources(t Tables) []ActionSource {
	return []ActionSource{
		{Kind: "event", Table: t("events") + " AS a", Where: "a.person_id != 0", TS: "a.ts", Name: "toString(a.event)", NameColumn: "a.event", Channel: "toString(a.source)",
			Fields: map[string]string{"source": "toString(a.source)", "topic": "toString(a.topic)", "keyword": "a.keyword", "completion": "toFloat64(a.completion)"}},
		{Kind: "order", Table: t("orders") + " AS a FINAL", Where: ValidOrderOf("a") + " AND a.person_id != 0", TS: "a.ordered_at", Name: "'order'",
			Channel: "toString(a.channel)", Fields: map[string]string{"channel": "toString(a.channel)", "city": "toString(a.city)",
				"province": "toString(a.province)", "amount": "toFloat64(a.amount)"}},
		{Kind: "wecom", Table: t("wecom_contact_events") + " AS a", Where: "a.person_id != 0", TS: "a.ts", Name: "toString(a.change_type)", NameColumn: "a.change_type",
			Channel: "toString(a.state)", Fields: map[string]string{"state": "toString(a.state)", "staff": "toString(a.staff_userid)"}},
		{Kind: "wecom", Table: t("wecom_messages_visible") + " AS a", Where: "a.person_id != 0 AND a.external_userid != '' AND a.`from` = a.external_userid",
			TS: "a.msgtime", Name: "'chat'", Channel: "'wecom'", Fields: map[string]string{"staff": "toString(a.staff_userid)", "keyword": "a.content"}},
	}
}

// OrderCategories is a subquery of (channel, order_id, categories, skus)
// of order lines, for order filters on what was bought.
func OrderCategories(t Tables) string {
	return "(SELECT channel, order_id, groupUniqArray(toString(category)) AS categories, groupUniqArray(sku) AS skus FROM " +
		t("order_lines") + " FINAL GROUP BY channel, order_id)"
}
