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
	if !identRE.MatchString(u.Name) || u.Name == "default" {
		return fmt.Errorf("BI user name %q: letters, digits and _ only, not default", u.Name)
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

// EngineUsersXML is the embedded engine's configuration (EngineOptions.
// ConfigXML) with its users: default, passwordless on loopback with full
// rights as the platform needs, and the BI user with a SHA-256 of its
// password, a readonly=1 profile with limits and a quota. The engine reads
// users only from a file named in the configuration, so the file names
// itself (the engine resolves it next to the configuration).
func EngineUsersXML(bi BIUser) (string, error) {
	if err := bi.Validate(); err != nil {
		return "", err
	}
	l := bi.Limits
	if l == (BILimits{}) {
		l = DefaultBILimits()
	}
	sum := sha256.Sum256([]byte(bi.Password))
	seconds := func(d time.Duration) uint64 { return uint64(d.Round(time.Second) / time.Second) }
	var b strings.Builder
	b.WriteString("<clickhouse>\n")
	b.WriteString("  <user_directories>\n    <users_xml><path>" + engineConfigName + "</path></users_xml>\n  </user_directories>\n")
	b.WriteString("  <profiles>\n    <default/>\n    <bi>\n")
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
	b.WriteString("      </constraints>\n    </bi>\n  </profiles>\n")
	b.WriteString("  <quotas>\n    <default/>\n    <bi>\n      <interval>\n        <duration>3600</duration>\n")
	fmt.Fprintf(&b, "        <queries>%d</queries>\n        <result_rows>%d</result_rows>\n        <execution_time>%d</execution_time>\n",
		l.QueriesPerHour, l.ResultRowsPerHour, seconds(l.ExecutionTimePerHour))
	b.WriteString("      </interval>\n    </bi>\n  </quotas>\n")
	loopback := "<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"
	b.WriteString("  <users>\n    <default>\n      <password></password>\n      " + loopback +
		"\n      <profile>default</profile>\n      <quota>default</quota>\n    </default>\n")
	fmt.Fprintf(&b, "    <%s>\n      <password_sha256_hex>%s</password_sha256_hex>\n      %s\n      <profile>bi</profile>\n      <quota>bi</quota>\n",
		bi.Name, hex.EncodeToString(sum[:]), loopback)
	b.WriteString("      <grants>\n")
	for _, d := range bi.Databases {
		fmt.Fprintf(&b, "        <query>GRANT SELECT ON %s.*</query>\n", grantName(d))
	}
	// BI tools list tables and columns through information_schema too;
	// its rows, like system.tables', show only what the user may read.
	b.WriteString("        <query>GRANT SELECT ON information_schema.*</query>\n        <query>GRANT SELECT ON INFORMATION_SCHEMA.*</query>\n")
	fmt.Fprintf(&b, "      </grants>\n    </%s>\n  </users>\n</clickhouse>\n", bi.Name)
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

// engineConfigName is the file StartEngine writes EngineOptions.ConfigXML
// to, next to the engine's data.
const engineConfigName = "cdp-engine.xml"
