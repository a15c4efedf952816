package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/wecomops"
)

// momentRoutes are the customer-moment tasks (客户朋友圈, add_moment_task)
// and their results (docs/wecom.md).
func (s *Server) momentRoutes(v1 *gin.RouterGroup) {
	v1.GET("/wecom/moments", s.listMoments)
	v1.POST("/wecom/moments", requireRole(RoleMarketer), s.createMoment)
	v1.GET("/wecom/moments/:id", s.getMoment)
}

func (s *Server) listMoments(c *gin.Context) {
	limit, ok := limitParam(c, 100, 1000)
	if !ok {
		return
	}
	list, err := s.wecomOps.Moments(c.Request.Context(), limit)
	if s.answerContactErr(c, err, "moment task") {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": nonNilSlice(list)})
}

// createMoment creates a moment task: 201 with its status (submitted;
// queued when WeCom asked to wait; creating when its answer was lost:
// the loop settles it), 400 naming the field, 502 when WeCom refused it.
func (s *Server) createMoment(c *gin.Context) {
	var req wecomops.MomentInput
	if !bindJSON(c, &req) {
		return
	}
	m, err := s.wecomOps.CreateMoment(c.Request.Context(), req, principal(c).ID)
	if s.answerContactErr(c, err, "moment task") {
		return
	}
	s.audit(c, "wecom_moment.create", "wecom_moment", m.ID, m)
	c.JSON(http.StatusCreated, m)
}

func (s *Server) getMoment(c *gin.Context) {
	m, err := s.wecomOps.GetMoment(c.Request.Context(), c.Param("id"))
	if errors.Is(err, wecomops.ErrNotFound) {
		fail(c, http.StatusNotFound, CodeNotFound, "no such moment task", "id")
		return
	}
	if s.answerContactErr(c, err, "moment task") {
		return
	}
	c.JSON(http.StatusOK, m)
}
