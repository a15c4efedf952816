package api

import (
	"errors"
	"fmt"
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

// disclosure is how much of personal identifiers the caller sees: analysts
// see every identifier masked, marketers and admins the platform ids in
// full; phones and e-mail addresses are masked for all (identity/mask.go).
func disclosure(c *gin.Context) identity.Disclosure {
	if principal(c).Role.Allows(RoleMarketer) {
		return identity.ShowIDs
	}
	return identity.MaskAll
}

func (s *Server) answerProfile(c *gin.Context, p uint32) {
	pr, err := s.identity.Profile(c.Request.Context(), p, time.Now(), disclosure(c))
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
// clear and matched by its keyed hash. Looking up by a personal identifier
// (identity.Personal: phones, e-mails, platform ids, member numbers) needs
// the marketer role: an analyst who could would unmask a phone from its
// mask by trying the hidden digits. Every call is audited with the type,
// the outcome and the person found, never the value, and is limited by
// the token's own lookup bucket (RateLimits.Lookup, on the route).
func (s *Server) profileLookup(c *gin.Context) {
	typ, value := c.Query("type"), c.Query("value")
	if !identity.KnownType(typ) {
		fail(c, http.StatusBadRequest, CodeInvalid, "type must be an identifier type such as phone, unionid, wecom_external_userid, douyin_openid, member_no", "type")
		return
	}
	if identity.Personal(typ) && !principal(c).Role.Allows(RoleMarketer) {
		s.auditLookup(c, typ, "forbidden", 0)
		fail(c, http.StatusForbidden, CodeForbidden, fmt.Sprintf("looking a person up by %s needs the marketer role (role %s may look up by anonymous_id or device_id, or open a profile by its person id)", typ, principal(c).Role), "type")
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
		s.auditLookup(c, typ, "not_found", 0)
		fail(c, http.StatusNotFound, CodeNotFound, "no person has this identifier", "value")
		return
	}
	s.auditLookup(c, typ, "found", s.identity.Graph.Canonical(p))
	s.answerProfile(c, p)
}

// auditLookup records a lookup: who, by which type, the outcome and the
// person found. Never the value: the audit log outlives erasures, and a
// value in it would be a list of the numbers someone tried.
func (s *Server) auditLookup(c *gin.Context, typ, outcome string, p uint32) {
	id := ""
	if p != 0 {
		id = strconv.FormatUint(uint64(p), 10)
	}
	s.audit(c, "profile.lookup", "person", id, gin.H{"type": typ, "outcome": outcome})
}

func (s *Server) personMerges(c *gin.Context) {
	p, ok := personParam(c)
	if !ok {
		return
	}
	merges := s.identity.Graph.MergesOf(p)
	if err := s.identity.MaskMerges(c.Request.Context(), merges, disclosure(c)); err != nil {
		s.internal(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"person_id": s.identity.Graph.Canonical(p), "items": merges})
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
		merges := []identity.Merge{res.Merge}
		if err := s.identity.MaskMerges(c.Request.Context(), merges, disclosure(c)); err != nil {
			s.internal(c, err)
			return
		}
		res.Merge = merges[0]
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
