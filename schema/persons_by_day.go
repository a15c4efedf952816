package schema

// PersonsByDay is the projection of events holding, per event name,
// topic, search keyword and UTC day, the bitmap of the person ids of its
// rows (groupBitmapState; person id 0, unresolved, among them). The
// segment engine's existence leaves read the whole days of their window
// from it (segments/sql.go, dayQuery): a 30-day window of one event and
// topic or keyword is about 30 rows of it instead of millions of events.
// A query that filters on fewer of its keys (the topic only, the keyword
// only, the event only) merges its rows: the keyword is ” on every
// event but searches and the topic ” on searches, so the key adds few
// rows (1,405 rows against 1,274 without the keyword on the 1M-person
// world of BenchmarkFiveClauseRule1M, the same 38 MB).
//
// A projection, not a materialized view into a table of its own, because
// the engine keeps it exact: it is built with each inserted part, merged
// with the parts, and rebuilt when a mutation rewrites a part, so the
// re-attribution of an unmerge (ALTER UPDATE person_id) and the deletion
// of an erasure (ALTER DELETE) leave it equal to the rows without any
// bookkeeping of ours (TestExistenceLeavesReadByDayFollowUnmergeAndErasure).
// A query uses it when it filters on event, topic, keyword and toDate(ts)
// only and aggregates groupBitmapState(person_id); parts without it yet
// (before the migration's MATERIALIZE has reached them) are read from
// their rows in the same query.
//
// A lightweight DELETE FROM events is refused while the projection exists
// (lightweight_mutation_projection_mode = 'throw'); nothing issues one
// (erasure uses ALTER DELETE).
const PersonsByDay = "persons_by_day_keyword"

// personsByDayTopic is migration 26's projection, by event, topic and day,
// which migration 28 replaces with PersonsByDay: one projection built per
// inserted part instead of two.
const personsByDayTopic = "persons_by_day"

// personsByDay is migration 26's step.
var personsByDay = AddProjection{
	Table: "events",
	Name:  personsByDayTopic,
	Query: "SELECT event, topic, toDate(ts), groupBitmapState(person_id) GROUP BY event, topic, toDate(ts)",
}

// personsByDayKeywordSteps are migration 28's: PersonsByDay added and
// materialized (a background mutation), then migration 26's projection
// dropped (it leaves the table's metadata at once, its files with a
// mutation queued after the materialization). Until the materialization
// reaches a part, existence leaves read that part's rows: exact, as slow
// as before migration 26.
var personsByDayKeywordSteps = []Step{
	AddProjection{
		Table: "events",
		Name:  PersonsByDay,
		Query: "SELECT event, topic, keyword, toDate(ts), groupBitmapState(person_id) GROUP BY event, topic, keyword, toDate(ts)",
	},
	DropProjection{Table: "events", Name: personsByDayTopic},
}
