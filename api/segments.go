package api

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/segments"
)

// answerSegmentErr maps segment errors to HTTP; it reports whether err was
// answered.
func (s *Server) answerSegmentErr(c *gin.Context, err error) bool {
	var re *segments.RuleError
	switch {
	case err == nil:
		return false
	case errors.As(err, &re):
		c.AbortWithStatusJSON(http.StatusBadRequest, Error{Code: "invalid_rule", Message: re.Message, Field: "rule", Line: re.Line, Column: re.Column})
	case errors.Is(err, segments.ErrNotFound):
		fail(c, http.StatusNotFound, CodeNotFound, "no such segment", "id")
	case errors.Is(err, segments.ErrCycle), errors.Is(err, segments.ErrUnknownSegment):
		fail(c, http.StatusBadRequest, "invalid_rule", err.Error(), "rule")
	case errors.Is(err, segments.ErrTooCostly):
		fail(c, http.StatusUnprocessableEntity, CodeRuleTooCostly,
			strings.TrimPrefix(err.Error(), "segments: ")+"; save the segment again with a condition the check accepts", "rule")
	default:
		s.internal(c, err)
	}
	return true
}

// CodeRuleTooCostly answers a rule saved before the per-customer cost
// check whose condition went over the budget (segments.ErrTooCostly);
// CodeDeadlineExceeded an estimate or overlap that ran past its deadline.
const (
	CodeRuleTooCostly    = "rule_too_costly"
	CodeDeadlineExceeded = "deadline_exceeded"
)

// DefaultEstimateTimeout is the deadline of an estimate or overlap. A
// warm estimate takes 2-24 ms for 1-10 million customers; the slowest
// legitimate one is the first after a restart, which loads the trait
// index and the rule's leaves from ClickHouse: 2.3 s for 1 million
// customers, 21.6 s for 10 million (docs/segments.md). 30 s leaves that
// a 40% margin and holds a core at most 30 s per call.
const DefaultEstimateTimeout = 30 * time.Second

// estimateContext is the request's context with the estimate deadline.
func (s *Server) estimateContext(c *gin.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request.Context(), s.opts.EstimateTimeout)
}

// answerEstimateErr is answerSegmentErr for a call under estimateContext:
// whatever error the deadline caused (the engine's, ClickHouse's) is 503
// deadline_exceeded.
func (s *Server) answerEstimateErr(c *gin.Context, ctx context.Context, err error) bool {
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		fail(c, http.StatusServiceUnavailable, CodeDeadlineExceeded, fmt.Sprintf("not finished within %v: the first estimate "+
			"after a restart loads the customers' traits and may be retried; otherwise narrow the rule", s.opts.EstimateTimeout), "rule")
		return true
	}
	return s.answerSegmentErr(c, err)
}

type estimateRequest struct {
	Rule   string `json:"rule"`
	Sample int    `json:"sample"`
}

func (s *Server) estimate(c *gin.Context) {
	var req estimateRequest
	if !bindJSON(c, &req) {
		return
	}
	if strings.TrimSpace(req.Rule) == "" {
		fail(c, http.StatusBadRequest, CodeInvalid, "rule is required", "rule")
		return
	}
	if req.Sample == 0 {
		req.Sample = 20
	}
	ctx, cancel := s.estimateContext(c)
	defer cancel()
	est, err := s.segments.Engine().Estimate(ctx, req.Rule, req.Sample)
	if s.answerEstimateErr(c, ctx, err) {
		return
	}
	c.JSON(http.StatusOK, est)
}

type segmentRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Rule        string `json:"rule"`
	Live        *bool  `json:"live"`
}

func (s *Server) saveSegment(c *gin.Context) {
	var req segmentRequest
	if !bindJSON(c, &req) {
		return
	}
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > 100 {
		fail(c, http.StatusBadRequest, CodeInvalid, "name is required (at most 100 characters)", "name")
		return
	}
	if strings.TrimSpace(req.Rule) == "" {
		fail(c, http.StatusBadRequest, CodeInvalid, "rule is required", "rule")
		return
	}
	d := segments.Definition{ID: c.Param("id"), Name: name, Description: req.Description, Rule: req.Rule, Live: req.Live == nil || *req.Live}
	saved, err := s.segments.Save(c.Request.Context(), d, principal(c).ID)
	if s.answerSegmentErr(c, err) {
		return
	}
	action, status := "segment.update", http.StatusOK
	if d.ID == "" {
		action, status = "segment.create", http.StatusCreated
	}
	s.audit(c, action, "segment", saved.ID, gin.H{"version": saved.Version, "name": saved.Name, "rule": saved.Rule})
	c.JSON(status, saved)
}

func (s *Server) listSegments(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"items": s.segments.List()})
}

func (s *Server) getSegment(c *gin.Context) {
	d, err := s.segments.Get(c.Param("id"))
	if s.answerSegmentErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, d)
}

func (s *Server) segmentVersions(c *gin.Context) {
	h, err := s.segments.History(c.Request.Context(), c.Param("id"))
	if s.answerSegmentErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": h})
}

func (s *Server) deleteSegment(c *gin.Context) {
	err := s.segments.Delete(c.Request.Context(), c.Param("id"), principal(c).ID)
	if errors.Is(err, segments.ErrNotFound) || err == nil {
		if s.answerSegmentErr(c, err) {
			return
		}
		s.audit(c, "segment.delete", "segment", c.Param("id"), nil)
		c.Status(http.StatusNoContent)
		return
	}
	fail(c, http.StatusConflict, "conflict", err.Error(), "id")
}

func (s *Server) recomputeSegment(c *gin.Context) {
	d, err := s.segments.Recompute(c.Request.Context(), c.Param("id"))
	if s.answerSegmentErr(c, err) {
		return
	}
	s.audit(c, "segment.recompute", "segment", d.ID, gin.H{"version": d.Version, "size": d.Size})
	c.JSON(http.StatusOK, d)
}

// segmentMembers exports members: JSON ids (paged by limit/offset) or CSV.
func (s *Server) segmentMembers(c *gin.Context) {
	bm, err := s.segments.Members(c.Param("id"))
	if s.answerSegmentErr(c, err) {
		return
	}
	if c.Query("format") == "csv" {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="`+c.Param("id")+`.csv"`)
		w := csv.NewWriter(c.Writer)
		_ = w.Write([]string{"person_id"})
		it := bm.Iterator()
		for it.HasNext() {
			_ = w.Write([]string{strconv.FormatUint(uint64(it.Next()), 10)})
		}
		w.Flush()
		return
	}
	limit, _ := strconv.Atoi(c.DefaultQuery("limit", "1000"))
	offset, _ := strconv.Atoi(c.DefaultQuery("offset", "0"))
	if limit < 1 || limit > 100_000 || offset < 0 {
		fail(c, http.StatusBadRequest, CodeInvalid, "limit must be 1..100000 and offset not negative", "limit")
		return
	}
	ids := make([]uint32, 0, min(limit, int(bm.GetCardinality())))
	it := bm.Iterator()
	for i := 0; it.HasNext() && len(ids) < limit; i++ {
		v := it.Next()
		if i >= offset {
			ids = append(ids, v)
		}
	}
	c.JSON(http.StatusOK, gin.H{"total": bm.GetCardinality(), "offset": offset, "items": ids})
}

type overlapRequest struct {
	A string `json:"a"` // a segment id or a rule
	B string `json:"b"`
}

func (s *Server) overlap(c *gin.Context) {
	var req overlapRequest
	if !bindJSON(c, &req) {
		return
	}
	e := s.segments.Engine()
	compile := func(ref, field string) (*segments.Compiled, bool) {
		rule := ref
		if d, err := s.segments.Get(ref); err == nil {
			rule = d.Rule
		}
		comp, err := e.Check(rule)
		if err != nil {
			var re *segments.RuleError
			if errors.As(err, &re) {
				c.AbortWithStatusJSON(http.StatusBadRequest, Error{Code: "invalid_rule", Message: re.Message, Field: field, Line: re.Line, Column: re.Column})
				return nil, false
			}
			s.internal(c, err)
			return nil, false
		}
		return comp, true
	}
	a, ok := compile(req.A, "a")
	if !ok {
		return
	}
	b, ok := compile(req.B, "b")
	if !ok {
		return
	}
	ctx, cancel := s.estimateContext(c)
	defer cancel()
	o, err := e.Overlap(ctx, a, b)
	if s.answerEstimateErr(c, ctx, err) {
		return
	}
	c.JSON(http.StatusOK, o)
}
