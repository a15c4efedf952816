package schema

// segmentTraitSteps (migration 23) keep the segment engine's trait index
// (segments/persist.go) between restarts: the bitmaps and bit-sliced
// indexes it builds from every order, written after each full read with
// the high-water marks of that read, so that a restarted platform loads
// one row and patches the persons changed since instead of aggregating
// every order again (docs/segments.md). The latest row wins; an erasure
// deletes every row (identity.Service.Erase), and the next full read
// writes a new one.
var segmentTraitSteps = []Step{
	CreateTable{
		Name:    "segment_trait_snapshots",
		Comment: "The segment engine's trait index (per-person order facts as bitmaps: ltv, aov, orders, last order, city, province, channels) as of read_at; the latest row wins. Person ids only, no identifiers.",
		Columns: []Column{
			{Name: "slot", Type: "UInt8", Comment: "Always 0: one index per database"},
			{Name: "read_at", Type: "DateTime64(3, 'UTC')", Comment: "When the read it holds began (platform clock)"},
			{Name: "orders_seq", Type: "UInt64", Comment: "The highest orders.spool_seq before the read began"},
			{Name: "persons_version", Type: "UInt64", Comment: "The highest persons.version before the read began"},
			{Name: "format", Type: "UInt16", Comment: "Encoding of snapshot; another format is ignored"},
			{Name: "snapshot", Type: "String", Comment: "The encoded index: roaring bitmaps of person ids"},
		},
		Engine:  "ReplacingMergeTree(read_at)",
		OrderBy: "slot",
	},
}
