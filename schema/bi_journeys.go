package schema

// journeyBISteps (migration 14) are the BI views of journeys: the journeys
// with their current definition, every run in its latest state, and every
// step a run took, persons as OneIDs. Views hold no data; they read the
// tables of migration 12 with their definer's rights, as every BI view.
var journeyBISteps = viewSteps(journeyViews)

const journeyRunsCurrent = "(SELECT * FROM {db}.journey_runs FINAL)"

var journeyViews = []View{
	{
		Name:    "journeys",
		Comment: "Journeys (multi-step automation): one row per journey in its latest state.",
		Columns: []Column{
			{Name: "journey_id", Type: "String", Comment: "The journey (as in the API and the console)"},
			{Name: "name", Type: "String", Comment: "Its name"},
			{Name: "status", Type: "String", Comment: "draft, running, paused, stopped"},
			{Name: "version", Type: "UInt32", Comment: "The current definition: new entrants run it"},
			{Name: "launched_at", Type: "DateTime64(3, 'UTC')", Comment: "When it was first launched (1970 for a draft)"},
			{Name: "updated_at", Type: "DateTime64(3, 'UTC')", Comment: "The last change"},
		},
		Query: "SELECT journey_id, name, toString(status) AS status, version, launched_at, updated_at FROM {db}.journeys FINAL",
	},
	{
		Name:    "journey_runs",
		Comment: "Journey runs: one row per (journey, person, entry) in its latest state; per-node counts of waiting and done runs come from here.",
		Columns: []Column{
			{Name: "journey_id", Type: "String", Comment: "The journey (as in the API and the console)"},
			{Name: "person_id", Type: "UInt32", Comment: "OneID (canonical)"},
			{Name: "entry", Type: "UInt32", Comment: "The person's n-th run of the journey (1, 2, ...)"},
			{Name: "version", Type: "UInt32", Comment: "The definition the run follows"},
			{Name: "node", Type: "String", Comment: "The node the run is at (the last one once done)"},
			{Name: "state", Type: "String", Comment: "ready, waiting or done"},
			{Name: "group", Type: "String", Comment: "treatment or holdout (the journey-level holdout: entered, never sent to)"},
			{Name: "entered_at", Type: "DateTime64(3, 'UTC')", Comment: "When the run entered"},
			{Name: "entered_date", Type: "Date", Comment: biDate + " of entered_at"},
			{Name: "wake_at", Type: "DateTime64(3, 'UTC')", Comment: "When a waiting run wakes (a wait's end, a wait-for's timeout)"},
			{Name: "exit_reason", Type: "String", Comment: "Done runs: the exit node reached, converted, left_segment, stopped or holdout"},
			{Name: "updated_at", Type: "DateTime64(3, 'UTC')", Comment: "The run's last step"},
		},
		Query: "SELECT r.journey_id AS journey_id, " + OneIDOf("r") + " AS person_id, r.entry AS entry, r.version AS version, r.node AS node, " +
			"toString(r.state) AS state, toString(r.group) AS group, r.entered_at AS entered_at, " + BeijingDate("r.entered_at") + " AS entered_date, " +
			"r.wake_at AS wake_at, toString(r.exit_reason) AS exit_reason, r.updated_at AS updated_at\nFROM " + journeyRunsCurrent + " AS r " + OneIDJoin(dbTables, "r"),
	},
	{
		Name:    "journey_steps",
		Comment: "Every step a journey run took, one row per (run, step): the node, its type and outcome.",
		Columns: []Column{
			{Name: "journey_id", Type: "String", Comment: "The journey (as in the API and the console)"},
			{Name: "person_id", Type: "UInt32", Comment: "OneID (canonical)"},
			{Name: "entry", Type: "UInt32", Comment: "The person's n-th run of the journey"},
			{Name: "seq", Type: "UInt32", Comment: "The step's number in the run"},
			{Name: "version", Type: "UInt32", Comment: "The definition the run followed"},
			{Name: "node", Type: "String", Comment: "The node (step) id in the definition"},
			{Name: "type", Type: "String", Comment: "entry, send, wait, wait_for, branch, split or exit"},
			{Name: "outcome", Type: "String", Comment: "sent, excluded:<reason>, waiting, waited, happened, timed_out, yes, no, the split arm, exited"},
			{Name: "detail", Type: "String", Comment: "The entry's cause (segment, event, order, schedule:<time>, replenishment); a send's step id"},
			{Name: "at", Type: "DateTime64(3, 'UTC')", Comment: "When the step was taken"},
			{Name: "date", Type: "Date", Comment: biDate + " of at"},
		},
		Query: "SELECT s.journey_id AS journey_id, " + OneIDOf("s") + " AS person_id, s.entry AS entry, s.seq AS seq, s.version AS version, s.node AS node, " +
			"toString(s.type) AS type, toString(s.outcome) AS outcome, s.detail AS detail, s.at AS at, " + BeijingDate("s.at") + " AS date\nFROM {db}.journey_steps AS s " + OneIDJoin(dbTables, "s"),
	},
}
