package schema

// writeKeyScopeSteps (migration 9) give each write key a scope: client keys
// (shipped in SDKs and mini-programs, public by nature) may send behaviour
// events only; server keys may also send orders and import files. Keys
// that existed before the migration keep what they could do: the column's
// default makes their rows read as server keys without rewriting them. New
// keys always name their scope.
var writeKeyScopeSteps = []Step{
	AddColumn{Table: "write_keys", After: "source", Column: Column{
		Name: "scope", Type: "LowCardinality(String)", Default: "'server'",
		Comment: "client (track, identify, page, screen, group, alias, batch) or server (also orders and file imports); keys older than the scope are server",
	}},
}
