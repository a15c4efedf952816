// Package analytics answers the questions marketers ask before a campaign:
// funnels over events, orders and WeCom actions (ClickHouse's
// windowFunnel), repurchase retention by cohort and by day N for rice and
// oil, LTV curves, and lifecycle states (new, returning, resurrecting,
// dormant) per week or month. Every analysis is a definition (a Go value,
// the API's JSON) compiled to one ClickHouse query over the definitions of
// schema/analytics.go, which the BI views of migration 13 read too, so BI
// numbers equal the console's. Results are cached by definition; a
// funnel step's converted or dropped people can be saved as a segment.
package analytics

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/RoaringBitmap/roaring/v2"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store"
)

// Members resolves a segment's current members (segments.Store does), for
// breakdowns by segment.
type Members interface {
	SegmentMembers(ctx context.Context, id string) (*roaring.Bitmap, error)
}

// Options configure a Service.
type Options struct {
	DB *store.DB
	// Segments resolves segments for breakdowns; nil refuses them.
	Segments Members
	// Now is the clock (time.Now when nil): "today" of default ranges and
	// the end of censoring in retention.
	Now func() time.Time
	// CacheTTL is how long a result is served again for the same
	// definition (DefaultCacheTTL when 0); CacheEntries bounds the cache
	// (DefaultCacheEntries when 0).
	CacheTTL     time.Duration
	CacheEntries int
}

// Cache defaults: a result is reused for ten minutes, at most 256 kept.
const (
	DefaultCacheTTL     = 10 * time.Minute
	DefaultCacheEntries = 256
)

// Service runs analyses. It is safe for concurrent use.
type Service struct {
	db    *store.DB
	segs  Members
	now   func() time.Time
	cache *cache

	settingsOnce sync.Once
	settings     clickhouse.Settings // readSettings and those of joinSidesSetting the server knows
}

// New returns a Service.
func New(opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = DefaultCacheTTL
	}
	if opts.CacheEntries <= 0 {
		opts.CacheEntries = DefaultCacheEntries
	}
	return &Service{db: opts.DB, segs: opts.Segments, now: opts.Now, cache: newCache(opts.CacheTTL, opts.CacheEntries, opts.Now)}
}

// InvalidError is a definition the service refuses: Field names the
// offending field as a JSON path (steps[1].filters[0].values).
type InvalidError struct {
	Field   string
	Message string
}

func (e *InvalidError) Error() string { return "analytics: " + e.Field + ": " + e.Message }

func invalid(field, format string, args ...any) error {
	return &InvalidError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Meta tells where a result comes from: its cache key (the definition's
// hash, which a shared link reproduces), when it was computed and whether
// this answer came from the cache.
type Meta struct {
	Key        string    `json:"key"`
	ComputedAt time.Time `json:"computed_at"`
	Cached     bool      `json:"cached"`
	Millis     int64     `json:"millis"`
}

// dateRange is a range of Beijing days [From, To], both inclusive.
type dateRange struct{ from, to time.Time }

const dateLayout = "2006-01-02"

// parseRange reads from and to (YYYY-MM-DD, Beijing days); an empty to is
// today, an empty from is to minus def days.
func (s *Service) parseRange(from, to string, def int) (dateRange, error) {
	var r dateRange
	var err error
	if to == "" {
		r.to = s.today()
	} else if r.to, err = time.ParseInLocation(dateLayout, to, schema.Beijing); err != nil {
		return r, invalid("to", "a date YYYY-MM-DD, not %q", to)
	}
	if from == "" {
		r.from = r.to.AddDate(0, 0, -def)
	} else if r.from, err = time.ParseInLocation(dateLayout, from, schema.Beijing); err != nil {
		return r, invalid("from", "a date YYYY-MM-DD, not %q", from)
	}
	if r.from.After(r.to) {
		return r, invalid("from", "%s is after to (%s)", r.from.Format(dateLayout), r.to.Format(dateLayout))
	}
	if r.to.Sub(r.from) > 3*366*24*time.Hour {
		return r, invalid("from", "the range is longer than three years")
	}
	return r, nil
}

// today is the Beijing day of the clock, at midnight Beijing.
func (s *Service) today() time.Time {
	n := s.now().In(schema.Beijing)
	return time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, schema.Beijing)
}

// keyOf is the cache key of a normalised definition of a kind.
func keyOf(kind string, def any) string {
	raw, _ := json.Marshal(def)
	sum := sha256.Sum256(append([]byte(kind+"\x00"), raw...))
	return kind + "-" + hex.EncodeToString(sum[:12])
}

// params collects a query's parameters ({p0:String}, ...).
type params struct{ list []any }

func (p *params) add(typ string, v any) string {
	name := fmt.Sprintf("p%d", len(p.list))
	p.list = append(p.list, clickhouse.Named(name, v))
	return "{" + name + ":" + typ + "}"
}

// readSettings let FINAL deduplicate each partition on its own: every
// table read here with FINAL keeps a row's versions in one partition (see
// segments' readSettings).
var readSettings = clickhouse.Settings{schema.FinalPerPartitionSetting: 1}

// joinSidesSetting keeps each join's sides as written: the right side is
// the smaller one here (the merged persons of the OneID join, a few
// percent of the persons), but ClickHouse's planner estimates it from the
// whole persons table and, left to choose (query_plan_join_swap_table
// 'auto'), builds its hash table from the orders or events instead: at
// 10M persons the valid orders with their OneIDs took 9.7 s that way and
// 1.3 s as written (docs/analytics.md). Older servers, which lack the
// setting, do not swap and would refuse it, so it is sent only to a
// server that lists it in system.settings.
const joinSidesSetting = schema.JoinSidesSetting

// readContext is ctx with the read settings the server knows.
func (s *Service) readContext(ctx context.Context) context.Context {
	s.settingsOnce.Do(func() {
		s.settings = clickhouse.Settings{}
		for k, v := range readSettings {
			s.settings[k] = v
		}
		var n uint64
		if err := s.db.Conn.QueryRow(ctx, "SELECT count() FROM system.settings WHERE name = ?", joinSidesSetting).Scan(&n); err == nil && n > 0 {
			s.settings[joinSidesSetting] = "false"
		}
	})
	return clickhouse.Context(ctx, clickhouse.WithSettings(s.settings))
}

var namePattern = regexp.MustCompile(`^[\p{L}\p{N}_.:\-]{1,64}$`)

// cached returns the cached result of key or computes and caches it.
func cached[T any](s *Service, key string, refresh bool, compute func() (T, error)) (T, Meta, error) {
	if !refresh {
		if v, at, ok := s.cache.get(key); ok {
			return v.(T), Meta{Key: key, ComputedAt: at, Cached: true}, nil
		}
	}
	start := time.Now()
	v, err := compute()
	if err != nil {
		var zero T
		return zero, Meta{}, err
	}
	at := s.now().UTC()
	s.cache.put(key, v, at)
	return v, Meta{Key: key, ComputedAt: at, Millis: time.Since(start).Milliseconds()}, nil
}

// cache keeps results by key for a time, at most n of them (the oldest
// goes first).
type cache struct {
	mu    sync.Mutex
	ttl   time.Duration
	n     int
	now   func() time.Time
	items map[string]cacheItem
}

type cacheItem struct {
	v  any
	at time.Time
}

func newCache(ttl time.Duration, n int, now func() time.Time) *cache {
	return &cache{ttl: ttl, n: n, now: now, items: map[string]cacheItem{}}
}

func (c *cache) get(key string) (any, time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.items[key]
	if !ok || c.now().UTC().Sub(it.at) > c.ttl {
		return nil, time.Time{}, false
	}
	return it.v, it.at, true
}

func (c *cache) put(key string, v any, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; !ok && len(c.items) >= c.n {
		oldest := ""
		for k, it := range c.items {
			if oldest == "" || it.at.Before(c.items[oldest].at) {
				oldest = k
			}
		}
		delete(c.items, oldest)
	}
	c.items[key] = cacheItem{v: v, at: at}
}
