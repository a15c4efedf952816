package api

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/campaigns"
)

// answerCampaignErr maps campaign errors to HTTP; it reports whether err
// was answered.
func (s *Server) answerCampaignErr(c *gin.Context, err error) bool {
	var fe *campaigns.FieldError
	switch {
	case err == nil:
		return false
	case errors.As(err, &fe):
		fail(c, http.StatusBadRequest, CodeInvalid, fe.Message, fe.Field)
	case errors.Is(err, campaigns.ErrNotFound):
		fail(c, http.StatusNotFound, CodeNotFound, "no such offer or campaign", "id")
	default:
		s.internal(c, err)
	}
	return true
}

func (s *Server) saveOffer(c *gin.Context) {
	var o campaigns.Offer
	if !bindJSON(c, &o) {
		return
	}
	o.ID = c.Param("id")
	saved, err := s.campaigns.SaveOffer(c.Request.Context(), o)
	if s.answerCampaignErr(c, err) {
		return
	}
	s.audit(c, "offer.save", "offer", saved.ID, saved)
	c.JSON(http.StatusOK, saved)
}

func (s *Server) listOffers(c *gin.Context) {
	list, err := s.campaigns.Offers(c.Request.Context())
	if s.answerCampaignErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
}

func (s *Server) saveCampaign(c *gin.Context) {
	var in campaigns.Campaign
	if !bindJSON(c, &in) {
		return
	}
	in.ID = c.Param("id")
	saved, err := s.campaigns.SaveCampaign(c.Request.Context(), in, principal(c).ID)
	if s.answerCampaignErr(c, err) {
		return
	}
	s.audit(c, "campaign.save", "campaign", saved.ID, saved)
	c.JSON(http.StatusOK, saved)
}

func (s *Server) listCampaigns(c *gin.Context) {
	list, err := s.campaigns.Campaigns(c.Request.Context())
	if s.answerCampaignErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
}

func (s *Server) getCampaign(c *gin.Context) {
	got, err := s.campaigns.Campaign(c.Request.Context(), c.Param("id"))
	if s.answerCampaignErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, got)
}

func (s *Server) previewCampaign(c *gin.Context) {
	plan, samples, err := s.campaigns.Preview(c.Request.Context(), c.Param("id"))
	if s.answerCampaignErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"counts": plan.Counts, "excluded": plan.Excluded, "holdout_excluded": plan.HoldoutExcluded, "samples": samples})
}

func (s *Server) launchCampaign(c *gin.Context) {
	got, plan, err := s.campaigns.Launch(c.Request.Context(), c.Param("id"), principal(c).ID)
	if s.answerCampaignErr(c, err) {
		return
	}
	s.audit(c, "campaign.launch", "campaign", got.ID, gin.H{"counts": plan.Counts, "excluded": plan.Excluded, "holdout_excluded": plan.HoldoutExcluded})
	c.JSON(http.StatusOK, gin.H{"campaign": got, "counts": plan.Counts, "excluded": plan.Excluded, "holdout_excluded": plan.HoldoutExcluded})
}

func (s *Server) campaignResults(c *gin.Context) {
	u, err := s.campaigns.Results(c.Request.Context(), c.Param("id"))
	if s.answerCampaignErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, u)
}

// campaignTasks lists a campaign's channel tasks: WeCom add_msg_template
// tasks per staff member, robot posts, webhook batches, with their state.
func (s *Server) campaignTasks(c *gin.Context) {
	if _, err := s.campaigns.Campaign(c.Request.Context(), c.Param("id")); s.answerCampaignErr(c, err) {
		return
	}
	list, err := s.campaigns.Tasks(c.Request.Context(), c.Param("id"))
	if s.answerCampaignErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
}

type consentRequest struct {
	Channel string `json:"channel"`
	Kind    string `json:"kind"`
	Granted *bool  `json:"granted"`
}

// setConsent records an opt-out or a sensitive-targeting consent for a
// person (marketer: customer service takes such requests).
func (s *Server) setConsent(c *gin.Context) {
	n, err := strconv.ParseUint(c.Param("id"), 10, 32)
	if err != nil || n == 0 {
		fail(c, http.StatusBadRequest, CodeInvalid, "person id must be a positive integer", "id")
		return
	}
	var req consentRequest
	if !bindJSON(c, &req) {
		return
	}
	if req.Granted == nil {
		fail(c, http.StatusBadRequest, CodeInvalid, "granted (true or false) is required", "granted")
		return
	}
	p := uint32(n)
	if s.identity != nil {
		p = s.identity.Graph.Canonical(p)
	}
	err = s.campaigns.SetConsent(c.Request.Context(), p, req.Channel, req.Kind, *req.Granted, "api")
	if s.answerCampaignErr(c, err) {
		return
	}
	s.audit(c, "consent."+req.Kind, "person", strconv.FormatUint(uint64(p), 10), req)
	c.Status(http.StatusNoContent)
}
