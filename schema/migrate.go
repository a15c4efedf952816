package schema

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Migration is one released schema change. Its steps are idempotent, so a
// migration interrupted half-way is simply applied again.
type Migration struct {
	Version int
	Name    string
	Steps   []Step
}

// Statements renders the migration for a target.
func (m Migration) Statements(t Target) []string {
	var out []string
	for _, s := range m.Steps {
		out = append(out, s.render(t)...)
	}
	return out
}

// Checksum identifies the migration's rendered DDL for a target; a
// recorded checksum that differs means a released migration was edited.
func (m Migration) Checksum(t Target) string {
	h := sha256.Sum256([]byte(strings.Join(m.Statements(t), ";\n")))
	return hex.EncodeToString(h[:8])
}

// Latest is the highest migration version this build knows.
func Latest() int { return all[len(all)-1].Version }

// All returns the migrations in order.
func All() []Migration { return all }

// Bootstrap renders what must exist before migrations are recorded: the
// database and the migrations table.
func Bootstrap(t Target) []string {
	return append([]string{
		fmt.Sprintf("CREATE DATABASE IF NOT EXISTS %s%s", quote(t.Database), t.onCluster()),
	}, CreateTable(migrationsTable).render(t)...)
}

var migrationsTable = Table{
	Name:    "schema_migrations",
	Comment: "Schema migrations applied to this database, one row per version.",
	Columns: []Column{
		{Name: "version", Type: "UInt32"},
		{Name: "name", Type: "String"},
		{Name: "checksum", Type: "String"},
		{Name: "applied_at", Type: "DateTime64(3, 'UTC')"},
	},
	Engine:  "ReplacingMergeTree(applied_at)",
	OrderBy: "version",
}

// Applied is a migration recorded in the database.
type Applied struct {
	Version  int
	Name     string
	Checksum string
}

// AppliedVersions reads the migrations recorded in the database.
func AppliedVersions(ctx context.Context, conn driver.Conn, t Target) (map[int]Applied, error) {
	rows, err := conn.Query(ctx, "SELECT version, name, checksum FROM "+t.table("schema_migrations")+" FINAL")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int]Applied{}
	for rows.Next() {
		var v uint32
		var a Applied
		if err := rows.Scan(&v, &a.Name, &a.Checksum); err != nil {
			return nil, err
		}
		a.Version = int(v)
		out[a.Version] = a
	}
	return out, rows.Err()
}

// Version is the highest applied migration, 0 when none.
func Version(ctx context.Context, conn driver.Conn, t Target) (int, error) {
	var v uint32
	err := conn.QueryRow(ctx, "SELECT max(version) FROM "+t.table("schema_migrations")).Scan(&v)
	return int(v), err
}

// Migrate applies the migrations the database lacks, in order, and returns
// the versions it applied (none when the schema is current). Each statement
// is idempotent, so concurrent or interrupted runs converge.
func Migrate(ctx context.Context, conn driver.Conn, t Target, logger *slog.Logger) ([]int, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	for _, stmt := range Bootstrap(t) {
		if err := conn.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("schema bootstrap: %w\n%s", err, stmt)
		}
	}
	applied, err := AppliedVersions(ctx, conn, t)
	if err != nil {
		return nil, fmt.Errorf("read applied migrations: %w", err)
	}
	var done []int
	for _, m := range all {
		sum := m.Checksum(t)
		if a, ok := applied[m.Version]; ok {
			if a.Checksum != sum {
				logger.Warn("applied migration differs from this build's; released migrations must not be edited",
					"version", m.Version, "name", m.Name, "recorded", a.Checksum, "now", sum)
			}
			continue
		}
		for _, stmt := range m.Statements(t) {
			if err := conn.Exec(ctx, stmt); err != nil {
				return done, fmt.Errorf("migration %d %s: %w\n%s", m.Version, m.Name, err, stmt)
			}
		}
		err := conn.Exec(ctx, "INSERT INTO "+t.table("schema_migrations")+
			" (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)",
			uint32(m.Version), m.Name, sum, time.Now())
		if err != nil {
			return done, fmt.Errorf("record migration %d: %w", m.Version, err)
		}
		logger.Info("migration applied", "version", m.Version, "name", m.Name)
		done = append(done, m.Version)
	}
	return done, nil
}

// MigrateNodes applies the migrations to every node of a sharded cluster
// (Target.Sharded), one after the other: the sharded flavour has no
// distributed DDL, so each node gets the same statements, and each
// records what it applied in its own schema_migrations. A node added to
// the cluster later is migrated like a new database. It returns the
// versions applied on the first node that lacked any.
func MigrateNodes(ctx context.Context, nodes []driver.Conn, t Target, logger *slog.Logger) ([]int, error) {
	var done []int
	for i, conn := range nodes {
		applied, err := Migrate(ctx, conn, t, logger)
		if err != nil {
			return done, fmt.Errorf("node %d: %w", i+1, err)
		}
		if len(done) == 0 {
			done = applied
		}
	}
	return done, nil
}
