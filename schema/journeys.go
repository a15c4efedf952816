package schema

// journeySteps (migration 12) keep multi-step journeys: their state rows
// and immutable versioned definitions, one row per run (a person's pass
// through a journey, its latest state winning by step number), and the
// log of every step a run took. A journey's sends are rows of the send
// log (campaign_sends) and the task journal under step ids
// "<journey>/v<version>/<node>/<entry>".
var journeySteps = []Step{
	CreateTable{
		Name:    "journeys",
		Comment: "Journeys: name, status and current version; every change is a new row, the latest updated_at wins.",
		Columns: []Column{
			{Name: "journey_id", Type: "String"},
			{Name: "name", Type: "String"},
			{Name: "status", Type: "LowCardinality(String)", Comment: "draft, running, paused, stopped"},
			{Name: "version", Type: "UInt32", Comment: "The current definition (journey_versions): new entrants run it"},
			{Name: "launched_at", Type: "DateTime64(3, 'UTC')", Comment: "When it was first launched (0 for a draft)"},
			{Name: "fired_at", Type: "DateTime64(3, 'UTC')", Comment: "The last schedule time (or replenishment round) it entered persons for"},
			{Name: "winners", Type: "String", Comment: "JSON: split node id -> the arm everyone now takes"},
			{Name: "updated_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "by", Type: "String", Comment: "API token id of who made the change"},
		},
		Engine:  "ReplacingMergeTree(updated_at)",
		OrderBy: "journey_id",
	},
	CreateTable{
		Name:    "journey_versions",
		Comment: "Journey definitions; an edit writes a new version and never changes an old one.",
		Columns: []Column{
			{Name: "journey_id", Type: "String"},
			{Name: "version", Type: "UInt32"},
			{Name: "definition", Type: "String", Comment: "JSON: entry, nodes and their edges, settings (exit criteria, re-entry, holdout, caps, quiet hours)"},
			{Name: "created_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "by", Type: "String"},
		},
		Engine:  "ReplacingMergeTree(created_at)",
		OrderBy: "(journey_id, version)",
	},
	CreateTable{
		Name:    "journey_runs",
		Comment: "Journey runs: one per (journey, person, entry); each step writes the run's new state with the next seq, the highest seq wins. Waits keep their timer here.",
		Columns: []Column{
			{Name: "journey_id", Type: "String"},
			{Name: "person_id", Type: "UInt32", Comment: "The canonical person at entry"},
			{Name: "entry", Type: "UInt32", Comment: "The person's n-th run of the journey (1, 2, ...)"},
			{Name: "seq", Type: "UInt32", Comment: "Steps taken: the row version"},
			{Name: "version", Type: "UInt32", Comment: "The definition the run follows"},
			{Name: "node", Type: "String", Comment: "The node the run is at (last node once done)"},
			{Name: "state", Type: "LowCardinality(String)", Comment: "ready (to execute node), waiting, done"},
			{Name: "group", Type: "LowCardinality(String)", Comment: "treatment or holdout (the journey-level holdout: entered, never sent to)"},
			{Name: "entered_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "since", Type: "DateTime64(3, 'UTC')", Comment: "When the current wait began"},
			{Name: "wake_at", Type: "DateTime64(3, 'UTC')", Comment: "When a waiting run wakes (a wait's end, a wait-for's timeout)"},
			{Name: "exit_reason", Type: "LowCardinality(String)", Comment: "done runs: exit node id reached (exit), converted, left_segment, stopped, holdout"},
			{Name: "updated_at", Type: "DateTime64(3, 'UTC')"},
		},
		Indexes: []string{"person_idx person_id TYPE bloom_filter GRANULARITY 4"},
		Engine:  "ReplacingMergeTree(seq)",
		OrderBy: "(journey_id, person_id, entry)",
	},
	CreateTable{
		Name:    "journey_steps",
		Comment: "The steps journey runs took, one row per (run, seq): the node, its type and outcome (sent, excluded:<reason>, waiting, waited, happened, timed_out, yes, no, the split arm, exited).",
		Columns: []Column{
			{Name: "journey_id", Type: "String"},
			{Name: "person_id", Type: "UInt32"},
			{Name: "entry", Type: "UInt32"},
			{Name: "seq", Type: "UInt32"},
			{Name: "version", Type: "UInt32"},
			{Name: "node", Type: "String"},
			{Name: "type", Type: "LowCardinality(String)", Comment: "entry, send, wait, wait_for, branch, split, exit"},
			{Name: "outcome", Type: "LowCardinality(String)"},
			{Name: "detail", Type: "String", Comment: "The entry's cause (segment, event, order, schedule:<time>, replenishment); a send's step id"},
			{Name: "at", Type: "DateTime64(3, 'UTC')"},
		},
		Indexes: []string{"person_idx person_id TYPE bloom_filter GRANULARITY 4"},
		Engine:  "ReplacingMergeTree(at)",
		OrderBy: "(journey_id, person_id, entry, seq)",
	},
}
