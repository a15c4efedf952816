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
	c.JSON(http.StatusOK, gin.H{"counts": plan.Counts, "excluded": plan.Excluded, "holdout_excluded": plan.HoldoutExcluded, "samples": samples, "sensitive": plan.Sensitive})
}

func (s *Server) launchCampaign(c *gin.Context) {
	got, plan, err := s.campaigns.Launch(c.Request.Context(), c.Param("id"), principal(c).ID)
	if s.answerCampaignErr(c, err) {
		return
	}
	s.audit(c, "campaign.launch", "campaign", got.ID, gin.H{"counts": plan.Counts, "excluded": plan.Excluded, "holdout_excluded": plan.HoldoutExcluded, "sensitive": plan.Sensitive})
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
	Channel  string `json:"channel"`
	Kind     string `json:"kind"`
	Granted  *bool  `json:"granted"`
	Source   string `json:"source"`
	Evidence string `json:"evidence"`
	Reason   string `json:"reason"`
}

// consentSources are where an admin may say a separate consent was given.
var consentSources = map[string]bool{"paper_form": true, "wecom_form": true, "web_form": true, "customer_request": true}

// setConsent records a consent change for a person. Recording an opt-out
// and withdrawing a separate consent are open to marketers (customer
// service takes such requests). Granting a separate consent needs an admin,
// its source and its evidence; undoing an opt-out needs an admin and a
// reason (the customer's own 订阅 in WeCom undoes it without anyone).
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
	in := campaigns.Consent{Channel: req.Channel, Kind: req.Kind, Granted: *req.Granted, Source: req.Source,
		Evidence: req.Evidence, Reason: req.Reason, Actor: principal(c).ID}
	if in.Channel == "" {
		in.Channel = "*"
	}
	admin := principal(c).Role.Allows(RoleAdmin)
	switch {
	case in.GrantsSensitive() && !admin:
		fail(c, http.StatusForbidden, CodeForbidden, "only an admin can record a separate consent, with its source and evidence", "granted")
		return
	case in.UndoesOptOut() && !admin:
		fail(c, http.StatusForbidden, CodeForbidden, "an opt-out is undone only by the customer's own opt-in (订阅 in WeCom) or by an admin with a reason", "granted")
		return
	case in.GrantsSensitive() && !consentSources[in.Source]:
		fail(c, http.StatusBadRequest, CodeInvalid, "source must be paper_form, wecom_form, web_form or customer_request: where the customer gave the consent", "source")
		return
	case in.Source == campaigns.SourceWeComOptIn || in.Source == campaigns.SourceWeComKeyword:
		fail(c, http.StatusBadRequest, CodeInvalid, "the customer's own WeCom messages are recorded by the platform, not through the API", "source")
		return
	case in.Source == "":
		in.Source = "api"
	}
	p := uint32(n)
	if s.identity != nil {
		p = s.identity.Graph.Canonical(p)
	}
	err = s.campaigns.SetConsent(c.Request.Context(), p, in)
	if s.answerCampaignErr(c, err) {
		return
	}
	s.audit(c, "consent."+req.Kind, "person", strconv.FormatUint(uint64(p), 10), in)
	c.Status(http.StatusNoContent)
}
