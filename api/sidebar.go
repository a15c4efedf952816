package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/sidebar"
)

// sidebarRoutes are the staff sidebar's (docs/wecom.md, "The staff
// sidebar"): a session from WeCom's OAuth2 code, then, with that session
// as bearer token, the JS-SDK signatures and customers' cards. API tokens
// do not open them: a sidebar session is a staff member, not a console
// user.
func (s *Server) sidebarRoutes(g *gin.Engine) {
	sb := g.Group("/api/sidebar")
	sb.POST("/session", s.openSidebarSession)
	auth := sb.Group("", s.requireSidebarSession(), s.rateLimit("api"))
	auth.POST("/signatures", s.sidebarSignatures)
	auth.GET("/customers/:external_userid", s.sidebarCard)
}

// requireSidebarSession authenticates `Authorization: Bearer <session>`:
// a live session of POST /api/sidebar/session. The caller becomes the
// principal "sidebar:<staff userid>".
func (s *Server) requireSidebarSession() gin.HandlerFunc {
	return func(c *gin.Context) {
		secret, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || secret == "" {
			c.Header("WWW-Authenticate", `Bearer realm="cdp sidebar"`)
			fail(c, http.StatusUnauthorized, CodeUnauthorized, "missing sidebar session: send Authorization: Bearer <token of POST /api/sidebar/session>", "Authorization")
			return
		}
		sess, ok := s.sidebar.Lookup(secret)
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="cdp sidebar", error="invalid_token"`)
			fail(c, http.StatusUnauthorized, CodeUnauthorized, "unknown or expired sidebar session: open the sidebar again", "Authorization")
			return
		}
		c.Set(principalKey, Principal{ID: "sidebar:" + sess.StaffUserID, Name: sess.StaffUserID})
		c.Next()
	}
}

// answerSidebarErr maps sidebar errors to HTTP; it reports whether err was
// answered.
func (s *Server) answerSidebarErr(c *gin.Context, err error) bool {
	var fe *sidebar.FieldError
	switch {
	case err == nil:
		return false
	case errors.As(err, &fe):
		fail(c, http.StatusBadRequest, CodeInvalid, fe.Message, fe.Field)
	case errors.Is(err, sidebar.ErrBadCode):
		fail(c, http.StatusUnauthorized, CodeUnauthorized, "WeCom refused the code (unknown, already used or older than 5 minutes): open the sidebar again", "code")
	case errors.Is(err, sidebar.ErrNotStaff):
		fail(c, http.StatusForbidden, CodeForbidden, "the sidebar is for members of the corp; this WeCom user is not one", "code")
	case errors.Is(err, sidebar.ErrNotYours):
		fail(c, http.StatusForbidden, CodeForbidden, "this customer is not one of yours", "external_userid")
	case errors.Is(err, sidebar.ErrNoProfile):
		fail(c, http.StatusNotFound, CodeNotFound, "no profile for this customer yet", "external_userid")
	default:
		s.internal(c, err)
	}
	return true
}

// SidebarSessionRequest opens a sidebar session.
type SidebarSessionRequest struct {
	Code string `json:"code"`
}

func (s *Server) openSidebarSession(c *gin.Context) {
	var req SidebarSessionRequest
	if !bindJSON(c, &req) {
		return
	}
	sess, err := s.sidebar.Open(c.Request.Context(), req.Code)
	if s.answerSidebarErr(c, err) {
		return
	}
	c.JSON(http.StatusCreated, sess)
}

// SidebarSignRequest asks for the JS-SDK signatures of the page's URL.
type SidebarSignRequest struct {
	URL string `json:"url"`
}

func (s *Server) sidebarSignatures(c *gin.Context) {
	var req SidebarSignRequest
	if !bindJSON(c, &req) {
		return
	}
	sig, err := s.sidebar.Sign(c.Request.Context(), req.URL)
	if s.answerSidebarErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, sig)
}

// sidebarCard answers a customer's card; every read (and every refusal)
// is audited with the staff member, the outcome and the person shown,
// never the external id asked for (the audit log outlives erasures).
func (s *Server) sidebarCard(c *gin.Context) {
	p := principal(c)
	ext := c.Param("external_userid")
	card, err := s.sidebar.Card(c.Request.Context(), p.Name, ext)
	outcome, person := "shown", ""
	switch {
	case errors.Is(err, sidebar.ErrNotYours):
		outcome = "not_yours"
	case err != nil:
		outcome = "failed"
	default:
		person = strconv.FormatUint(uint64(card.PersonID), 10)
	}
	s.audit(c, "sidebar.card", "person", person, gin.H{"outcome": outcome})
	if s.answerSidebarErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, card)
}
