package schema

// PersonsByDay is the projection of events holding, per event name, topic
// and UTC day, the bitmap of the person ids of its rows
// (groupBitmapState; person id 0, unresolved, among them). The segment
// engine's existence leaves read the whole days of their window from it
// (segments/sql.go, dayQuery): a 30-day window of one event and topic is
// about 30 rows of it instead of millions of events.
//
// A projection, not a materialized view into a table of its own, because
// the engine keeps it exact: it is built with each inserted part, merged
// with the parts, and rebuilt when a mutation rewrites a part, so the
// re-attribution of an unmerge (ALTER UPDATE person_id) and the deletion
// of an erasure (ALTER DELETE) leave it equal to the rows without any
// bookkeeping of ours (TestPersonsByDayFollowsMutations). A query uses it
// when it filters on event, topic and toDate(ts) only and aggregates
// groupBitmapState(person_id); parts without it yet (before the
// migration's MATERIALIZE has reached them) are read from their rows in
// the same query.
//
// A lightweight DELETE FROM events is refused while the projection exists
// (lightweight_mutation_projection_mode = 'throw'); nothing issues one
// (erasure uses ALTER DELETE).
const PersonsByDay = "persons_by_day"

// personsByDay is migration 26's step.
var personsByDay = AddProjection{
	Table: "events",
	Name:  PersonsByDay,
	Query: "SELECT event, topic, toDate(ts), groupBitmapState(person_id) GROUP BY event, topic, toDate(ts)",
}
