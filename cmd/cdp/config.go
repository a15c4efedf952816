package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/granarycdp/cdp/api"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
)

// config is every setting of the binary. Each is a flag and a CDP_*
// environment variable; a flag given on the command line wins.
type config struct {
	ClickHouseDSN      string
	Cluster            string
	ClusterMode        string
	FromSingle         bool
	ClickHouseNodes    string
	EngineClusterNodes string
	DataDir            string
	EngineLib          string
	EngineTCPPort      int
	EngineHTTPPort     int
	EngineHungSeconds  int
	BIUser             string
	BIPassword         string
	HTTPAddr           string
	AdminToken         string
	WriteKey           string
	LogLevel           string
	LogFormat          string
	PIIKey             string
	SpoolMaxMB         int
	DedupFilterMB      int
	RateLimitIngest    string
	RateLimitAPI       string
	RateLimitEstimate  string
	RateLimitLookup    string
	WeComCorpID        string
	WeComToken         string
	WeComAESKey        string
	WeComSecret        string
	WeComAgentID       string
	WeComAPIURL        string
	WeComDailyCap      int
	WeComRobots        string
	WeComLossRobot     string // CDP_WECOM_LOSS_ROBOT (lossAlerts)
	WeComManagers      string // CDP_WECOM_MANAGERS (lossAlerts)
	Webhooks           string
	SupplyWebhooks     string
	SupplyRetrySeconds int
	IdentityRules      string
	Demo               string
	DemoHouseholds     int
	DemoSeed           int
	DemoURL            string
	BenchPersons       int
	BenchJSON          bool
	BenchIdentityOnly  bool
	BenchIngestRecords int
	Load               bool
	LoadMinutes        int
	LoadClients        int
	LoadRate           int
	LoadWarmup         int
	LoadEstimates      int
	BenchProfile       string
	MetricsToken       string
	MetricsAddr        string
	AllowLoopbackHTTP  bool
	RateLimitCallback  string
}

// setting describes one flag and its environment variable.
type setting struct {
	flag, env, help string
	commands        []string // subcommands that take it
	str             *string
	num             *int
	boolean         *bool // a switch: --json alone means true
	def             string
}

// Commands settings apply to.
var (
	storeCommands  = []string{"serve", "migrate", "engine"} // they keep data in the data folder
	engineCommands = []string{"serve", "migrate", "engine"} // they may run the embedded engine
	serveCommand   = []string{"serve"}
	allCommands    = []string{"serve", "migrate", "engine", "demo", "bench"}
)

// settings are every setting, in the order help lists them.
func (c *config) settings() []setting {
	return slices.Concat(c.storageSettings(), c.serveSettings(), c.channelSettings(), c.demoBenchSettings(), c.operationSettings())
}

// storageSettings say where the data is: ClickHouse, the data folder, the
// embedded engine and its BI user.
func (c *config) storageSettings() []setting {
	return []setting{
		{flag: "clickhouse-dsn", env: "CDP_CLICKHOUSE_DSN", commands: []string{"serve", "migrate"}, str: &c.ClickHouseDSN,
			help: "ClickHouse server to use, e.g. clickhouse://user:pass@host:9000/cdp (native) or http://user:pass@host:8123/cdp; the path is the platform's database. Empty: run the embedded engine."},
		{flag: "clickhouse-cluster", env: "CDP_CLICKHOUSE_CLUSTER", commands: engineCommands, str: &c.Cluster,
			help: "ClickHouse cluster to run on (docs/scale-out.md): with serve and migrate, the cluster of the servers named by the DSN or --clickhouse-nodes; with engine, the cluster the engine is a node of (see --engine-cluster-nodes)."},
		{flag: "clickhouse-cluster-mode", env: "CDP_CLICKHOUSE_CLUSTER_MODE", commands: []string{"serve", "migrate"}, str: &c.ClusterMode, def: clusterReplicated,
			help: "Flavour of cluster mode: replicated (ON CLUSTER DDL, Replicated tables; needs ClickHouse Keeper) or sharded (no Keeper: the platform applies DDL to every node of --clickhouse-nodes, facts split between shards, the rest copied to every node)."},
		{flag: "clickhouse-nodes", env: "CDP_CLICKHOUSE_NODES", commands: []string{"serve", "migrate"}, str: &c.ClickHouseNodes,
			help: "Sharded mode: comma-separated DSNs of every node of the cluster, each naming the platform's database; the first receives the queries."},
		{flag: "from-single", env: "CDP_MIGRATE_FROM_SINGLE", commands: []string{"migrate"}, boolean: &c.FromSingle, def: "false",
			help: "Sharded mode: move the platform database of a single ClickHouse, now one of --clickhouse-nodes, into the cluster (docs/scale-out.md, growing from one machine): renamed <db>_single, the cluster migrated, every table copied through the Distributed tables and counted on each node, then the old database dropped. Stop cdp serve first."},
		{flag: "engine-cluster-nodes", env: "CDP_ENGINE_CLUSTER_NODES", commands: []string{"engine"}, str: &c.EngineClusterNodes,
			help: "Makes the embedded engine a node of the sharded cluster --clickhouse-cluster: comma-separated native addresses host:port of every node, this one included, in shard order. Every node's data folder must hold the same clickhouse-password file."},
		{flag: "data-dir", env: "CDP_DATA_DIR", commands: storeCommands, str: &c.DataDir, def: "./data",
			help: "Folder for the platform's local data: the embedded engine's tables, the ingest spool."},
		{flag: "engine-lib", env: "CDP_ENGINE_LIB", commands: append(engineCommands, "bench"), str: &c.EngineLib,
			help: "Path of the embedded engine library libchdb.so; fetched there with npm when missing. Default: ~/.cache/cdp/engine/<version>/libchdb.so."},
		{flag: "engine-tcp-port", env: "CDP_ENGINE_TCP_PORT", commands: engineCommands, num: &c.EngineTCPPort, def: "9000",
			help: "Embedded engine's native-protocol port on 127.0.0.1 (BI tools and clickhouse-client connect here); 0 picks a free one."},
		{flag: "engine-http-port", env: "CDP_ENGINE_HTTP_PORT", commands: engineCommands, num: &c.EngineHTTPPort, def: "8123",
			help: "Embedded engine's HTTP-protocol port on 127.0.0.1; 0 picks a free one."},
		{flag: "engine-hung-seconds", env: "CDP_ENGINE_HUNG_SECONDS", commands: engineCommands, num: &c.EngineHungSeconds, def: "120",
			help: "Seconds the embedded engine may go without answering a query (its listeners accepting) before it is restarted; an engine that answers slowly is never restarted, one whose listeners refuse connections is after 10 s."},
		{flag: "bi-user", env: "CDP_BI_USER", commands: engineCommands, str: &c.BIUser, def: "bi",
			help: "Embedded engine's read-only user for BI tools: it reads the BI views (database bi_cdp) and nothing else."},
		{flag: "bi-password", env: "CDP_BI_PASSWORD", commands: engineCommands, str: &c.BIPassword,
			help: "Password of the BI user (at least 12 characters). Default: read from (or created in) <data-dir>/bi-password."},
	}
}

// serveSettings are the platform's address, credentials, PII key, spool
// and rate limits.
func (c *config) serveSettings() []setting {
	return []setting{
		{flag: "http-addr", env: "CDP_HTTP_ADDR", commands: serveCommand, str: &c.HTTPAddr, def: "127.0.0.1:8080",
			help: "Address of the console, API and ingest endpoints."},
		{flag: "admin-token", env: "CDP_ADMIN_TOKEN", commands: serveCommand, str: &c.AdminToken,
			help: "When set, an admin API token with this value exists (for automation and the first sign-in)."},
		{flag: "write-key", env: "CDP_WRITE_KEY", commands: []string{"serve", "demo"}, str: &c.WriteKey,
			help: "When set, an ingest write key with this value exists (source \"default\", scope server: it may send orders and imports, so keep it on servers; give SDKs client keys)."},
		{flag: "pii-key", env: "CDP_PII_KEY", commands: serveCommand, str: &c.PIIKey,
			help: "64 hex characters: the key that hashes and encrypts phone numbers. Default: read from (or created in) <data-dir>/pii.key. Keep it safe: without it stored numbers cannot be matched or decrypted."},
		{flag: "spool-max-mb", env: "CDP_SPOOL_MAX_MB", commands: serveCommand, num: &c.SpoolMaxMB, def: "1024",
			help: "Ingest spool limit: while ClickHouse is unavailable, ingest keeps accepting until this many MB wait, then answers 503 with Retry-After."},
		{flag: "dedup-filter-mb", env: "CDP_DEDUP_FILTER_MB", commands: []string{"serve", "bench"}, num: &c.DedupFilterMB, def: "128",
			help: "Memory of the ingest deduplication window's filters (the keys themselves are on disk in <data-dir>/dedup), whatever the window holds. 128 MB is 10 bits a key (1.2% of new keys looked up on disk) up to 1,100 events/s all day; at higher sustained rates a new key costs a few disk lookups (10-30 us each) unless this grows. At least 1."},
		{flag: "rate-limit-ingest", env: "CDP_RATE_LIMIT_INGEST", commands: serveCommand, str: &c.RateLimitIngest, def: "0",
			help: "Ingest calls allowed per write key: requests per second[:burst], e.g. 500:1000 (each /v1 request counts once, however many records it carries); over it, 429 with Retry-After. 0: no limit (the spool bound still applies)."},
		{flag: "rate-limit-api", env: "CDP_RATE_LIMIT_API", commands: serveCommand, str: &c.RateLimitAPI, def: "50:200",
			help: "Management API calls allowed per API token: requests per second[:burst]; over it, 429 with Retry-After. 0: no limit."},
		// The console asks for an estimate 400 ms after the last keystroke:
		// a marketer editing briskly sends ~0.5 a second, so 20 in reserve
		// last 80 s of that before the 0.25/s refill falls short. A token
		// scripted to the limit gets one estimate every 4 s: with the
		// costliest rule the check accepts (2.5-6 us a customer, see
		// segments.MaxCandidateCost) over a million customers, 0.6-1.5 of
		// a core, where the API limit alone allowed 50 a second.
		{flag: "rate-limit-estimate", env: "CDP_RATE_LIMIT_ESTIMATE", commands: serveCommand, str: &c.RateLimitEstimate, def: "0.25:20",
			help: "Segment estimates and overlaps (which evaluate a rule) allowed per API token, on top of the API limit: requests per second[:burst]; over it, 429 with Retry-After. 0: no limit."},
		{flag: "rate-limit-lookup", env: "CDP_RATE_LIMIT_LOOKUP", commands: serveCommand, str: &c.RateLimitLookup, def: api.DefaultLookupLimit.String(),
			help: "Profile lookups by identifier (GET /api/v1/profiles/lookup) allowed per API token, on top of the API limit: requests per second[:burst]. The default, 3 a minute with bursts of 10, lets a desk look up callers but makes trying the hidden digits of a masked phone take days; every lookup is audited. 0: no limit."},
	}
}

// channelSettings are WeCom's, the campaign channels' and the identity
// rules.
func (c *config) channelSettings() []setting {
	return []setting{
		{flag: "wecom-corp-id", env: "CDP_WECOM_CORP_ID", commands: []string{"serve", "demo"}, str: &c.WeComCorpID,
			help: "WeCom corp id (企业ID): the callback's receive id."},
		{flag: "wecom-token", env: "CDP_WECOM_TOKEN", commands: []string{"serve", "demo"}, str: &c.WeComToken,
			help: "WeCom callback Token (verifies msg_signature)."},
		{flag: "wecom-aes-key", env: "CDP_WECOM_AES_KEY", commands: []string{"serve", "demo"}, str: &c.WeComAESKey,
			help: "WeCom callback EncodingAESKey (43 characters)."},
		{flag: "wecom-secret", env: "CDP_WECOM_SECRET", commands: serveCommand, str: &c.WeComSecret,
			help: "WeCom customer-contact secret (客户联系 Secret) for the API: contact details, mass messages."},
		{flag: "wecom-agent-id", env: "CDP_WECOM_AGENT_ID", commands: serveCommand, str: &c.WeComAgentID,
			help: "AgentId of the self-built application whose secret is CDP_WECOM_SECRET: with it the staff sidebar (聊天工具栏, /sidebar/) is served (docs/wecom.md)."},
		{flag: "wecom-api-url", env: "CDP_WECOM_API_URL", commands: serveCommand, str: &c.WeComAPIURL, def: "https://qyapi.weixin.qq.com",
			help: "WeCom API host (a proxy or a test server); https, or plain http to this machine with --allow-loopback-http."},
		{flag: "wecom-daily-cap", env: "CDP_WECOM_DAILY_CAP", commands: serveCommand, num: &c.WeComDailyCap, def: "1",
			help: "Mass messages (客户群发) WeCom lets one customer receive per day, across all campaigns: planning never goes past it."},
		{flag: "wecom-robots", env: "CDP_WECOM_ROBOTS", commands: serveCommand, str: &c.WeComRobots,
			help: "Group robots campaigns may post to: name=webhook URL pairs separated by ';', e.g. 团购1群=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=..."},
		{flag: "wecom-loss-robot", env: "CDP_WECOM_LOSS_ROBOT", commands: serveCommand, str: &c.WeComLossRobot,
			help: "Group robot webhook URL (with its key) lost customers (del_follow_user, del_external_contact) are reported to, @-mentioning the staff member's manager; empty: losses are recorded, usable in rules, not alerted (docs/wecom.md)."},
		{flag: "wecom-managers", env: "CDP_WECOM_MANAGERS", commands: serveCommand, str: &c.WeComManagers,
			help: "Each staff member's manager for loss alerts: staff userid=manager userid pairs separated by ';', '*' for everyone not named, e.g. zhangsan=wangwu;*=zhaoliu. Needs CDP_WECOM_LOSS_ROBOT."},
		{flag: "webhooks", env: "CDP_WEBHOOKS", commands: serveCommand, str: &c.Webhooks,
			help: "Generic webhooks campaigns may send through (an SMS gateway, a CRM): name=URL|HMAC secret, separated by ';'. Posts are signed (X-Granary-Signature) and carry an Idempotency-Key."},
		{flag: "supply-webhooks", env: "CDP_SUPPLY_WEBHOOKS", commands: serveCommand, str: &c.SupplyWebhooks,
			help: "Names of CDP_WEBHOOKS entries demand surge alerts are delivered to (OMS, WMS, the mill's planning), separated by ','; signed and idempotent as campaign posts (docs/demand.md)."},
		{flag: "supply-retry-seconds", env: "CDP_SUPPLY_RETRY_SECONDS", commands: []string{"serve", "bench"}, num: &c.SupplyRetrySeconds, def: "60",
			help: "(bench: of its scratch platform.) Seconds between two deliveries of the demand alerts still pending between detection rounds (a supply system that was down, a delivery a crash cut off); pending ones are also delivered at start."},
		{flag: "identity-rules", env: "CDP_IDENTITY_RULES", commands: serveCommand, str: &c.IdentityRules,
			help: "JSON file of identifier rules ([{type, priority, limit, window, may_join, blocked}]); default: the built-in rules (GET /api/v1/identity/rules shows them)."},
	}
}

// demoBenchSettings are the demo's and the benchmarks'.
func (c *config) demoBenchSettings() []setting {
	return []setting{
		{flag: "demo", env: "CDP_DEMO", commands: serveCommand, str: &c.Demo, def: "off",
			help: "auto: on a database without events, load the demo data set through the ingest API after start (make run does this); off: never."},
		{flag: "demo-households", env: "CDP_DEMO_HOUSEHOLDS", commands: []string{"serve", "demo"}, num: &c.DemoHouseholds, def: "50000",
			help: "Households in the demo data set (50,000 give ~2.2 million records)."},
		{flag: "demo-seed", env: "CDP_DEMO_SEED", commands: []string{"serve", "demo", "bench"}, num: &c.DemoSeed, def: "1",
			help: "Seed of the demo data generator: the same seed gives the same data."},
		{flag: "url", env: "CDP_URL", commands: []string{"demo"}, str: &c.DemoURL, def: "http://127.0.0.1:8080",
			help: "The running platform to load demo data into."},
		{flag: "persons", env: "CDP_BENCH_PERSONS", commands: []string{"bench"}, num: &c.BenchPersons, def: "1000000",
			help: "Generated persons for the in-memory benchmarks (1000000, 10000000, ...)."},
		{flag: "ingest-records", env: "CDP_BENCH_INGEST_RECORDS", commands: []string{"bench"}, num: &c.BenchIngestRecords, def: "500000",
			help: "Records sent through the HTTP ingest path into a fresh embedded engine."},
		{flag: "load", env: "CDP_BENCH_LOAD", commands: []string{"bench"}, boolean: &c.Load, def: "false",
			help: "Instead of the benchmarks, a sustained-load run: ingest from several clients at --load-rate, concurrent segment estimates and a live segment-entry campaign for --load-minutes, reporting every 10 s events/s, errors, latency percentiles and memory, then fitting the memory growth after --load-warmup."},
		{flag: "load-minutes", env: "CDP_BENCH_LOAD_MINUTES", commands: []string{"bench"}, num: &c.LoadMinutes, def: "3",
			help: "Length of the --load run in minutes."},
		{flag: "load-clients", env: "CDP_BENCH_LOAD_CLIENTS", commands: []string{"bench"}, num: &c.LoadClients, def: "4",
			help: "Concurrent ingest clients of the --load run (batches of 100 events)."},
		{flag: "load-rate", env: "CDP_BENCH_LOAD_RATE", commands: []string{"bench"}, num: &c.LoadRate, def: "5000",
			help: "Target events per second of the --load run, shared by the clients; 0: as fast as they are acknowledged."},
		{flag: "load-estimates", env: "CDP_BENCH_LOAD_ESTIMATES", commands: []string{"bench"}, num: &c.LoadEstimates, def: "5",
			help: "Segment estimates per second during the --load run, half of rules run before (warm) and half of rules never run (cold); 0: none."},
		{flag: "load-warmup", env: "CDP_BENCH_LOAD_WARMUP", commands: []string{"bench"}, num: &c.LoadWarmup, def: "300",
			help: "Seconds at the start of the --load run left out of the memory growth fit (at most the first third of the run)."},
		{flag: "identity-only", env: "CDP_BENCH_IDENTITY_ONLY", commands: []string{"bench"}, boolean: &c.BenchIdentityOnly, def: "false",
			help: "Run only the in-memory identity benchmark (the generator's --persons world resolved; the graph's memory and the process's) and the memory figures, not the ingest and planning ones: the graph's figures at a large --persons without the ingest run on a fresh engine and the campaign plan."},
		{flag: "json", env: "CDP_BENCH_JSON", commands: []string{"bench"}, boolean: &c.BenchJSON, def: "false",
			help: "Print the figures as JSON for machines."},
		{flag: "profile", env: "CDP_BENCH_PROFILE", commands: []string{"bench"}, str: &c.BenchProfile,
			help: "Folder to write pprof profiles of the ingest benchmark (or of the whole --load run) into: cpu.pb.gz, and allocs-start.pb.gz and allocs.pb.gz to compare with go tool pprof -sample_index=alloc_space -diff_base allocs-start.pb.gz allocs.pb.gz; the --load run also mutex.pb.gz and block.pb.gz (where goroutines waited). Empty: no profiles."},
	}
}

// operationSettings are logging, metrics and the outbound-URL and WeCom
// callback guards.
func (c *config) operationSettings() []setting {
	return []setting{
		{flag: "log-level", env: "CDP_LOG_LEVEL", commands: allCommands, str: &c.LogLevel, def: "info",
			help: "debug, info, warn or error."},
		{flag: "log-format", env: "CDP_LOG_FORMAT", commands: allCommands, str: &c.LogFormat, def: "text",
			help: "text or json."},
		{flag: "metrics-token", env: "CDP_METRICS_TOKEN", commands: serveCommand, str: &c.MetricsToken,
			help: "Bearer token GET /metrics needs (Prometheus: authorization.credentials). Without it and without --metrics-addr, /metrics is not served."},
		{flag: "metrics-addr", env: "CDP_METRICS_ADDR", commands: serveCommand, str: &c.MetricsAddr,
			help: "Separate address serving only GET /metrics (e.g. 127.0.0.1:9464 or an internal interface), open there unless CDP_METRICS_TOKEN is set. Empty: metrics only on --http-addr, with the token."},
		{flag: "allow-loopback-http", env: "CDP_ALLOW_LOOPBACK_HTTP", commands: serveCommand, boolean: &c.AllowLoopbackHTTP, def: "false",
			help: "URLs the platform sends to (CDP_WEBHOOKS, CDP_WECOM_ROBOTS, CDP_WECOM_API_URL) must be https; true also allows plain http to this machine (127.0.0.1, ::1, localhost), for test receivers and stand-ins."},
		{flag: "rate-limit-wecom-callback", env: "CDP_RATE_LIMIT_WECOM_CALLBACK", commands: serveCommand, str: &c.RateLimitCallback, def: "20:1000",
			help: "WeCom callbacks (/wecom/callback) allowed per source address: requests per second[:burst]; over it, 429 with Retry-After (WeCom sends again). 20/s is 72,000 contact lookups an hour, under half of WeCom's 150,000 an hour per API. 0: no limit. The demo's own corp has none."},
	}
}

// parse reads the settings a subcommand takes from the environment, then
// from args. It returns the remaining arguments.
func (c *config) parse(cmd string, args []string, stderr io.Writer) ([]string, error) {
	fs := flag.NewFlagSet("cdp "+cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	for _, s := range c.settings() {
		if !takes(s, cmd) {
			continue
		}
		def := s.def
		if v, ok := os.LookupEnv(s.env); ok {
			def = v
		}
		if s.str != nil {
			fs.StringVar(s.str, s.flag, def, s.help)
			continue
		}
		if s.boolean != nil {
			b, err := strconv.ParseBool(def)
			if err != nil {
				return nil, fmt.Errorf("%s=%q: must be true or false", s.env, def)
			}
			fs.BoolVar(s.boolean, s.flag, b, s.help)
			continue
		}
		n, err := strconv.Atoi(def)
		if err != nil {
			return nil, fmt.Errorf("%s=%q: must be a number", s.env, def)
		}
		fs.IntVar(s.num, s.flag, n, s.help)
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			usage(stderr, cmd)
		}
		return nil, err
	}
	return fs.Args(), nil
}

func takes(s setting, cmd string) bool {
	for _, c := range s.commands {
		if c == cmd {
			return true
		}
	}
	return false
}

func (c *config) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level, ReplaceAttr: identity.MaskLogAttr} // no mobile number in a log line
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: use text or json", c.LogFormat)
}

var commands = []struct{ name, summary string }{
	{"serve", "Run the platform: ClickHouse (embedded unless a DSN is given), migrations, API, ingest and console."},
	{"migrate", "Apply the schema migrations the database lacks, then exit."},
	{"engine", "Run only the embedded ClickHouse engine (for BI tools or development) until interrupted."},
	{"demo", "Load the demo data set (generated grain-and-oil customers) into a running platform through its ingest API."},
	{"bench", "Run the platform's benchmarks on generated data and print each figure beside its reference from the same run."},
	{"version", "Print the platform and engine versions."},
	{"help", "Explain the commands and their settings: cdp help [command]."},
}

func usage(w io.Writer, cmd string) {
	if cmd == "" {
		fmt.Fprint(w, "cdp: customer data platform for grain-and-oil brands.\n\nUsage: cdp <command> [flags]\n\nCommands:\n")
		for _, c := range commands {
			fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
		}
		fmt.Fprint(w, "\nEvery flag is also an environment variable (CDP_*); a flag on the command line wins.\n\n")
	}
	var c config
	for _, cm := range commands {
		if cmd != "" && cm.name != cmd {
			continue
		}
		var lines []string
		for _, s := range c.settings() {
			if !takes(s, cm.name) {
				continue
			}
			def := ""
			if s.def != "" {
				def = ", default " + s.def
			}
			lines = append(lines, fmt.Sprintf("  --%s  (%s%s)\n      %s\n", s.flag, s.env, def, s.help))
		}
		if len(lines) == 0 {
			continue
		}
		fmt.Fprintf(w, "cdp %s: %s\n%s\n", cm.name, cm.summary, strings.Join(lines, ""))
	}
}

// rateLimits reads CDP_RATE_LIMIT_INGEST, CDP_RATE_LIMIT_API,
// CDP_RATE_LIMIT_ESTIMATE, CDP_RATE_LIMIT_LOOKUP and
// CDP_RATE_LIMIT_WECOM_CALLBACK.
func rateLimits(c config, reg prometheus.Registerer) (api.RateLimits, error) {
	out := api.RateLimits{Registerer: reg}
	for _, l := range []struct {
		env, value string
		into       *api.RateLimit
	}{
		{"CDP_RATE_LIMIT_INGEST", c.RateLimitIngest, &out.Ingest},
		{"CDP_RATE_LIMIT_API", c.RateLimitAPI, &out.API},
		{"CDP_RATE_LIMIT_ESTIMATE", c.RateLimitEstimate, &out.Estimate},
		{"CDP_RATE_LIMIT_LOOKUP", c.RateLimitLookup, &out.Lookup},
		{"CDP_RATE_LIMIT_WECOM_CALLBACK", c.RateLimitCallback, &out.WeComCallback},
	} {
		limit, err := api.ParseRateLimit(l.value)
		if err != nil {
			return api.RateLimits{}, fmt.Errorf("%s: %w", l.env, err)
		}
		*l.into = limit
	}
	return out, nil
}

// biUser is the embedded engine's BI user: CDP_BI_USER with CDP_BI_PASSWORD,
// or a password generated once into <data-dir>/bi-password (mode 0600), as
// the first admin token is. It reads the BI views of the platform database.
// where says where the password is, for the log. An empty CDP_BI_USER
// gives no user.
func (c *config) biUser() (u store.BIUser, where string, err error) {
	u = store.BIUser{Name: c.BIUser, Password: c.BIPassword, Databases: []string{schema.BIDatabase(store.DefaultDatabase)}}
	where = biPasswordWhere(*c)
	if u.Name == "" {
		return store.BIUser{}, "", nil
	}
	if u.Password != "" {
		return u, where, u.Validate()
	}
	if err := os.MkdirAll(c.DataDir, 0o750); err != nil {
		return u, "", err
	}
	if u.Password, err = store.SecretFile(where, func() (string, error) { return api.NewSecret("cdp_bi_"), nil }, nil); err != nil {
		return u, "", fmt.Errorf("the BI password: %w", err)
	}
	return u, where, u.Validate()
}

// biPasswordWhere says where the BI password is, for the banner.
func biPasswordWhere(c config) string {
	if c.BIPassword != "" {
		return "CDP_BI_PASSWORD"
	}
	return filepath.Join(c.DataDir, "bi-password")
}
