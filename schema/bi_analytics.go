package schema

import (
	_ "embed"
	"strings"
)

// Migration 13: the analytics definitions (analytics.go) as BI views, and
// the stored person lists that analyses save as segments. Its views are
// frozen as they were first defined (migration13_analytics_views.sql);
// migration 22 replays the current definitions (analyticsViewSteps).

// migration13Views are migration 13's views as first defined, frozen as
// migration 6's are: the customer views then joined the valid orders to
// the customers' first orders, read twice.
//
//go:embed migration13_analytics_views.sql
var migration13Views string

var analyticsSteps = append(frozenBISteps(migration13Views), CreateTable{
	Name:    "segment_lists",
	Comment: "Fixed lists of persons saved from an analysis (a funnel step's converted or dropped people); a segment's rule in_list(\"lst_...\") reads one.",
	Columns: []Column{
		{Name: "list_id", Type: "String"},
		{Name: "origin", Type: "String", Comment: "JSON: the analysis and the part of it the list was saved from"},
		{Name: "members", Type: "AggregateFunction(groupBitmap, UInt32)", Comment: "OneIDs when saved (merged later: read through persons)"},
		{Name: "size", Type: "UInt64"},
		{Name: "created_at", Type: "DateTime64(3, 'UTC')"},
		{Name: "created_by", Type: "String"},
	},
	Engine:  "ReplacingMergeTree(created_at)",
	OrderBy: "list_id",
})

// migration22Views are migration 22's views, frozen as released: the
// customer views read the valid orders once, through CustomerOrders.
//
//go:embed migration22_analytics_views.sql
var migration22Views string

// analyticsViewSteps create or replace the analytics views with their
// current definitions (migration 25: they read with the engine's
// settings, readsAsTheEngine).
func analyticsViewSteps() []Step { return viewSteps(analyticsViews) }

// AnalyticsViewSettings are the settings the analytics engine reads with
// (package analytics: readSettings and joinSidesSetting), carried by the
// analytics views so that a BI tool's query over them runs as the
// engine's does: FINAL deduplicates each partition on its own (every
// version of an order shares its partition), and each join keeps its
// sides as written (the merged persons of the OneID join are hashed, not
// the orders or events: left to choose, ClickHouse's planner estimates
// that side from the whole persons table and hashes the larger one).
// ClickHouse applies a view's SETTINGS when the view is read, also to a
// read-only user (the BI user may not set them itself), and to the
// subqueries inside it (TestBIViewsReadWithTheEngineSettings in
// package analytics). A server that does not know
// query_plan_join_swap_table (the embedded engine, 26.7, does) refuses
// these views, and with them migration 25.
const AnalyticsViewSettings = JoinSidesSetting + " = false, " + FinalPerPartitionSetting + " = 1"

// The two settings the analytics engine reads with and its views carry
// (AnalyticsViewSettings): FINAL per partition, and each join's sides as
// written.
const (
	FinalPerPartitionSetting = "do_not_merge_across_partitions_select_final"
	JoinSidesSetting         = "query_plan_join_swap_table"
)

// readsAsTheEngine wraps a view's query so that it reads with
// AnalyticsViewSettings.
func readsAsTheEngine(query string) string {
	return "SELECT * FROM (" + query + ")\nSETTINGS " + AnalyticsViewSettings
}

// actionsView is the union of ActionSources with the columns BI needs.
func actionsView() string {
	var parts []string
	for _, s := range ActionSources(dbTables) {
		field := func(name, zero string) string {
			if f, ok := s.Fields[name]; ok {
				return f
			}
			return zero
		}
		parts = append(parts, "SELECT "+s.TS+" AS ts, "+BeijingDate(s.TS)+" AS date, "+OneIDOf("a")+
			" AS person_id, '"+s.Kind+"' AS kind, "+s.Name+" AS name, "+s.Channel+" AS channel, "+field("topic", "''")+" AS topic, "+
			field("city", "''")+" AS city, "+field("amount", "0.")+" AS amount\nFROM "+s.Table+" "+OneIDJoin(dbTables, "a")+" WHERE "+s.Where)
	}
	return strings.Join(parts, "\nUNION ALL\n")
}

func lifecycleView() string {
	var parts []string
	for _, a := range []string{AudienceBuyers, AudienceEngaged} {
		for _, u := range []string{PeriodWeek, PeriodMonth} {
			parts = append(parts, "SELECT '"+a+"' AS audience, '"+u+"' AS period_unit, period, state, persons FROM "+Lifecycle(dbTables, a, u))
		}
	}
	return strings.Join(parts, "\nUNION ALL\n")
}

var analyticsViews = []View{
	{
		Name:    "actions",
		Comment: "What funnels read: behaviour events, valid orders, WeCom contact changes and the customer's own WeCom messages, one row each, attributed to OneIDs.",
		Columns: []Column{
			{Name: "ts", Type: "DateTime64(3, 'UTC')", Comment: "When it happened"},
			{Name: "date", Type: "Date", Comment: biDate},
			{Name: "person_id", Type: "UInt32", Comment: "OneID (canonical)"},
			{Name: "kind", Type: "String", Comment: "event, order or wecom"},
			{Name: "name", Type: "String", Comment: "The event name; 'order'; the WeCom change type (add_external_contact, ...) or 'chat'"},
			{Name: "channel", Type: "String", Comment: "The event's source, the order's channel, the contact's State tag; 'wecom' for chats"},
			{Name: "topic", Type: "String", Comment: "Content topic of an event; empty otherwise"},
			{Name: "city", Type: "String", Comment: "City of an order; empty otherwise"},
			{Name: "amount", Type: "Float64", Comment: "Yuan of an order; 0 otherwise"},
		},
		Query: readsAsTheEngine(actionsView()),
	},
	{
		Name:    "customer_cohorts",
		Comment: "One row per customer (OneID with a valid order): the first order, its Beijing month (the cohort), channel and category.",
		Columns: []Column{
			{Name: "person_id", Type: "UInt32", Comment: "OneID (canonical)"},
			{Name: "first_order_at", Type: "DateTime64(3, 'UTC')", Comment: "First valid order"},
			{Name: "first_date", Type: "Date", Comment: biDate + " of the first valid order"},
			{Name: "cohort_month", Type: "Date", Comment: "First day of the month of first_date"},
			{Name: "first_channel", Type: "String", Comment: "Channel of the first valid order"},
			{Name: "first_category", Type: "String", Comment: "Category of the first line of the first valid order"},
		},
		Query: readsAsTheEngine("SELECT * FROM " + CustomerFirsts(dbTables, true)),
	},
	{
		Name:    "customer_months",
		Comment: "One row per customer and calendar month with a valid order: months since the cohort month, orders and spend. Retention and LTV curves read it.",
		Columns: []Column{
			{Name: "person_id", Type: "UInt32", Comment: "OneID (canonical)"},
			{Name: "cohort_month", Type: "Date", Comment: "Month of the customer's first valid order"},
			{Name: "month_index", Type: "UInt32", Comment: "Calendar months since cohort_month (0: the first order's month)"},
			{Name: "orders", Type: "UInt64", Comment: "Valid orders that month"},
			{Name: "spend", Type: "Float64", Comment: "Yuan of those orders"},
			{Name: "first_channel", Type: "String", Comment: "Channel of the customer's first valid order"},
			{Name: "first_category", Type: "String", Comment: "Category of the first line of the customer's first valid order"},
		},
		Query: readsAsTheEngine("SELECT * FROM " + CustomerMonths(dbTables, true)),
	},
	{
		Name:    "repurchases",
		Comment: "One row per customer and purchase kind (rice: categories naming 米, oil: naming 油): the first purchase day and the days until the next.",
		Columns: []Column{
			{Name: "person_id", Type: "UInt32", Comment: "OneID (canonical)"},
			{Name: "kind", Type: "String", Comment: "rice or oil"},
			{Name: "first_date", Type: "Date", Comment: "First Beijing day with a valid order of this kind"},
			{Name: "second_date", Type: "Nullable(Date)", Comment: "The next such day; NULL when none yet"},
			{Name: "days_to_repurchase", Type: "Nullable(UInt32)", Comment: "second_date - first_date; NULL when none yet"},
			{Name: "gaps", Type: "Array(UInt32)", Comment: "Days between consecutive purchase days of this kind"},
			{Name: "first_channel", Type: "String", Comment: "Channel of the customer's first valid order"},
		},
		Query: readsAsTheEngine("SELECT * FROM " + Repurchases(dbTables)),
	},
	{
		Name:    "lifecycle",
		Comment: "Customers per period by lifecycle state: new, returning, resurrecting and dormant, per week (Monday) or month, for buyers (valid orders) and engaged customers (behaviour or their own WeCom messages).",
		Columns: []Column{
			{Name: "audience", Type: "String", Comment: "buyers or engaged"},
			{Name: "period_unit", Type: "String", Comment: "week or month"},
			{Name: "period", Type: "Date", Comment: "First day of the week (Monday) or month, Beijing"},
			{Name: "state", Type: "String", Comment: "new, returning, resurrecting or dormant"},
			{Name: "persons", Type: "UInt64", Comment: "Persons in that state"},
		},
		Query: readsAsTheEngine(lifecycleView()),
	},
}
