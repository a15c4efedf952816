package api

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/segments"
)

// personParam reads the :id path parameter as a person id.
func personParam(c *gin.Context) (uint32, bool) {
	n, err := strconv.ParseUint(c.Param("id"), 10, 32)
	if err != nil || n == 0 {
		fail(c, http.StatusBadRequest, CodeInvalid, "person id must be a positive integer", "id")
		return 0, false
	}
	return uint32(n), true
}

func (s *Server) answerProfile(c *gin.Context, p uint32) {
	pr, err := s.identity.Profile(c.Request.Context(), p, time.Now())
	if errors.Is(err, identity.ErrNoSuchPerson) {
		fail(c, http.StatusNotFound, CodeNotFound, "no such person", "id")
		return
	}
	if err != nil {
		s.internal(c, err)
		return
	}
	out := profileAnswer{Profile: pr, Segments: []segments.Definition{}, Campaigns: []campaigns.Received{}}
	if s.segments != nil {
		out.Segments = s.segments.SegmentsOf(pr.PersonID)
	}
	if s.campaigns != nil {
		if out.Campaigns, err = s.campaigns.ReceivedBy(c.Request.Context(), pr.Persons); err != nil {
			s.internal(c, err)
			return
		}
	}
	c.JSON(http.StatusOK, out)
}

// profileAnswer is the 360° profile with the segments the person is in
// and the campaigns they were planned into.
type profileAnswer struct {
	*identity.Profile
	Segments  []segments.Definition `json:"segments"`
	Campaigns []campaigns.Received  `json:"campaigns"`
}

func (s *Server) profile(c *gin.Context) {
	if p, ok := personParam(c); ok {
		s.answerProfile(c, p)
	}
}

// profileLookup finds a person by an identifier; a phone is given in
// clear and matched by its keyed hash.
func (s *Server) profileLookup(c *gin.Context) {
	typ, value := c.Query("type"), c.Query("value")
	if !identity.KnownType(typ) {
		fail(c, http.StatusBadRequest, CodeInvalid, "type must be an identifier type such as phone, unionid, wecom_external_userid, douyin_openid, member_no", "type")
		return
	}
	v, err := identity.Normalize(typ, value)
	if err != nil {
		fail(c, http.StatusBadRequest, CodeInvalid, err.Error(), "value")
		return
	}
	if typ == identity.Phone {
		v = s.identity.Protector.Hash(v)
	} else {
		v = s.identity.Protector.ScrubText(v, nil) // as ingest stored it: an id made of a phone number is its token
	}
	p, ok := s.identity.Graph.Lookup(identity.Identifier{Type: typ, Value: v})
	if !ok {
		fail(c, http.StatusNotFound, CodeNotFound, "no person has this identifier", "value")
		return
	}
	s.answerProfile(c, p)
}

func (s *Server) personMerges(c *gin.Context) {
	if p, ok := personParam(c); ok {
		c.JSON(http.StatusOK, gin.H{"person_id": s.identity.Graph.Canonical(p), "items": s.identity.Graph.MergesOf(p)})
	}
}

func (s *Server) unmerge(c *gin.Context) {
	id, err := strconv.ParseUint(c.Param("id"), 10, 64)
	if err != nil {
		fail(c, http.StatusBadRequest, CodeInvalid, "merge id must be a positive integer", "id")
		return
	}
	res, err := s.identity.Unmerge(c.Request.Context(), id, principal(c).ID)
	switch {
	case errors.Is(err, identity.ErrNoSuchMerge):
		fail(c, http.StatusNotFound, CodeNotFound, "no such merge", "id")
	case errors.Is(err, identity.ErrMergeUndone), errors.Is(err, identity.ErrMergeChanged):
		fail(c, http.StatusConflict, "conflict", err.Error(), "id")
	case err != nil:
		s.internal(c, err)
	default:
		if s.segments != nil {
			s.segments.Touched(append(res.Persons, res.Survivor), []string{segments.KindPersons})
		}
		s.audit(c, "identity.unmerge", "merge", c.Param("id"), gin.H{"survivor": res.Survivor, "person": res.Person, "persons": res.Persons, "rule": res.Merge.Rule}) // no identifier values: they would outlive an erasure
		c.JSON(http.StatusOK, res)
	}
}

func (s *Server) erase(c *gin.Context) {
	p, ok := personParam(c)
	if !ok {
		return
	}
	// Segments first: leaving them logs exits, which the erasure then
	// deletes with everything else that names the person.
	if s.segments != nil {
		if err := s.segments.Forget(c.Request.Context(), s.identity.Graph.Cluster(p)); err != nil {
			s.internal(c, err)
			return
		}
	}
	persons, err := s.identity.Erase(c.Request.Context(), p, principal(c).ID)
	if errors.Is(err, identity.ErrNoSuchPerson) {
		fail(c, http.StatusNotFound, CodeNotFound, "no such person", "id")
		return
	}
	if err != nil {
		s.internal(c, err)
		return
	}
	s.audit(c, "person.erase", "person", c.Param("id"), gin.H{"persons": persons})
	c.JSON(http.StatusOK, gin.H{"erased": persons})
}

func (s *Server) identityRules(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"items": s.identity.Graph.Rules().List(),
		"persons": s.identity.Graph.Persons(), "identifiers": s.identity.Graph.Identifiers()})
}
