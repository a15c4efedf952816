package api

import (
	"errors"
	"net/http"
	"regexp"
	"sort"

	"github.com/gin-gonic/gin"
)

type createTokenRequest struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// createdCredential is answered once; the secret is not stored and cannot
// be shown again.
type createdCredential struct {
	Principal
	Secret string `json:"secret"`
}

var sourceRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

func (s *Server) createToken(c *gin.Context) {
	var req createTokenRequest
	if !bindJSON(c, &req) {
		return
	}
	if req.Name == "" {
		fail(c, http.StatusBadRequest, CodeInvalid, "name is required", "name")
		return
	}
	if req.Role.rank() == 0 {
		fail(c, http.StatusBadRequest, CodeInvalid, "role must be admin, marketer or analyst", "role")
		return
	}
	p := Principal{ID: newID("tok_"), Name: req.Name, Role: req.Role}
	secret := NewSecret("cdp_at_")
	if err := s.creds.PutToken(c.Request.Context(), p, secret, principal(c).ID); err != nil {
		s.internal(c, err)
		return
	}
	s.audit(c, "token.create", "api_token", p.ID, p)
	c.JSON(http.StatusCreated, createdCredential{p, secret})
}

type createWriteKeyRequest struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	// Scope defaults to client, the least privilege: a key created
	// without thinking about it cannot send orders or imports.
	Scope Scope `json:"scope"`
}

func (s *Server) createWriteKey(c *gin.Context) {
	var req createWriteKeyRequest
	if !bindJSON(c, &req) {
		return
	}
	if req.Name == "" {
		fail(c, http.StatusBadRequest, CodeInvalid, "name is required", "name")
		return
	}
	if !sourceRE.MatchString(req.Source) {
		fail(c, http.StatusBadRequest, CodeInvalid, "source must be 1-32 lower-case letters, digits or _ starting with a letter (e.g. douyin, tmall, pos)", "source")
		return
	}
	if req.Scope == "" {
		req.Scope = ScopeClient
	}
	if !req.Scope.Valid() {
		fail(c, http.StatusBadRequest, CodeInvalid, "scope must be client (SDKs, web pages, mini-programs: behaviour events only) or server (kept on servers: also orders and file imports)", "scope")
		return
	}
	p := Principal{ID: newID("wk_"), Name: req.Name, Source: req.Source, Scope: req.Scope}
	secret := NewSecret("cdp_wk_")
	if err := s.creds.PutWriteKey(c.Request.Context(), p, secret, principal(c).ID); err != nil {
		s.internal(c, err)
		return
	}
	s.audit(c, "write_key.create", "write_key", p.ID, p)
	c.JSON(http.StatusCreated, createdCredential{p, secret})
}

func (s *Server) listCredentials(writeKeys bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		list := s.creds.List(writeKeys)
		sort.Slice(list, func(i, j int) bool { return list[i].ID < list[j].ID })
		c.JSON(http.StatusOK, gin.H{"items": list})
	}
}

func (s *Server) revokeCredential(table string) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.Param("id")
		err := s.creds.Revoke(c.Request.Context(), table, id)
		if errors.Is(err, ErrNoSuchCredential) {
			fail(c, http.StatusNotFound, CodeNotFound, "no live credential with id "+id, "id")
			return
		}
		if err != nil {
			s.internal(c, err)
			return
		}
		s.audit(c, "credential.revoke", table, id, nil)
		c.Status(http.StatusNoContent)
	}
}
