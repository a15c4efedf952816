package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/analytics"
)

// DefaultAnalyticsTimeout bounds one analysis: a 4-step funnel over 20
// million events takes about a second (docs/analytics.md); a minute leaves
// room for a cold cache and a loaded machine, and holds a core at most a
// minute per call (calls share the estimate rate limit).
const DefaultAnalyticsTimeout = time.Minute

// analyticsRoutes are funnels, retention, repurchase, LTV and lifecycle
// (any role), and saving a funnel step's people as a segment (marketers).
func (s *Server) analyticsRoutes(v1 *gin.RouterGroup) {
	opts := analytics.Options{DB: s.db}
	if s.segments != nil {
		opts.Segments = s.segments
	}
	s.analytics = analytics.New(opts)
	estimates := s.rateLimit("estimate")
	v1.POST("/analytics/funnel", estimates, s.funnel)
	v1.POST("/analytics/retention", estimates, s.retention)
	v1.POST("/analytics/repurchase", estimates, s.repurchase)
	v1.POST("/analytics/ltv", estimates, s.ltv)
	v1.POST("/analytics/lifecycle", estimates, s.lifecycle)
	if s.segments != nil {
		v1.POST("/analytics/funnel/segment", requireRole(RoleMarketer), estimates, s.saveFunnelSegment)
	}
}

// The analyses: each binds its definition and answers its result;
// ?refresh=1 skips the cache.

func (s *Server) funnel(c *gin.Context) {
	var q analytics.Funnel
	if bindJSON(c, &q) {
		s.analyze(c, func(ctx context.Context, fresh bool) (any, error) { return s.analytics.Funnel(ctx, q, fresh) })
	}
}

func (s *Server) retention(c *gin.Context) {
	var q analytics.Retention
	if bindJSON(c, &q) {
		s.analyze(c, func(ctx context.Context, fresh bool) (any, error) { return s.analytics.Retention(ctx, q, fresh) })
	}
}

func (s *Server) repurchase(c *gin.Context) {
	var q analytics.Repurchase
	if bindJSON(c, &q) {
		s.analyze(c, func(ctx context.Context, fresh bool) (any, error) { return s.analytics.Repurchase(ctx, q, fresh) })
	}
}

func (s *Server) ltv(c *gin.Context) {
	var q analytics.LTV
	if bindJSON(c, &q) {
		s.analyze(c, func(ctx context.Context, fresh bool) (any, error) { return s.analytics.LTV(ctx, q, fresh) })
	}
}

func (s *Server) lifecycle(c *gin.Context) {
	var q analytics.Lifecycle
	if bindJSON(c, &q) {
		s.analyze(c, func(ctx context.Context, fresh bool) (any, error) { return s.analytics.Lifecycle(ctx, q, fresh) })
	}
}

// analyze runs an analysis under the analytics deadline and answers its
// result.
func (s *Server) analyze(c *gin.Context, run func(ctx context.Context, fresh bool) (any, error)) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.opts.AnalyticsTimeout)
	defer cancel()
	res, err := run(ctx, c.Query("refresh") == "1")
	if s.answerAnalyticsErr(c, ctx, err) {
		return
	}
	c.JSON(http.StatusOK, res)
}

// answerAnalyticsErr answers a refused definition (400 naming the field),
// an analysis past its deadline (503) or another error (500); it reports
// whether err was answered.
func (s *Server) answerAnalyticsErr(c *gin.Context, ctx context.Context, err error) bool {
	var ie *analytics.InvalidError
	switch {
	case err == nil:
		return false
	case errors.As(err, &ie):
		fail(c, http.StatusBadRequest, CodeInvalid, ie.Message, ie.Field)
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		fail(c, http.StatusServiceUnavailable, CodeDeadlineExceeded, "the analysis did not finish within "+s.opts.AnalyticsTimeout.String()+"; narrow its range", "")
	default:
		s.internal(c, err)
	}
	return true
}

// FunnelSegmentRequest saves the people of a funnel step as a segment.
type FunnelSegmentRequest struct {
	Funnel analytics.Funnel `json:"funnel"`
	// Step is 1-based; Outcome is converted (reached it) or dropped
	// (reached the step before, not this one).
	Step    int    `json:"step"`
	Outcome string `json:"outcome"`
	// Value, when set, keeps the people of one breakdown value.
	Value       *string `json:"value,omitempty"`
	Name        string  `json:"name"`
	Description string  `json:"description,omitempty"`
}

func (s *Server) saveFunnelSegment(c *gin.Context) {
	var req FunnelSegmentRequest
	if !bindJSON(c, &req) {
		return
	}
	if req.Name = strings.TrimSpace(req.Name); req.Name == "" || len([]rune(req.Name)) > 100 {
		fail(c, http.StatusBadRequest, CodeInvalid, "name: 1 to 100 characters", "name")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.opts.AnalyticsTimeout)
	defer cancel()
	err := s.analytics.Normalize(&req.Funnel)
	var people *roaring.Bitmap
	if err == nil {
		people, err = s.analytics.FunnelPeople(ctx, req.Funnel, req.Step, req.Outcome, req.Value)
	}
	if s.answerAnalyticsErr(c, ctx, err) {
		return
	}
	origin, _ := json.Marshal(req)
	about := analytics.Describe(req.Funnel, req.Step, req.Outcome, req.Value)
	def, err := s.segments.SaveList(ctx, req.Name, req.Description, about, string(origin), people, principal(c).ID)
	if s.answerSegmentErr(c, err) {
		return
	}
	s.audit(c, "segment.save_from_funnel", "segment", def.ID, map[string]any{"rule": def.Rule, "size": def.Size})
	c.JSON(http.StatusCreated, def)
}
