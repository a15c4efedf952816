package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// wecomGroupRoutes are the WeCom customer groups read by wecomops and the
// groups a group mass-message campaign went to (docs/wecom.md).
func (s *Server) wecomGroupRoutes(v1 *gin.RouterGroup) {
	v1.GET("/wecom/groups", s.listWeComGroups)
}

func (s *Server) listWeComGroups(c *gin.Context) {
	list, err := s.wecomOps.Groups(c.Request.Context())
	if s.answerWeComOpsErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
}

// campaignGroupSends lists the customer groups of a wecom_group campaign
// with their latest state (sending, sent, delivered, capped, skipped,
// not_sent, failed).
func (s *Server) campaignGroupSends(c *gin.Context) {
	if _, err := s.campaigns.Campaign(c.Request.Context(), c.Param("id")); s.answerCampaignErr(c, err) {
		return
	}
	list, err := s.campaigns.GroupSends(c.Request.Context(), c.Param("id"))
	if s.answerCampaignErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
}
