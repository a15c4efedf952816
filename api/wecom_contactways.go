package api

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/wecomops"
)

// contactWayRoutes are the channel QR codes (渠道活码), their welcome
// messages, lost customers and customer transfers (docs/wecom.md).
func (s *Server) contactWayRoutes(v1 *gin.RouterGroup) {
	marketer := requireRole(RoleMarketer)
	v1.GET("/wecom/contact-ways", s.listContactWays)
	v1.POST("/wecom/contact-ways", marketer, s.createContactWay)
	v1.GET("/wecom/contact-ways/:state", s.getContactWay)
	v1.PUT("/wecom/contact-ways/:state", marketer, s.updateContactWay)
	v1.DELETE("/wecom/contact-ways/:state", marketer, s.deleteContactWay)
	v1.GET("/wecom/contact-ways/:state/qr.png", s.contactWayQR)
	v1.GET("/wecom/welcomes", s.listWelcomes)
	v1.PUT("/wecom/welcomes/:state", marketer, s.setWelcome)
	v1.DELETE("/wecom/welcomes/:state", marketer, s.deleteWelcome)
	v1.GET("/wecom/welcome-journal", s.welcomeJournal)
	v1.GET("/wecom/lost-customers", s.lostCustomers)
	v1.GET("/wecom/transfers", s.listTransfers)
	v1.POST("/wecom/transfers", marketer, s.createTransfer)
}

// answerContactErr maps the contact-way errors to HTTP: a refused field
// 400, an unknown State 404 (naming what), WeCom's refusal or absence 502;
// it reports whether err was answered.
func (s *Server) answerContactErr(c *gin.Context, err error, what string) bool {
	var fe *wecomops.FieldError
	var apiErr *wecom.APIError
	switch {
	case err == nil:
		return false
	case errors.As(err, &fe):
		fail(c, http.StatusBadRequest, CodeInvalid, fe.Message, fe.Field)
	case errors.Is(err, wecomops.ErrNotFound):
		fail(c, http.StatusNotFound, CodeNotFound, "no such "+what, "state")
	case errors.As(err, &apiErr) || wecom.IsRetryable(err):
		fail(c, http.StatusBadGateway, CodeUnavailable, "WeCom did not do it: "+err.Error(), "")
	default:
		s.internal(c, err)
	}
	return true
}

// limitParam is the limit query parameter: def when absent, 400 when not
// 1..max.
func limitParam(c *gin.Context, def, max int) (int, bool) {
	v := c.Query("limit")
	if v == "" {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		fail(c, http.StatusBadRequest, CodeInvalid, "limit must be a whole number from 1 to "+strconv.Itoa(max), "limit")
		return 0, false
	}
	return n, true
}

func (s *Server) listContactWays(c *gin.Context) {
	list, err := s.wecomOps.ContactWays(c.Request.Context())
	if s.answerContactErr(c, err, "QR code") {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": nonNilSlice(list)})
}

func (s *Server) createContactWay(c *gin.Context) {
	var req wecomops.ContactWayInput
	if !bindJSON(c, &req) {
		return
	}
	w, err := s.wecomOps.CreateContactWay(c.Request.Context(), req, principal(c).ID)
	if s.answerContactErr(c, err, "QR code") {
		return
	}
	s.audit(c, "wecom_contact_way.create", "wecom_contact_way", w.State, w)
	c.JSON(http.StatusCreated, w)
}

func (s *Server) getContactWay(c *gin.Context) {
	w, err := s.wecomOps.ContactWay(c.Request.Context(), c.Param("state"))
	if s.answerContactErr(c, err, "QR code") {
		return
	}
	c.JSON(http.StatusOK, w)
}

func (s *Server) updateContactWay(c *gin.Context) {
	var req wecomops.ContactWayInput
	if !bindJSON(c, &req) {
		return
	}
	w, err := s.wecomOps.UpdateContactWay(c.Request.Context(), c.Param("state"), req, principal(c).ID)
	if s.answerContactErr(c, err, "QR code") {
		return
	}
	s.audit(c, "wecom_contact_way.update", "wecom_contact_way", w.State, w)
	c.JSON(http.StatusOK, w)
}

func (s *Server) deleteContactWay(c *gin.Context) {
	w, err := s.wecomOps.DeleteContactWay(c.Request.Context(), c.Param("state"), principal(c).ID)
	if s.answerContactErr(c, err, "QR code") {
		return
	}
	s.audit(c, "wecom_contact_way.delete", "wecom_contact_way", w.State, w)
	c.JSON(http.StatusOK, w)
}

// contactWayQR answers the QR code's image as a PNG download named after
// its State.
func (s *Server) contactWayQR(c *gin.Context) {
	state := c.Param("state")
	img, err := s.wecomOps.QRCodePNG(c.Request.Context(), state)
	if s.answerContactErr(c, err, "QR code") {
		return
	}
	c.Header("Content-Disposition", `attachment; filename="qr.png"; filename*=UTF-8''`+url.PathEscape(state)+".png")
	c.Data(http.StatusOK, "image/png", img)
}

func (s *Server) listWelcomes(c *gin.Context) {
	list, err := s.wecomOps.Welcomes(c.Request.Context())
	if s.answerContactErr(c, err, "welcome message") {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": nonNilSlice(list)})
}

// WelcomeRequest sets a State's welcome message and automatic tags.
type WelcomeRequest struct {
	Text        string                       `json:"text"`
	Link        *wecom.LinkAttachment        `json:"link"`
	MiniProgram *wecom.MiniProgramAttachment `json:"miniprogram"`
	TagIDs      []string                     `json:"tag_ids"`
}

func (s *Server) setWelcome(c *gin.Context) {
	var req WelcomeRequest
	if !bindJSON(c, &req) {
		return
	}
	w, err := s.wecomOps.SetWelcome(c.Request.Context(), wecomops.Welcome{State: c.Param("state"), Text: req.Text,
		Link: req.Link, MiniProgram: req.MiniProgram, TagIDs: req.TagIDs}, principal(c).ID)
	if s.answerContactErr(c, err, "welcome message") {
		return
	}
	s.audit(c, "wecom_welcome.set", "wecom_welcome", w.State, w)
	c.JSON(http.StatusOK, w)
}

func (s *Server) deleteWelcome(c *gin.Context) {
	state := c.Param("state")
	if s.answerContactErr(c, s.wecomOps.DeleteWelcome(c.Request.Context(), state, principal(c).ID), "welcome message") {
		return
	}
	s.audit(c, "wecom_welcome.delete", "wecom_welcome", state, nil)
	c.Status(http.StatusNoContent)
}

func (s *Server) welcomeJournal(c *gin.Context) {
	limit, ok := limitParam(c, 200, 1000)
	if !ok {
		return
	}
	list, err := s.wecomOps.WelcomeJournal(c.Request.Context(), c.Query("open") == "true", limit)
	if s.answerContactErr(c, err, "welcome message") {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": nonNilSlice(list)})
}

func (s *Server) lostCustomers(c *gin.Context) {
	limit, ok := limitParam(c, 200, 1000)
	if !ok {
		return
	}
	statuses, ok := lossStatusParam(c)
	if !ok {
		return
	}
	list, err := s.wecomOps.LostCustomers(c.Request.Context(), statuses, limit)
	if s.answerContactErr(c, err, "lost customer") {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": nonNilSlice(list)})
}

// lossStatuses are the alert statuses a lost-customer list can be
// narrowed to.
var lossStatuses = map[string]bool{wecomops.LossPending: true, wecomops.LossPosting: true, wecomops.LossSent: true,
	wecomops.LossFailed: true, wecomops.LossUnconfirmed: true, wecomops.LossOff: true}

// lossStatusParam is the status query parameter of the lost customers
// (repeated, or comma-separated): nil when absent (every status), 400
// naming status for one that is not an alert status.
func lossStatusParam(c *gin.Context) ([]string, bool) {
	var out []string
	for _, v := range c.QueryArray("status") {
		for _, st := range strings.Split(v, ",") {
			if !lossStatuses[st] {
				fail(c, http.StatusBadRequest, CodeInvalid, "status must be pending, posting, sent, failed, unconfirmed or off, not "+strconv.Quote(st), "status")
				return nil, false
			}
			out = append(out, st)
		}
	}
	return out, true
}

func (s *Server) listTransfers(c *gin.Context) {
	limit, ok := limitParam(c, 200, 1000)
	if !ok {
		return
	}
	list, err := s.wecomOps.Transfers(c.Request.Context(), c.Query("open") == "true", limit)
	if s.answerContactErr(c, err, "transfer") {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": nonNilSlice(list)})
}

// TransferRequest hands customers from one staff member to another:
// kind on_job (the customer is asked; message shown to them) or resigned
// (a departed staff member's customers).
type TransferRequest struct {
	Kind            string   `json:"kind"`
	HandoverUserID  string   `json:"handover_userid"`
	TakeoverUserID  string   `json:"takeover_userid"`
	ExternalUserIDs []string `json:"external_userids"`
	Message         string   `json:"message"`
}

func (s *Server) createTransfer(c *gin.Context) {
	var req TransferRequest
	if !bindJSON(c, &req) {
		return
	}
	list, err := s.wecomOps.TransferCustomers(c.Request.Context(), wecom.Transfer{Kind: wecom.TransferKind(req.Kind),
		HandoverUserID: req.HandoverUserID, TakeoverUserID: req.TakeoverUserID, ExternalUserIDs: req.ExternalUserIDs, Message: req.Message})
	if s.answerContactErr(c, err, "transfer") {
		return
	}
	s.audit(c, "wecom_transfer.create", "wecom_transfer", list[0].ID, list)
	c.JSON(http.StatusCreated, gin.H{"items": list})
}

// nonNilSlice renders an empty list as [] rather than null.
func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
