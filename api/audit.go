package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/identity"
)

// AuditEntry is one management action from cdp.audit_log: who (the API
// token id, and its name while the token lives) did what to which object.
type AuditEntry struct {
	TS         time.Time       `json:"ts"`
	Actor      string          `json:"actor"`
	ActorName  string          `json:"actor_name,omitempty"`
	Action     string          `json:"action"` // e.g. segment.update, campaign.launch, person.erase
	ObjectType string          `json:"object_type"`
	ObjectID   string          `json:"object_id"`
	Detail     json.RawMessage `json:"detail"`
}

// auditPage is the answer of GET /api/v1/admin/audit.
type auditPage struct {
	Items []AuditEntry `json:"items"`
	// NextOffset is the offset of the next (older) page; absent on the
	// last page.
	NextOffset int `json:"next_offset,omitempty"`
}

const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// auditFilters are the query parameters that narrow the audit log, and
// their columns.
var auditFilters = []struct{ param, column string }{
	{"object_type", "object_type"},
	{"object_id", "object_id"},
	{"actor", "actor"},
	{"action", "action"},
}

// listAudit answers the audit log newest first, filtered by object_type,
// object_id, actor and action (exact values), in pages of limit entries
// (default 100, at most 1000) from offset.
func (s *Server) listAudit(c *gin.Context) {
	limit, ok := intParam(c, "limit", defaultAuditLimit, 1, maxAuditLimit)
	if !ok {
		return
	}
	offset, ok := intParam(c, "offset", 0, 0, 1<<30)
	if !ok {
		return
	}
	var where []string
	var args []any
	for _, f := range auditFilters {
		if v, set := c.GetQuery(f.param); set {
			where = append(where, f.column+" = ?")
			args = append(args, v)
		}
	}
	q := "SELECT ts, actor, toString(action), toString(object_type), object_id, detail FROM " + s.db.Table("audit_log")
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	// One more than asked tells whether another page follows.
	q += " ORDER BY ts DESC, object_type, object_id, action LIMIT ? OFFSET ?"
	args = append(args, limit+1, offset)
	rows, err := s.db.Conn.Query(c.Request.Context(), q, args...)
	if err != nil {
		s.internal(c, fmt.Errorf("api: read audit log: %w", err))
		return
	}
	defer rows.Close()
	names := map[string]string{}
	for _, p := range s.creds.List(false) {
		names[p.ID] = p.Name
	}
	page := auditPage{Items: []AuditEntry{}}
	for rows.Next() {
		var e AuditEntry
		var detail string
		if err := rows.Scan(&e.TS, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &detail); err != nil {
			s.internal(c, fmt.Errorf("api: read audit log: %w", err))
			return
		}
		e.ActorName = names[e.Actor]
		e.Detail = json.RawMessage(detail)
		if !json.Valid(e.Detail) {
			e.Detail, _ = json.Marshal(detail)
		}
		page.Items = append(page.Items, e)
	}
	if err := rows.Err(); err != nil {
		s.internal(c, fmt.Errorf("api: read audit log: %w", err))
		return
	}
	if len(page.Items) > limit {
		page.Items = page.Items[:limit]
		page.NextOffset = offset + limit
	}
	c.JSON(http.StatusOK, page)
}

// intParam reads an optional integer query parameter within [lo, hi],
// answering 400 naming it when it is not one.
func intParam(c *gin.Context, name string, def, lo, hi int) (int, bool) {
	v, set := c.GetQuery(name)
	if !set {
		return def, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		fail(c, http.StatusBadRequest, CodeInvalid, name+" must be a whole number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi), name)
		return 0, false
	}
	return n, true
}

// revealRequest says why a full phone number is needed.
type revealRequest struct {
	Reason string `json:"reason"`
}

// revealPhone answers a person's phone numbers in full, for an admin who
// gives a reason (a customer asked to be called back, a delivery problem).
// Everywhere else the API and the console show phones masked to their
// last four digits (*******5678), whatever the role: PIPL's minimum necessary. Each
// reveal is audited with the reason and the masked numbers; the answer is
// not cacheable. Campaign channels decrypt server-side and never need it.
func (s *Server) revealPhone(c *gin.Context) {
	p, ok := personParam(c)
	if !ok {
		return
	}
	var req revealRequest
	if !bindJSON(c, &req) {
		return
	}
	if n := utf8.RuneCountInString(strings.TrimSpace(req.Reason)); n < 4 || n > 200 {
		fail(c, http.StatusBadRequest, CodeInvalid, "reason is required (4-200 characters): it goes to the audit log", "reason")
		return
	}
	r, err := s.identity.RevealPhones(c.Request.Context(), p)
	if errors.Is(err, identity.ErrNoSuchPerson) {
		fail(c, http.StatusNotFound, CodeNotFound, "no such person", "id")
		return
	}
	if err != nil {
		s.internal(c, err)
		return
	}
	s.audit(c, "person.reveal_phone", "person", strconv.FormatUint(uint64(r.PersonID), 10), gin.H{"reason": req.Reason, "phones": r.Masked})
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"person_id": r.PersonID, "phones": r.Phones})
}
