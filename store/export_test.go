//go:build linux

package store

// LetOneCredentiallessQueryIn raises the quota of the engine's built-in
// user by one query, as if a client had got a query in before the startup
// query counted (or the quota's interval ended): tests use it to stop the
// listeners the way an attacker would.
func LetOneCredentiallessQueryIn(o *EngineOptions) { o.defaultQueries = startupQueries + 1 }
