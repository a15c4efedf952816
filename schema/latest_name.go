package schema

// LatestName is the projection of events holding, per person id, the
// latest name an event's traits gave them, and its time, over the rows
// whose traits.name is not empty.
// The campaigns' names read (campaigns/send.go, profiles) reads it by
// person id — the projection's sort key — instead of scanning every
// events row's person_id and traits: events are ordered by (event,
// toDate(ts), ts), so a person's rows are spread over the whole table and
// that scan grew with it.
//
// A projection for the reasons PersonsByDay is one: the engine builds it
// with each inserted part, merges it with the parts and rebuilds it when
// a mutation rewrites a part, so unmerge's re-attribution (ALTER UPDATE
// person_id) and erasure's ALTER DELETE leave it equal to the rows with
// no bookkeeping of ours (TestNamesFollowUnmergeAndErasure). A query uses
// it when it aggregates exactly this expression grouped by person_id and
// filters on person_id only; parts without it yet are read from their
// rows in the same query.
const LatestName = "latest_name"

// LatestNameValue and LatestNameTime are the projection's aggregates:
// the latest name and its time (the epoch and an empty name for a person
// without one). A query must repeat them as written to be answered from
// the projection. The conditions are notEmpty(...), not a comparison with
// the empty string: with the comparison the engine (26.7) no longer
// matched a query's aggregate to the projection's, and read the rows. Two aggregates rather than one
// maxIf((ts, name), ...): the max of a tuple keeps generic states, and a
// read of the projection took about twice as long (10-12 ms against
// 20-31 ms for 60 persons over 2M events in 4 parts).
const (
	LatestNameValue = "argMaxIf(JSONExtractString(traits, 'name'), ts, notEmpty(JSONExtractString(traits, 'name')))"
	LatestNameTime  = "maxIf(ts, notEmpty(JSONExtractString(traits, 'name')))"
)

// The projection keeps the table's granules of 8,192 rows. The engine reads
// a projection only when it reads fewer marks than the table would, and a
// round's few dozen persons are spread over all ids, so each falls in a
// granule of its own: with finer granules (128, 1,024) the fresh small
// parts' projections had more marks than their rows and the engine read
// the events instead (a 3-minute load run; and EXPLAIN on 1.6M events in
// 14 parts: 8,192 chosen with 94 marks, 2,048 with 201, 1,024 refused at
// 259 against the table's 206). At 8,192 a read is about the whole
// projection, a row per person and part, which merges bound.

// latestName is migration 29's step.
var latestName = AddProjection{
	Table: "events",
	Name:  LatestName,
	Query: "SELECT person_id, " + LatestNameValue + ", " + LatestNameTime + " GROUP BY person_id",
}
