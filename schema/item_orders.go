package schema

// itemOrderSteps (migration 24) keep the orders holding each item (a
// category or a SKU) per person, sorted by item and day, so that the
// segment engine's bought() and lapsed() leaves read one item's range
// instead of every order line (docs/segments.md, "Order leaves from
// item_orders").
//
// A materialized view writes, for every inserted order_lines row, one
// row per distinct non-empty item of the line (its category and its
// SKU): (item, ordered_at, channel, order_id, version, person_id). The
// table is a ReplacingMergeTree(version) over (item, day, channel,
// order_id): read with FINAL, each item of an order holds the person of
// the order's latest version that has a line of that item, the person
// order_lines FINAL gives its lines. A version without lines (a status
// change) leaves the rows as they are, as it leaves the lines.
//
// What the view cannot see, and how it is made good:
//   - validity: a refund or cancellation is a later version of orders;
//     readers leave out the currently invalid orders with the same
//     InvalidOrder condition they apply to order_lines;
//   - mutations: identity's Unmerge and Erase rewrite person_id in
//     order_lines by ALTER UPDATE, which no view sees; they run the same
//     action on this table right after, which has every column those
//     actions read (ItemOrders);
//   - a later version that changes the category or SKU of a line
//     (line_no) leaves the row of the old item behind: order_lines FINAL
//     replaces the line, this table keeps both items. Ingest never
//     changes a line's item in practice (a line is a product); the
//     differential test does not either.
//
// The backfill copies the existing lines once, after the view exists
// (rows inserted meanwhile are in both, and the same row twice is one
// after FINAL).
//
// Identity runs on this table every action it runs on order_lines, right
// after it: the table has the columns (person_id, channel, order_id) those
// actions read.
const ItemOrders = "item_orders"

// itemOrdersSelect is the view's query over order lines (FROM src).
func itemOrdersSelect(src string) string {
	return "SELECT item, ordered_at, channel, order_id, version, person_id\nFROM " + src +
		"\nARRAY JOIN arrayDistinct(arrayFilter(x -> x != '', [toString(category), sku])) AS item"
}

var itemOrderSteps = []Step{
	CreateTable{
		Name:    ItemOrders,
		Comment: "The orders holding each item (category or SKU) of their lines, per person, kept from order_lines by a materialized view (item_orders_mv); read with FINAL: the latest version's person. Refunds and cancellations are not applied here (read orders).",
		Columns: []Column{
			{Name: "item", Type: "LowCardinality(String)", Comment: "A category or a SKU of one of the order's lines"},
			{Name: "ordered_at", Type: "DateTime64(3, 'UTC')", Comment: "When the order was placed (fixed per order)"},
			{Name: "channel", Type: "LowCardinality(String)"},
			{Name: "order_id", Type: "String"},
			{Name: "version", Type: "UInt64", Comment: "The order version of the lines; the highest wins"},
			{Name: "person_id", Type: "UInt32", Comment: "The buyer, as on the order's lines (0 when unknown or erased)"},
		},
		Engine:      "ReplacingMergeTree(version)",
		PartitionBy: "toYYYYMM(ordered_at)",
		OrderBy:     "(item, toDate(ordered_at), channel, order_id)",
		ShardBy:     ShardKeys[ItemOrders],
	},
	materializedView{Name: "item_orders_mv", Source: "order_lines", Target: ItemOrders, Local: true, Query: itemOrdersSelect},
	// The lines already there. In the sharded flavour each node copies its
	// own shard's lines into its own table (both are split by the order).
	// Ten years of orders are 120 monthly partitions, over the default
	// bound of 100 per inserted block.
	SQL("INSERT INTO {db}." + ItemOrders + "{local} SETTINGS max_partitions_per_insert_block = 0\n" + itemOrdersSelect("{db}.order_lines{local}")),
}
