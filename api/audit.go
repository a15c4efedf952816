package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
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
		s.internal(c, err)
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
			s.internal(c, err)
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
		s.internal(c, err)
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
