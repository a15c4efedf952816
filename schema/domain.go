package schema

import (
	"strings"
	"time"
)

// The domain's rules in SQL, defined once. Every query that needs to know
// who a person is now, whether an order counts, or what the vault holds for
// a phone uses these fragments; testdata/domain.sql holds what they render
// to (TestDomainFragmentsMatchGolden), and the engine checks that the SQL
// and Go forms of a rule agree (TestValidOrderAgreesWithEngine).
//
// Each fragment takes the qualified table it reads: store.DB.Table("persons")
// in code that runs queries, "{db}.persons" in migration templates.

// BeijingName is the IANA name of China Standard Time, the zone of every
// "day" the platform reports (orders per day, quiet hours, BI dates).
const BeijingName = "Asia/Shanghai"

// Beijing is China Standard Time: UTC+8 all year, no daylight saving. A
// fixed zone rather than time.LoadLocation, so the binary needs no tzdata.
var Beijing = time.FixedZone(BeijingName, 8*3600)

// BeijingDate renders the SQL date in Beijing of a DateTime expression.
func BeijingDate(expr string) string {
	return "toDate(" + expr + ", '" + BeijingName + "')"
}

// ValidOrder is the condition on an orders row (its status column) for the
// order to count towards lifetime value, GMV, conversions and order counts:
// it is neither refunded nor cancelled. ValidOrderStatus is the same rule
// in Go.
const ValidOrder = "status NOT IN ('refunded', 'cancelled')"

// ValidOrderOf is ValidOrder on the status column of a table alias
// ("o" gives "o.status NOT IN ...").
func ValidOrderOf(alias string) string {
	return alias + "." + ValidOrder
}

// InvalidOrder is the negation of ValidOrder: refunded or cancelled.
const InvalidOrder = "status IN ('refunded', 'cancelled')"

// ValidOrderStatus reports whether an order of this status counts (see
// ValidOrder).
func ValidOrderStatus(status string) bool {
	return status != "refunded" && status != "cancelled"
}

// Canonical is the person → OneID mapping: a subquery of (person_id,
// canonical), one row per person id ever minted, canonical being the
// person it belongs to after every merge so far (itself when unmerged).
// where, when not empty, narrows the rows (e.g. "canonical IN ?"). Join
// it to any table keyed by person_id to attribute its rows to OneIDs:
//
//	INNER JOIN <Canonical(persons, "")> AS p ON p.person_id = o.person_id
func Canonical(persons, where string) string {
	return "(SELECT person_id, canonical FROM " + persons + " FINAL" + whereClause(where) + ")"
}

// Vault is the phone vault read one way: a subquery of (hash, masked,
// ciphertext), one row per keyed hash, the latest version of each (the
// table is a ReplacingMergeTree(updated_at), so unmerged parts may still
// hold older rows, e.g. a mask written before masks kept four digits).
// where, when not empty, narrows the rows before grouping (e.g.
// "hash IN ?", which reads only the hashes' granules).
func Vault(vault, where string) string {
	return "(SELECT hash, argMax(masked, updated_at) AS masked, argMax(ciphertext, updated_at) AS ciphertext FROM " +
		vault + whereClause(where) + " GROUP BY hash)"
}

func whereClause(where string) string {
	if strings.TrimSpace(where) == "" {
		return ""
	}
	return " WHERE " + where
}
