package wecomtest

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Paths of the contact-way, welcome-message and transfer APIs the fake
// implements, and of the QR images it serves in place of WeCom's image
// host.
const (
	PathAddContactWay            = "/cgi-bin/externalcontact/add_contact_way"
	PathGetContactWay            = "/cgi-bin/externalcontact/get_contact_way"
	PathListContactWay           = "/cgi-bin/externalcontact/list_contact_way"
	PathUpdateContactWay         = "/cgi-bin/externalcontact/update_contact_way"
	PathDelContactWay            = "/cgi-bin/externalcontact/del_contact_way"
	PathSendWelcomeMsg           = "/cgi-bin/externalcontact/send_welcome_msg"
	PathTransferCustomer         = "/cgi-bin/externalcontact/transfer_customer"
	PathTransferResult           = "/cgi-bin/externalcontact/transfer_result"
	PathResignedTransferCustomer = "/cgi-bin/externalcontact/resigned/transfer_customer"
	PathResignedTransferResult   = "/cgi-bin/externalcontact/resigned/transfer_result"
	PathQRImage                  = "/qr/"
)

// Error codes of these APIs. 41051 is documented for a used WelcomeCode
// (document/path/92599); the fake answers it for an expired code too
// (WeCom's documents name no other code for it). For a value WeCom
// refuses (a state over 30 characters, an unknown config_id or
// welcome_code, too many customers) the fake answers 40058 (不合法的参数)
// with an errmsg naming the field.
const (
	ErrCodeWelcomeCodeUsed = 41051
	ErrCodeInvalidParam    = 40058
	ErrCodeInvalidExternal = 40096 // not the handover staff member's customer
)

// Limits the fake enforces (document/path/92228, 92137, 92125, 94081).
const (
	MaxContactWays       = 500000
	MaxStateChars        = 30
	MaxWelcomeTextBytes  = 4000
	MaxWelcomeAtts       = 9
	MaxTransferCustomers = 100
	WelcomeCodeTTL       = 20 * time.Second
	// TransferWait is how long WeCom waits for the customer before a
	// transfer is taken over.
	TransferWait = 24 * time.Hour
)

type contactWay struct {
	configID, state, remark string
	users                   []string
	skipVerify              bool
	created                 int64
}

type welcomeCode struct {
	issued time.Time
	used   bool
}

// WelcomeSend is a welcome message the fake accepted.
type WelcomeSend struct {
	Code        string
	Text        string
	Attachments int
}

type transfer struct {
	kind, handover, takeover, ext string
	status                        int       // 1 done, 2 waiting, 3 refused, 4 limit
	at                            time.Time // taken over, or to be while waiting
}

// wayState is the contact ways, the welcome codes issued and used, and
// the transfers asked for.
type wayState struct {
	ways      map[string]*contactWay
	order     []string
	next      int
	maxWays   int
	codes     map[string]*welcomeCode
	sends     map[string][]WelcomeSend // code -> accepted sends (never more than one)
	transfers map[[3]string]*transfer  // (handover, takeover, customer)
}

func newWayState() wayState {
	return wayState{ways: map[string]*contactWay{}, maxWays: MaxContactWays, codes: map[string]*welcomeCode{},
		sends: map[string][]WelcomeSend{}, transfers: map[[3]string]*transfer{}}
}

// routeContactWays registers the contact-way, welcome and transfer paths,
// each under WeCom's per-API frequency limits.
func (s *Server) routeContactWays(mux *http.ServeMux) {
	s.ways = newWayState()
	for p, h := range map[string]http.HandlerFunc{
		PathAddContactWay: s.addContactWay, PathGetContactWay: s.getContactWay, PathListContactWay: s.listContactWay,
		PathUpdateContactWay: s.updateContactWay, PathDelContactWay: s.delContactWay, PathSendWelcomeMsg: s.sendWelcomeMsg,
		PathTransferCustomer: s.transferCustomer, PathResignedTransferCustomer: s.transferCustomer,
		PathTransferResult: s.transferResult, PathResignedTransferResult: s.transferResult,
	} {
		s.rates[p] = &rateState{perMinute: LimitPerMinute, perHour: LimitPerHour}
		s.handle(mux, p, h)
	}
	s.handle(mux, PathQRImage, s.qrImage)
}

// SetMaxContactWays lowers the corp's contact-way limit (default 500,000).
func (s *Server) SetMaxContactWays(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ways.maxWays = n
}

// ContactWays returns the states of the contact ways WeCom holds, sorted.
func (s *Server) ContactWays() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, w := range s.ways.ways {
		out = append(out, w.state)
	}
	sort.Strings(out)
	return out
}

func invalid(w http.ResponseWriter, field string) {
	writeJSON(w, errBody(ErrCodeInvalidParam, "invalid parameter: "+field))
}

type wayRequest struct {
	ConfigID   string   `json:"config_id"`
	Type       int      `json:"type"`
	Scene      int      `json:"scene"`
	Remark     string   `json:"remark"`
	SkipVerify *bool    `json:"skip_verify"`
	State      string   `json:"state"`
	User       []string `json:"user"`
}

// check answers WeCom's refusal of req's values and reports whether it
// passed.
func (req wayRequest) check(w http.ResponseWriter, add bool) bool {
	switch {
	case add && req.Type != 1 && req.Type != 2:
		writeJSON(w, errBody(41037, "missing contact way type"))
	case add && req.Scene != 1 && req.Scene != 2:
		invalid(w, "scene")
	case add && req.Type == 1 && len(req.User) != 1:
		invalid(w, "user (type 1 takes exactly one)")
	case len(req.User) == 0 && add:
		invalid(w, "user")
	case len(req.User) > 100:
		invalid(w, "user (at most 100)")
	case utf8.RuneCountInString(req.State) > MaxStateChars:
		invalid(w, "state (at most 30 characters)")
	case utf8.RuneCountInString(req.Remark) > 30:
		invalid(w, "remark (at most 30 characters)")
	default:
		return true
	}
	return false
}

func (s *Server) addContactWay(w http.ResponseWriter, r *http.Request) {
	var req wayRequest
	if !s.checkToken(w, r) || !readJSON(w, r, &req) || !req.check(w, true) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ways.ways) >= s.ways.maxWays {
		invalid(w, "contact way count over the corp's limit")
		return
	}
	s.ways.next++
	id := fmt.Sprintf("cw%08d", s.ways.next)
	way := &contactWay{configID: id, state: req.State, remark: req.Remark, users: req.User, skipVerify: req.SkipVerify == nil || *req.SkipVerify, created: s.now().Unix()}
	s.ways.ways[id] = way
	s.ways.order = append(s.ways.order, id)
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "config_id": id, "qr_code": s.URL + PathQRImage + id + ".png"})
}

func (s *Server) getContactWay(w http.ResponseWriter, r *http.Request) {
	var req wayRequest
	if !s.checkToken(w, r) || !readJSON(w, r, &req) {
		return
	}
	s.mu.Lock()
	way := s.ways.ways[req.ConfigID]
	s.mu.Unlock()
	if way == nil {
		invalid(w, "config_id")
		return
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "contact_way": map[string]any{
		"config_id": way.configID, "type": 1 + boolInt(len(way.users) > 1), "scene": 2, "remark": way.remark,
		"skip_verify": way.skipVerify, "state": way.state, "user": way.users, "qr_code": s.URL + PathQRImage + way.configID + ".png",
	}})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// listContactWay pages the contact ways by creation, at most 1,000 a
// page, with the position as the cursor.
func (s *Server) listContactWay(w http.ResponseWriter, r *http.Request) {
	var req struct {
		StartTime int64  `json:"start_time"`
		EndTime   int64  `json:"end_time"`
		Cursor    string `json:"cursor"`
		Limit     int    `json:"limit"`
	}
	if !s.checkToken(w, r) || !readJSON(w, r, &req) {
		return
	}
	if req.Limit <= 0 || req.Limit > 1000 {
		req.Limit = 100
	}
	start := 0
	if req.Cursor != "" {
		if _, err := fmt.Sscanf(req.Cursor, "c%d", &start); err != nil {
			invalid(w, "cursor")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var page []map[string]string
	i := start
	for ; i < len(s.ways.order) && len(page) < req.Limit; i++ {
		way := s.ways.ways[s.ways.order[i]]
		if way == nil || (req.StartTime > 0 && way.created < req.StartTime) || (req.EndTime > 0 && way.created > req.EndTime) {
			continue
		}
		page = append(page, map[string]string{"config_id": way.configID})
	}
	next := ""
	if i < len(s.ways.order) {
		next = fmt.Sprintf("c%d", i)
	}
	writeJSON(w, map[string]any{"errcode": 0, "errmsg": "ok", "contact_way": page, "next_cursor": next})
}

func (s *Server) updateContactWay(w http.ResponseWriter, r *http.Request) {
	var req wayRequest
	if !s.checkToken(w, r) || !readJSON(w, r, &req) || !req.check(w, false) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	way := s.ways.ways[req.ConfigID]
	if way == nil {
		invalid(w, "config_id")
		return
	}
	way.state, way.remark = req.State, req.Remark
	if len(req.User) > 0 {
		way.users = req.User
	}
	if req.SkipVerify != nil {
		way.skipVerify = *req.SkipVerify
	}
	writeJSON(w, errBody(0, "ok"))
}

func (s *Server) delContactWay(w http.ResponseWriter, r *http.Request) {
	var req wayRequest
	if !s.checkToken(w, r) || !readJSON(w, r, &req) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ways.ways[req.ConfigID] == nil {
		invalid(w, "config_id")
		return
	}
	delete(s.ways.ways, req.ConfigID)
	writeJSON(w, errBody(0, "ok"))
}

// qrImage serves a contact way's QR image (a PNG standing in for
// WeCom's): 404 once the way is deleted.
func (s *Server) qrImage(w http.ResponseWriter, r *http.Request) {
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, PathQRImage), ".png")
	s.mu.Lock()
	way := s.ways.ways[id]
	s.mu.Unlock()
	if way == nil {
		http.NotFound(w, r)
		return
	}
	img := image.NewGray(image.Rect(0, 0, 21, 21))
	for i, b := range []byte(way.configID + way.state) {
		img.SetGray(i%21, (i/21)%21, color.Gray{Y: b})
	}
	var buf bytes.Buffer
	_ = png.Encode(&buf, img)
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(buf.Bytes())
}

// IssueWelcomeCode is WeCom giving an add event a WelcomeCode: usable
// once, within WelcomeCodeTTL of now on the fake's clock.
func (s *Server) IssueWelcomeCode(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ways.codes[code] = &welcomeCode{issued: s.now()}
}

// WelcomeSends returns the welcome messages accepted with code: WeCom
// never accepts more than one.
func (s *Server) WelcomeSends(code string) []WelcomeSend {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]WelcomeSend(nil), s.ways.sends[code]...)
}

func (s *Server) sendWelcomeMsg(w http.ResponseWriter, r *http.Request) {
	var req struct {
		WelcomeCode string `json:"welcome_code"`
		Text        *struct {
			Content string `json:"content"`
		} `json:"text"`
		Attachments []map[string]any `json:"attachments"`
	}
	if !s.checkToken(w, r) || !readJSON(w, r, &req) {
		return
	}
	text := ""
	if req.Text != nil {
		text = req.Text.Content
	}
	switch {
	case len(text) > MaxWelcomeTextBytes:
		invalid(w, "text.content (at most 4000 bytes)")
		return
	case len(req.Attachments) > MaxWelcomeAtts:
		invalid(w, "attachments (at most 9)")
		return
	case text == "" && len(req.Attachments) == 0:
		writeJSON(w, errBody(41033, "missing text and attachments"))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.ways.codes[req.WelcomeCode]
	switch {
	case c == nil:
		invalid(w, "welcome_code")
	case c.used || s.now().Sub(c.issued) > WelcomeCodeTTL:
		writeJSON(w, errBody(ErrCodeWelcomeCodeUsed, "externaluser has started chatting"))
	default:
		c.used = true
		s.ways.sends[req.WelcomeCode] = append(s.ways.sends[req.WelcomeCode], WelcomeSend{Code: req.WelcomeCode, Text: text, Attachments: len(req.Attachments)})
		writeJSON(w, errBody(0, "ok"))
	}
}
