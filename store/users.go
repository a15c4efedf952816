package store

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// BIUser is the read-only ClickHouse user that BI tools (Superset,
// Metabase, Grafana, DataEase) sign in with on the embedded engine. It may
// SELECT from its databases (the BI views) and nothing else: no platform
// table, no file(), url() or remote(), no DDL, no INSERT.
type BIUser struct {
	Name     string
	Password string
	// Databases it may SELECT from. A name ending in * is a prefix
	// (ClickHouse wildcard grant): the test engine grants bi_* so that
	// every test's BI database is readable and no platform database is.
	Databases []string
	Limits    BILimits
}

// BILimits bound what one BI user can cost the engine that also serves
// ingest and segments.
type BILimits struct {
	// MaxExecutionTime stops one query; dashboards may ask for less.
	MaxExecutionTime time.Duration
	// MaxResultRows stops a query whose result has more rows (an export
	// of a million members is the API's job, not a dashboard's).
	MaxResultRows uint64
	// MaxMemoryBytes bounds one query's memory.
	MaxMemoryBytes uint64
	// Per hour: queries, result rows and execution time summed over
	// queries (ClickHouse quota, keyed by user).
	QueriesPerHour       uint64
	ResultRowsPerHour    uint64
	ExecutionTimePerHour time.Duration
}

// DefaultBILimits: a dashboard query over a year of a 50,000-household
// brand (about two million rows) takes well under a second here, so 60 s
// leaves room for a ten-million-row brand's cold cache; 100,000 result rows
// is more than any chart draws; 4 GB per query on a machine that also runs
// ingest; 3,600 queries an hour is a dashboard of 20 charts refreshed every
// 20 seconds; an hour of execution time per hour is one core kept busy.
func DefaultBILimits() BILimits {
	return BILimits{
		MaxExecutionTime:     60 * time.Second,
		MaxResultRows:        100_000,
		MaxMemoryBytes:       4 << 30,
		QueriesPerHour:       3_600,
		ResultRowsPerHour:    10_000_000,
		ExecutionTimePerHour: time.Hour,
	}
}

// biChangeable are settings BI drivers send with every query (Metabase:
// max_result_rows and result_overflow_mode; Grafana: max_execution_time;
// Tableau: join_use_nulls; clickhouse-js and others: HTTP compression and
// output formats). With readonly=1 ClickHouse refuses any SETTINGS unless
// a constraint marks it changeable_in_readonly; the limits above stay the
// maximum.
var biChangeable = []string{
	"max_execution_time", "max_result_rows", "max_memory_usage", "result_overflow_mode",
	"join_use_nulls", "enable_http_compression", "http_zlib_compression_level",
	"send_progress_in_http_headers", "http_wait_end_of_query", "output_format_json_quote_64bit_integers",
	"date_time_output_format", "session_timezone", "max_block_size",
}

// Validate checks the user can be written to a users configuration.
func (u BIUser) Validate() error {
	if !identRE.MatchString(u.Name) || u.Name == "default" || u.Name == PlatformUser {
		return fmt.Errorf("BI user name %q: letters, digits and _ only, not default or %s", u.Name, PlatformUser)
	}
	if len(u.Password) < 12 {
		return errors.New("BI user password: at least 12 characters")
	}
	if len(u.Databases) == 0 {
		return errors.New("BI user: no database to read")
	}
	for _, d := range u.Databases {
		if !identRE.MatchString(strings.TrimSuffix(d, "*")) {
			return fmt.Errorf("BI user database %q: letters, digits and _ only (a trailing * is a prefix)", d)
		}
	}
	return nil
}

// PlatformUser is the embedded engine's user the platform connects as,
// with the password in EngineOptions.DataDir/PlatformPasswordFile.
const PlatformUser = "cdp"

// platformGrants are exactly the rights the platform's SQL needs: create
// its databases, tables and views (schema), insert and select (writer,
// identity, segments, campaigns, api), mutations and lightweight deletes
// (identity's erasure and unmerge: ALTER), OPTIMIZE and TRUNCATE (tests
// and the bench), in any database but default, which in clickhouse-local
// maps the engine's working folder. The table engines are those of the
// schema and the tests. No FILE, URL, REMOTE or other source (so no
// file(), url(), remote(), executable() table function), no SYSTEM, no
// dictionaries, no access management.
var platformGrants = []string{
	"GRANT SHOW, SELECT, INSERT, ALTER, CREATE DATABASE, CREATE TABLE, CREATE VIEW, DROP DATABASE, DROP TABLE, DROP VIEW, TRUNCATE, OPTIMIZE ON *.*",
	"GRANT TABLE ENGINE ON MergeTree", "GRANT TABLE ENGINE ON ReplacingMergeTree", "GRANT TABLE ENGINE ON SummingMergeTree", "GRANT TABLE ENGINE ON Memory",
	"REVOKE SELECT, INSERT, ALTER, CREATE TABLE, CREATE VIEW, DROP DATABASE, DROP TABLE, DROP VIEW, TRUNCATE, OPTIMIZE ON default.*",
}

// EngineUsersXML is the embedded engine's configuration with its users:
//   - default, the built-in user the engine's own local session runs as
//     (clickhouse-local cannot give it a password, and loopback clients
//     sign in as it too). It has one right, SYSTEM LISTEN, for the
//     startup query; a quota of exactly that one query in a 68-year
//     interval, so every later query is refused; and a profile whose
//     AST limit of one element refuses the queries a quota does not
//     count (SELECT 1).
//   - PlatformUser with a SHA-256 of platformPassword and platformGrants.
//   - The BI user, if bi.Name is set, with a SHA-256 of its password, a
//     readonly=1 profile with limits and a quota.
//
// The engine reads users only from a file named in the configuration, so
// the file names itself (the engine resolves it next to the configuration).
func EngineUsersXML(platformPassword string, bi BIUser) (string, error) {
	return engineUsersXML(platformPassword, platformGrants, bi, startupQueries)
}

func engineUsersXML(platformPassword string, grantsOfPlatform []string, bi BIUser, defaultQueries int) (string, error) {
	if len(platformPassword) < 12 {
		return "", errors.New("platform engine password: at least 12 characters")
	}
	if bi.Name != "" {
		if err := bi.Validate(); err != nil {
			return "", err
		}
	}
	l := bi.Limits
	if l == (BILimits{}) {
		l = DefaultBILimits()
	}
	seconds := func(d time.Duration) uint64 { return uint64(d.Round(time.Second) / time.Second) }
	var b strings.Builder
	b.WriteString("<clickhouse>\n")
	fmt.Fprintf(&b, "  <os_threads_nice_value_merge_mutate>%d</os_threads_nice_value_merge_mutate>\n", BackgroundNice)
	b.WriteString("  <user_directories>\n    <users_xml><path>" + engineConfigName + "</path></users_xml>\n  </user_directories>\n")
	b.WriteString("  <profiles>\n    <default/>\n")
	b.WriteString("    <listen_only>\n      <max_ast_elements>1</max_ast_elements>\n" +
		"      <constraints><max_ast_elements><const/></max_ast_elements></constraints>\n    </listen_only>\n")
	if bi.Name != "" {
		b.WriteString("    <bi>\n")
		fmt.Fprintf(&b, "      <readonly>1</readonly>\n      <max_execution_time>%d</max_execution_time>\n", seconds(l.MaxExecutionTime))
		fmt.Fprintf(&b, "      <max_result_rows>%d</max_result_rows>\n      <result_overflow_mode>throw</result_overflow_mode>\n", l.MaxResultRows)
		fmt.Fprintf(&b, "      <max_memory_usage>%d</max_memory_usage>\n", l.MaxMemoryBytes)
		b.WriteString("      <constraints>\n")
		max := map[string]uint64{"max_execution_time": seconds(l.MaxExecutionTime), "max_result_rows": l.MaxResultRows, "max_memory_usage": l.MaxMemoryBytes}
		for _, s := range biChangeable {
			limit := ""
			if m, ok := max[s]; ok {
				limit = fmt.Sprintf("<max>%d</max>", m)
			}
			fmt.Fprintf(&b, "        <%s>%s<changeable_in_readonly/></%s>\n", s, limit, s)
		}
		b.WriteString("      </constraints>\n    </bi>\n")
	}
	b.WriteString("  </profiles>\n")
	// Quota intervals are aligned to 1970 and at most 2^31-1 seconds long:
	// this one ends 2038-01-19 03:14:07 UTC.
	b.WriteString("  <quotas>\n    <default/>\n    <listen_once>\n      <interval>\n        <duration>2147483647</duration>\n")
	fmt.Fprintf(&b, "        <queries>%d</queries>\n      </interval>\n    </listen_once>\n", defaultQueries)
	if bi.Name != "" {
		b.WriteString("    <bi>\n      <interval>\n        <duration>3600</duration>\n")
		fmt.Fprintf(&b, "        <queries>%d</queries>\n        <result_rows>%d</result_rows>\n        <execution_time>%d</execution_time>\n",
			l.QueriesPerHour, l.ResultRowsPerHour, seconds(l.ExecutionTimePerHour))
		b.WriteString("      </interval>\n    </bi>\n")
	}
	b.WriteString("  </quotas>\n")
	loopback := "<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
	user := func(name, password, profile, quota string, grants []string) {
		fmt.Fprintf(&b, "    <%s>\n", name)
		if password == "" {
			b.WriteString("      <password></password>\n")
		} else {
			sum := sha256.Sum256([]byte(password))
			fmt.Fprintf(&b, "      <password_sha256_hex>%s</password_sha256_hex>\n", hex.EncodeToString(sum[:]))
		}
		fmt.Fprintf(&b, "      %s\n      <profile>%s</profile>\n      <quota>%s</quota>\n      <grants>\n", loopback, profile, quota)
		for _, g := range grants {
			fmt.Fprintf(&b, "        <query>%s</query>\n", g)
		}
		fmt.Fprintf(&b, "      </grants>\n    </%s>\n", name)
	}
	b.WriteString("  <users>\n")
	user("default", "", "listen_only", "listen_once", []string{"GRANT SYSTEM LISTEN ON *.*"})
	user(PlatformUser, platformPassword, "default", "default", grantsOfPlatform)
	if bi.Name != "" {
		var grants []string
		for _, d := range bi.Databases {
			grants = append(grants, "GRANT SELECT ON "+grantName(d)+".*")
		}
		// BI tools list tables and columns through information_schema too;
		// its rows, like system.tables', show only what the user may read.
		grants = append(grants, "GRANT SELECT ON information_schema.*", "GRANT SELECT ON INFORMATION_SCHEMA.*")
		user(bi.Name, bi.Password, "bi", "bi", grants)
	}
	b.WriteString("  </users>\n</clickhouse>\n")
	return b.String(), nil
}

// grantName quotes a database name for GRANT, keeping a trailing wildcard
// outside the quotes as ClickHouse wants it.
func grantName(d string) string {
	if p, ok := strings.CutSuffix(d, "*"); ok {
		return p + "*"
	}
	return "`" + d + "`"
}

// engineConfigName is the file StartEngine writes EngineUsersXML to, next
// to the engine's data.
const engineConfigName = "cdp-engine.xml"
