package wecomtest

import (
	"net/http"
	"sort"
	"strings"
)

// transferCustomer is transfer_customer and resigned/transfer_customer:
// each customer the handover staff member has (AddContact) starts
// waiting (status 2) for TransferWait; any other answers 40096 in its
// own errcode. Asking again for a customer already waiting changes
// nothing.
func (s *Server) transferCustomer(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Handover string   `json:"handover_userid"`
		Takeover string   `json:"takeover_userid"`
		External []string `json:"external_userid"`
		Msg      string   `json:"transfer_success_msg"`
	}
	if !s.checkToken(w, r) || !readJSON(w, r, &req) {
		return
	}
	switch {
	case req.Handover == "" || req.Takeover == "":
		writeJSON(w, errBody(40003, "invalid userid"))
		return
	case len(req.External) == 0:
		writeJSON(w, errBody(41035, "missing external userid"))
		return
	case len(req.External) > MaxTransferCustomers:
		invalid(w, "external_userid (at most 100)")
		return
	}
	kind := transferKind(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, ext := range req.External {
		code := 0
		key := [3]string{req.Handover, req.Takeover, ext}
		switch t := s.ways.transfers[key]; {
		case t != nil && t.status == 2:
		case !s.mass.friends[req.Handover][ext]:
			code = ErrCodeInvalidExternal
		default:
			s.ways.transfers[key] = &transfer{kind: kind, handover: req.Handover, takeover: req.Takeover, ext: ext, status: 2, at: s.now().Add(TransferWait)}
		}
		out = append(out, map[string]any{"external_userid": ext, "errcode": code})
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "customer": out})
}

// transferResult is transfer_result and resigned/transfer_result: the
// transfers from handover to takeover of that kind, in one page.
func (s *Server) transferResult(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Handover string `json:"handover_userid"`
		Takeover string `json:"takeover_userid"`
	}
	if !s.checkToken(w, r) || !readJSON(w, r, &req) {
		return
	}
	kind := transferKind(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, t := range s.ways.transfers {
		if t.kind != kind || t.handover != req.Handover || t.takeover != req.Takeover {
			continue
		}
		at := int64(0)
		if t.status != 3 {
			at = t.at.Unix()
		}
		out = append(out, map[string]any{"external_userid": t.ext, "status": t.status, "takeover_time": at})
	}
	sort.Slice(out, func(i, j int) bool { return out[i]["external_userid"].(string) < out[j]["external_userid"].(string) })
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "customer": out, "next_cursor": ""})
}

// SettleTransfer ends the waiting transfer of ext: status 1 (taken over
// now: the customer becomes the takeover staff member's), 3 (the
// customer refused) or 4 (the takeover staff member's customer limit).
// It reports whether such a transfer was waiting.
func (s *Server) SettleTransfer(ext string, status int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.ways.transfers {
		if t.ext != ext || t.status != 2 {
			continue
		}
		t.status = status
		if status == 1 {
			t.at = s.now()
			delete(s.mass.friends[t.handover], ext)
			if s.mass.friends[t.takeover] == nil {
				s.mass.friends[t.takeover] = map[string]bool{}
			}
			s.mass.friends[t.takeover][ext] = true
		}
		return true
	}
	return false
}

// transferKind is on_job or resigned, as the path says.
func transferKind(r *http.Request) string {
	if strings.Contains(r.URL.Path, "/resigned/") {
		return "resigned"
	}
	return "on_job"
}
