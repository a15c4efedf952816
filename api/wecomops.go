package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/wecomops"
)

// wecomOpsRoutes are WeCom private-domain operations: the corp tag library
// and segment → corp tag syncs (docs/wecom.md).
func (s *Server) wecomOpsRoutes(v1 *gin.RouterGroup) {
	marketer := requireRole(RoleMarketer)
	v1.GET("/wecom/tags", s.listWeComTags)
	v1.GET("/wecom/tag-syncs", s.listTagSyncs)
	v1.POST("/wecom/tag-syncs", marketer, s.createTagSync)
	v1.GET("/wecom/tag-syncs/:id", s.getTagSync)
	v1.POST("/wecom/tag-syncs/:id/stop", marketer, s.stopTagSync)
}

// answerWeComOpsErr maps wecomops errors to HTTP; it reports whether err
// was answered.
func (s *Server) answerWeComOpsErr(c *gin.Context, err error) bool {
	var fe *wecomops.FieldError
	switch {
	case err == nil:
		return false
	case errors.As(err, &fe):
		fail(c, http.StatusBadRequest, CodeInvalid, fe.Message, fe.Field)
	case errors.Is(err, wecomops.ErrNotFound):
		fail(c, http.StatusNotFound, CodeNotFound, "no such tag sync", "id")
	default:
		s.internal(c, err)
	}
	return true
}

func (s *Server) listWeComTags(c *gin.Context) {
	list, err := s.wecomOps.Library(c.Request.Context())
	if s.answerWeComOpsErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
}

func (s *Server) listTagSyncs(c *gin.Context) {
	list, err := s.wecomOps.Reports(c.Request.Context())
	if s.answerWeComOpsErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
}

// TagSyncRequest creates a tag sync: a segment written to a corp tag.
type TagSyncRequest struct {
	SegmentID string `json:"segment_id"`
	TagID     string `json:"tag_id"`
}

func (s *Server) createTagSync(c *gin.Context) {
	var req TagSyncRequest
	if !bindJSON(c, &req) {
		return
	}
	ts, err := s.wecomOps.CreateSync(c.Request.Context(), req.SegmentID, req.TagID, principal(c).ID)
	if s.answerWeComOpsErr(c, err) {
		return
	}
	s.audit(c, "wecom_tag_sync.create", "wecom_tag_sync", ts.ID, ts)
	c.JSON(http.StatusCreated, ts)
}

func (s *Server) getTagSync(c *gin.Context) {
	ts, err := s.wecomOps.Sync(c.Request.Context(), c.Param("id"))
	if s.answerWeComOpsErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, ts)
}

func (s *Server) stopTagSync(c *gin.Context) {
	ts, err := s.wecomOps.StopSync(c.Request.Context(), c.Param("id"), principal(c).ID)
	if s.answerWeComOpsErr(c, err) {
		return
	}
	s.audit(c, "wecom_tag_sync.stop", "wecom_tag_sync", ts.ID, ts)
	c.JSON(http.StatusOK, ts)
}
