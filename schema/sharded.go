package schema

import "fmt"

// The sharded flavour's placement of tables (Target.Sharded).
//
// ShardKeys lists the fact tables, those that grow with customers and
// their activity, with the expression that picks each row's shard. Every
// other table is small beside them (persons and their canonical mapping,
// identifiers, segments and their bitmaps, offers, campaigns, journeys,
// credentials) and is kept whole on every node, so a query on any shard
// joins it locally and a mutation of it runs on every node's copy.
//
// The keys, and why (docs/scale-out.md):
//   - orders and order_lines: the order, (channel, order_id). Every
//     version of an order lands on one shard, so FINAL (ReplacingMergeTree)
//     sees them all, and an order's lines lie beside their header, so
//     the header-lines join stays on the shard. A person key would not do:
//     a later version of an order may be attributed to another person id
//     (after a merge) and would land elsewhere.
//   - events: the person the row was attributed to at ingest. A person's
//     events mostly share a shard, which keeps each shard's partial
//     aggregates per person small. Correctness never depends on it: a
//     merge changes a person's canonical id without moving rows and an
//     unmerge re-attributes rows in place, so queries group by the
//     canonical id through the persons mapping (on every node) and merge
//     the shards' partial aggregates, and optimize_skip_unused_shards
//     (which would trust the key) stays off. An event without a person
//     (person_id 0: its identifiers were all unusable, like the
//     placeholder "anonymous", or contested, like a shared family phone)
//     is placed by its message id instead: by person_id they would all
//     pile up on one shard. Not by the anonymous id: a usable one would
//     have given the row a person, so what such rows carry there is
//     empty or a placeholder that many rows share. The message id is on
//     every row and fixed by the record, so a retried batch splits as
//     the first try did and each shard's deduplication drops its part.
//   - item_orders: the order, as order_lines, which its materialized view
//     reads on each shard and writes beside them.
//   - wecom_contact_events: the customer, external_userid, a prefix of
//     the sorting key, so FINAL sees every version of a row and a
//     customer's add/delete history is on one shard.
//   - wecom_messages: the message, msgid, its sorting key (FINAL).
var ShardKeys = map[string]string{
	"events":               "if(person_id = 0, cityHash64(message_id), intHash64(person_id))",
	"orders":               "cityHash64(channel, order_id)",
	"order_lines":          "cityHash64(channel, order_id)",
	"item_orders":          "cityHash64(channel, order_id)",
	"wecom_contact_events": "cityHash64(external_userid)",
	"wecom_messages":       "cityHash64(msgid)",
}

// nodeLocal tables are neither split nor copied by the sharded flavour:
// each node has its own, under the plain name. schema_migrations records
// the migrations applied to that node, so a node added later is brought
// to the current schema by MigrateNodes like a new database.
var nodeLocal = map[string]bool{"schema_migrations": true}

// shardedFront is the sharded flavour's Distributed table <name> in front
// of <name>_local: over the cluster with the table's shard key for a
// fact table, over the everywhere cluster otherwise.
func (tb Table) shardedFront(t Target, local string) string {
	cluster, key := EverywhereCluster(t.Cluster), ""
	if k, ok := ShardKeys[tb.Name]; ok {
		cluster, key = t.Cluster, ", "+k
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s AS %s\nENGINE = Distributed(%s, %s, %s%s)",
		t.table(tb.Name), t.table(local), sqlString(cluster), sqlString(t.Database), sqlString(local), key)
}
