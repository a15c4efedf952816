package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// RateLimit is a token bucket: PerSecond requests a second on average,
// with bursts of up to Burst. The zero value (PerSecond 0) is no limit.
type RateLimit struct {
	PerSecond float64
	Burst     int
}

// Off tells whether the limit is disabled.
func (l RateLimit) Off() bool { return l.PerSecond <= 0 }

func (l RateLimit) String() string {
	if l.Off() {
		return "0"
	}
	return strconv.FormatFloat(l.PerSecond, 'f', -1, 64) + ":" + strconv.Itoa(l.Burst)
}

// ParseRateLimit reads "rate" or "rate:burst" (requests per second, and
// the largest burst; the burst defaults to twice the rate and is at least
// 1). "0" or "" disables the limit.
func ParseRateLimit(s string) (RateLimit, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return RateLimit{}, nil
	}
	rateS, burstS, hasBurst := strings.Cut(s, ":")
	rate, err := strconv.ParseFloat(rateS, 64)
	if err != nil || rate < 0 || math.IsInf(rate, 0) || math.IsNaN(rate) {
		return RateLimit{}, fmt.Errorf("rate limit %q: want requests per second, optionally :burst (e.g. 50:200), or 0 for none", s)
	}
	if rate == 0 {
		return RateLimit{}, nil
	}
	burst := max(int(math.Ceil(2*rate)), 1)
	if hasBurst {
		if burst, err = strconv.Atoi(burstS); err != nil || burst < 1 {
			return RateLimit{}, fmt.Errorf("rate limit %q: the burst after ':' must be a whole number of at least 1", s)
		}
	}
	return RateLimit{PerSecond: rate, Burst: burst}, nil
}

// RateLimits are the per-credential limits of the server: each write key
// has its own bucket for /v1 ingest calls, each API token its own for
// /api/v1 calls, another for estimates and overlaps and another for
// profile lookups. A call over a limit gets 429 with Retry-After.
type RateLimits struct {
	Ingest RateLimit // per write key, requests (an HTTP call, however many records it carries)
	API    RateLimit // per API token
	// Estimate is per API token too, for estimates and overlaps only
	// (they evaluate a rule, the API's costliest calls), on top of API.
	Estimate RateLimit
	// Lookup is per API token for GET /api/v1/profiles/lookup, on top of
	// API: finding a person by a phone or another identifier is what an
	// enumeration of candidate values does, so it gets a bucket of its
	// own, far stricter than the API's (DefaultLookupLimit).
	Lookup RateLimit
	// WeComCallback limits GET and POST /wecom/callback per source address
	// (the peer: no proxy is trusted), before the signature is checked.
	WeComCallback RateLimit
	// Registerer receives cdp_rate_limited_total (nil: not registered).
	Registerer prometheus.Registerer
	// Now is the clock (time.Now when nil), for tests.
	Now func() time.Time
}

// DefaultLookupLimit is 3 lookups a minute per token with bursts of 10:
// enough for a customer-service desk taking calls (each caller looked up
// once), while enumerating the 10^4 middle digits hidden by a phone mask
// (138****5678, as masks showed before) would take 10 at once and then
// 9,990 / 0.05 per second = 199,800 s, about 55 hours, per token, each
// try audited.
var DefaultLookupLimit = RateLimit{PerSecond: 0.05, Burst: 10}

// CodeRateLimited is the error code of a 429 answer.
const CodeRateLimited = "rate_limited"

// bucket is one credential's token bucket.
type bucket struct {
	tokens float64
	last   time.Time
}

// limiter keeps one bucket per credential id (or source address). It is
// safe for concurrent use. A full bucket is the same as none, so buckets
// that have filled up again are forgotten whenever the map has doubled:
// memory is bounded by the ids seen within Burst/PerSecond seconds.
type limiter struct {
	limit RateLimit
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
	sweepAt int // forget full buckets once this many are held
}

func newLimiter(l RateLimit, now func() time.Time) *limiter {
	return &limiter{limit: l, now: now, buckets: map[string]*bucket{}}
}

// take removes one token from id's bucket. When none is left it returns
// false and how long until one is.
func (l *limiter) take(id string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[id]
	if b == nil {
		if len(l.buckets) >= l.sweepAt {
			l.forgetFull(now)
			l.sweepAt = max(1024, 2*len(l.buckets))
		}
		b = &bucket{tokens: float64(l.limit.Burst), last: now}
		l.buckets[id] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(float64(l.limit.Burst), b.tokens+elapsed*l.limit.PerSecond)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.limit.PerSecond * float64(time.Second))
	return false, wait
}

// forgetFull drops the buckets that have filled up again. l.mu is held.
func (l *limiter) forgetFull(now time.Time) {
	for id, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.limit.PerSecond >= float64(l.limit.Burst) {
			delete(l.buckets, id)
		}
	}
}

// rateLimiters are the server's limiters and their metric.
type rateLimiters struct {
	ingest, api, estimate, lookup *limiter
	wecomCallback                 *limiter
	limited                       *prometheus.CounterVec
}

func newRateLimiters(o RateLimits) *rateLimiters {
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &rateLimiters{limited: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "cdp_rate_limited_total",
		Help: "Calls refused with 429 because their write key (kind=ingest), API token (kind=api; kind=estimate for estimates and overlaps, kind=lookup for profile lookups) or source address (kind=wecom_callback) exceeded its rate limit.",
	}, []string{"kind"})}
	if !o.Ingest.Off() {
		r.ingest = newLimiter(o.Ingest, o.Now)
	}
	if !o.API.Off() {
		r.api = newLimiter(o.API, o.Now)
	}
	if !o.Estimate.Off() {
		r.estimate = newLimiter(o.Estimate, o.Now)
	}
	if !o.Lookup.Off() {
		r.lookup = newLimiter(o.Lookup, o.Now)
	}
	if !o.WeComCallback.Off() {
		r.wecomCallback = newLimiter(o.WeComCallback, o.Now)
	}
	for _, kind := range []string{"ingest", "api", "estimate", "lookup", "wecom_callback"} {
		r.limited.WithLabelValues(kind).Add(0)
	}
	if o.Registerer != nil {
		o.Registerer.MustRegister(r.limited)
	}
	return r
}

// rateLimit answers 429 when the authenticated caller (the principal set
// by requireWriteKey or requireToken before it) has no token left in its
// bucket. kind is "ingest", "api", "estimate" or "lookup".
func (s *Server) rateLimit(kind string) gin.HandlerFunc {
	l, what := s.limits.api, "API token"
	switch kind {
	case "ingest":
		l, what = s.limits.ingest, "write key"
	case "estimate":
		l, what = s.limits.estimate, "API token for estimates and overlaps"
	case "lookup":
		l, what = s.limits.lookup, "API token's profile lookup"
	}
	if l == nil {
		return func(c *gin.Context) {}
	}
	return func(c *gin.Context) {
		if ok, wait := l.take(principal(c).ID); !ok {
			s.refuseOverLimit(c, kind, l, wait, "Authorization", func(rate string, secs int) string {
				return fmt.Sprintf("rate limit of this %s exceeded (%s); retry after %d s", what, rate, secs)
			})
		}
	}
}

// refuseOverLimit answers 429 with Retry-After (whole seconds, at least
// one) for a call limiter l refused, counts it under kind, and says why
// with message(the limit as "N requests/s, burst B", seconds to wait).
func (s *Server) refuseOverLimit(c *gin.Context, kind string, l *limiter, wait time.Duration, field string, message func(rate string, secs int) string) {
	s.limits.limited.WithLabelValues(kind).Inc()
	secs := max(int(math.Ceil(wait.Seconds())), 1)
	c.Header("Retry-After", strconv.Itoa(secs))
	rate := fmt.Sprintf("%s requests/s, burst %d", strconv.FormatFloat(l.limit.PerSecond, 'f', -1, 64), l.limit.Burst)
	fail(c, http.StatusTooManyRequests, CodeRateLimited, message(rate, secs), field)
}

// callbackRateLimit answers 429 when the source address of a
// /wecom/callback request has no token left. Signatures are cheap to
// check, but each accepted callback may cost a WeCom API call.
func (s *Server) callbackRateLimit() gin.HandlerFunc {
	l := s.limits.wecomCallback
	if l == nil {
		return func(c *gin.Context) {}
	}
	return func(c *gin.Context) {
		if ok, wait := l.take(c.ClientIP()); !ok {
			s.refuseOverLimit(c, "wecom_callback", l, wait, "", func(rate string, secs int) string {
				return fmt.Sprintf("too many WeCom callbacks from this address (%s); retry after %d s", rate, secs)
			})
		}
	}
}
