package wecomops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // WeCom's QR images may be JPEG
	"image/png"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// Contact-way statuses (wecom_contact_ways.status).
const (
	WayPending = "pending" // written before add_contact_way; resolved by ResolvePendingWays
	WayActive  = "active"
	WayDeleted = "deleted"
)

// WayKinds are what a State may stand for.
var WayKinds = []string{"store", "staff", "sku", "batch", "other"}

// ContactWay is a channel QR code (渠道活码): a WeCom contact way whose
// State tags every customer it adds with the channel.
type ContactWay struct {
	State      string    `json:"state"`
	ConfigID   string    `json:"config_id"`
	Kind       string    `json:"kind"`
	Ref        string    `json:"ref"`
	Remark     string    `json:"remark"`
	Users      []string  `json:"users"`
	SkipVerify bool      `json:"skip_verify"`
	QRCode     string    `json:"qr_code"`
	Status     string    `json:"status"`
	UpdatedAt  time.Time `json:"updated_at"`
	By         string    `json:"by"`
	// Added counts the customers who were added through the State
	// (add_external_contact events carrying it).
	Added uint64 `json:"added"`
}

// ContactWayInput creates or changes a contact way. State is its key and
// cannot change once created (it is what past customers carry).
type ContactWayInput struct {
	State      string   `json:"state"`
	Kind       string   `json:"kind"`
	Ref        string   `json:"ref"`
	Remark     string   `json:"remark"`
	Users      []string `json:"users"`
	SkipVerify *bool    `json:"skip_verify"` // default true, as WeCom's
}

// cwState is the contact ways' and welcome messages' share of a Service:
// one lock serialising the changes of contact ways (so two requests
// cannot both create one State), one serialising the journalling of add
// events (so WeCom's retries of a callback make one entry), the last
// journal stamp, the welcome loop's wake-up and the loss robot's pace.
type cwState struct {
	ways        sync.Mutex
	journal     sync.Mutex
	stampMu     sync.Mutex
	last        time.Time
	wakeWelcome chan struct{}
	robot       *limiter // the loss robot's posts: WeCom takes 20 a minute
}

func newCWState(clock Clock) cwState {
	return cwState{wakeWelcome: make(chan struct{}, 1), robot: newLimiter(clock, 18, 0)}
}

// stamp is the service clock's time, strictly after every earlier stamp,
// so a journal's later row always wins its ReplacingMergeTree.
func (s *Service) stamp() time.Time {
	s.cw.stampMu.Lock()
	defer s.cw.stampMu.Unlock()
	now := s.o.Clock.Now().UTC().Truncate(time.Millisecond)
	if !now.After(s.cw.last) {
		now = s.cw.last.Add(time.Millisecond)
	}
	s.cw.last = now
	return now
}

// validate checks in against WeCom's limits and the platform's rules,
// naming the refused field.
func (in ContactWayInput) validate(create bool) error {
	switch {
	case create && strings.TrimSpace(in.State) == "":
		return &FieldError{"state", "is required"}
	case !utf8.ValidString(in.State) || strings.ContainsAny(in.State, "/\\?#%"):
		return &FieldError{"state", "must be UTF-8 text without / \\ ? # or %"}
	case utf8.RuneCountInString(in.State) > wecom.MaxStateChars:
		return &FieldError{"state", fmt.Sprintf("is %d characters; WeCom takes at most %d", utf8.RuneCountInString(in.State), wecom.MaxStateChars)}
	case create && !validKind(in.Kind):
		return &FieldError{"kind", "must be one of " + strings.Join(WayKinds, ", ")}
	case utf8.RuneCountInString(in.Ref) > 128:
		return &FieldError{"ref", "is over 128 characters"}
	case utf8.RuneCountInString(in.Remark) > wecom.MaxRemarkChars:
		return &FieldError{"remark", fmt.Sprintf("is over %d characters", wecom.MaxRemarkChars)}
	case len(in.Users) == 0:
		return &FieldError{"users", "name at least one staff member"}
	case len(in.Users) > wecom.MaxContactWayUsers:
		return &FieldError{"users", fmt.Sprintf("at most %d staff members", wecom.MaxContactWayUsers)}
	}
	for _, u := range in.Users {
		if strings.TrimSpace(u) == "" {
			return &FieldError{"users", "a staff userid is empty"}
		}
	}
	return nil
}

func validKind(k string) bool {
	for _, v := range WayKinds {
		if k == v {
			return true
		}
	}
	return false
}

func (in ContactWayInput) wecom(configID string) wecom.ContactWay {
	return wecom.ContactWay{ConfigID: configID, Users: in.Users, Remark: in.Remark, State: in.State, SkipVerify: in.SkipVerify == nil || *in.SkipVerify}
}

// CreateContactWay creates a channel QR code for in.State in WeCom
// (add_contact_way) and records it. The record is written pending before
// the call and active after it, so a crash or a timeout in between leaves
// a pending row that ResolvePendingWays settles from WeCom's own list;
// WeCom's refusal marks it deleted, freeing the State.
func (s *Service) CreateContactWay(ctx context.Context, in ContactWayInput, by string) (ContactWay, error) {
	if err := in.validate(true); err != nil {
		return ContactWay{}, err
	}
	s.cw.ways.Lock()
	defer s.cw.ways.Unlock()
	if cur, err := s.ContactWay(ctx, in.State); err == nil {
		return ContactWay{}, &FieldError{"state", "is already the State of a " + cur.Status + " QR code"}
	} else if !errors.Is(err, ErrNotFound) {
		return ContactWay{}, err
	}
	w := ContactWay{State: in.State, Kind: in.Kind, Ref: in.Ref, Remark: in.Remark, Users: in.Users,
		SkipVerify: in.SkipVerify == nil || *in.SkipVerify, Status: WayPending, By: by}
	if err := s.writeWay(ctx, &w); err != nil {
		return ContactWay{}, err
	}
	id, qr, err := s.o.Client.AddContactWay(ctx, in.wecom(""))
	var apiErr *wecom.APIError
	if err != nil {
		if errors.As(err, &apiErr) && !wecom.IsRetryable(err) {
			w.Status = WayDeleted
			if werr := s.writeWay(ctx, &w); werr != nil {
				return ContactWay{}, errors.Join(err, werr)
			}
		}
		return ContactWay{}, fmt.Errorf("wecomops: add_contact_way %s: %w", in.State, err)
	}
	w.ConfigID, w.QRCode, w.Status = id, qr, WayActive
	if err := s.writeWay(ctx, &w); err != nil {
		return ContactWay{}, err
	}
	return w, nil
}

// UpdateContactWay changes the staff members, remark, skip_verify, kind
// and ref of an active code (update_contact_way); its QR image and State
// stay.
func (s *Service) UpdateContactWay(ctx context.Context, state string, in ContactWayInput, by string) (ContactWay, error) {
	in.State = state
	if err := in.validate(false); err != nil {
		return ContactWay{}, err
	}
	s.cw.ways.Lock()
	defer s.cw.ways.Unlock()
	w, err := s.activeWay(ctx, state)
	if err != nil {
		return ContactWay{}, err
	}
	if err := s.o.Client.UpdateContactWay(ctx, in.wecom(w.ConfigID)); err != nil {
		return ContactWay{}, fmt.Errorf("wecomops: update_contact_way %s: %w", state, err)
	}
	if in.Kind != "" {
		if !validKind(in.Kind) {
			return ContactWay{}, &FieldError{"kind", "must be one of " + strings.Join(WayKinds, ", ")}
		}
		w.Kind = in.Kind
	}
	if in.Ref != "" {
		w.Ref = in.Ref
	}
	w.Users, w.Remark, w.SkipVerify, w.By = in.Users, in.Remark, in.SkipVerify == nil || *in.SkipVerify, by
	return w, s.writeWay(ctx, &w)
}

// DeleteContactWay deletes an active code in WeCom (del_contact_way): it
// stops adding customers. Customers it added keep their State.
func (s *Service) DeleteContactWay(ctx context.Context, state, by string) (ContactWay, error) {
	s.cw.ways.Lock()
	defer s.cw.ways.Unlock()
	w, err := s.activeWay(ctx, state)
	if err != nil {
		return ContactWay{}, err
	}
	if err := s.o.Client.DelContactWay(ctx, w.ConfigID); err != nil {
		return ContactWay{}, fmt.Errorf("wecomops: del_contact_way %s: %w", state, err)
	}
	w.Status, w.By = WayDeleted, by
	return w, s.writeWay(ctx, &w)
}

func (s *Service) activeWay(ctx context.Context, state string) (ContactWay, error) {
	w, err := s.ContactWay(ctx, state)
	if err != nil {
		return ContactWay{}, err
	}
	if w.Status != WayActive {
		return ContactWay{}, &FieldError{"state", "the QR code is " + w.Status + ", not active"}
	}
	return w, nil
}

func (s *Service) writeWay(ctx context.Context, w *ContactWay) error {
	w.UpdatedAt = s.stamp()
	users := w.Users
	if users == nil {
		users = []string{}
	}
	err := s.insert(ctx, "wecom_contact_ways", "state, config_id, kind, ref, remark, users, skip_verify, qr_code, status, updated_at, by",
		[][]any{{w.State, w.ConfigID, w.Kind, w.Ref, w.Remark, users, boolU8(w.SkipVerify), w.QRCode, w.Status, w.UpdatedAt, w.By}})
	if err != nil {
		return fmt.Errorf("wecomops: write contact way %s: %w", w.State, err)
	}
	return nil
}

// ContactWay returns the code of state, pending or active (ErrNotFound
// when there is none or it was deleted).
func (s *Service) ContactWay(ctx context.Context, state string) (ContactWay, error) {
	ways, err := s.readWays(ctx, "state = ?", state)
	if err != nil {
		return ContactWay{}, err
	}
	if len(ways) == 0 {
		return ContactWay{}, ErrNotFound
	}
	return ways[0], nil
}

// ContactWays lists the pending and active codes, newest change first,
// each with how many customers its State added.
func (s *Service) ContactWays(ctx context.Context) ([]ContactWay, error) {
	return s.readWays(ctx, "1")
}

func (s *Service) readWays(ctx context.Context, where string, args ...any) ([]ContactWay, error) {
	var out []ContactWay
	q := `SELECT w.state, w.config_id, w.kind, w.ref, w.remark, w.users, w.skip_verify, w.qr_code, w.status, w.updated_at, w.by, a.added
		FROM (SELECT * FROM ` + s.db.Table("wecom_contact_ways") + ` FINAL WHERE status != 'deleted' AND ` + where + `) AS w
		LEFT JOIN (SELECT state, uniqExact(external_userid) AS added FROM ` + s.db.Table("wecom_contact_events") + `
			WHERE change_type = 'add_external_contact' AND state != '' GROUP BY state) AS a ON a.state = w.state
		ORDER BY w.updated_at DESC`
	err := s.each(ctx, "read contact ways", q, args, func(scan scanFn) error {
		var w ContactWay
		var skip uint8
		if err := scan(&w.State, &w.ConfigID, &w.Kind, &w.Ref, &w.Remark, &w.Users, &skip, &w.QRCode, &w.Status, &w.UpdatedAt, &w.By, &w.Added); err != nil {
			return err
		}
		w.SkipVerify = skip == 1
		out = append(out, w)
		return nil
	})
	return out, err
}

// ResolvePendingWays settles codes left pending by a crash or an
// ambiguous failure of add_contact_way older than a minute: the one
// WeCom lists with the same State (list_contact_way since a minute before
// the pending row, then get_contact_way) becomes active; without one the
// row is deleted, freeing the State. It returns how many it settled.
func (s *Service) ResolvePendingWays(ctx context.Context) (int, error) {
	s.cw.ways.Lock()
	defer s.cw.ways.Unlock()
	ways, err := s.readWays(ctx, "status = 'pending' AND updated_at < ?", s.o.Clock.Now().UTC().Add(-time.Minute))
	if err != nil || len(ways) == 0 {
		return 0, err
	}
	since := ways[len(ways)-1].UpdatedAt.Add(-time.Minute)
	ids, err := s.o.Client.ListContactWays(ctx, since, time.Time{})
	if err != nil {
		return 0, fmt.Errorf("wecomops: list_contact_way: %w", err)
	}
	byState := map[string]wecom.ContactWay{}
	for _, id := range ids {
		cw, err := s.o.Client.GetContactWay(ctx, id)
		if err != nil {
			return 0, fmt.Errorf("wecomops: get_contact_way %s: %w", id, err)
		}
		byState[cw.State] = cw
	}
	for i := range ways {
		w := &ways[i]
		if cw, ok := byState[w.State]; ok {
			w.ConfigID, w.QRCode, w.Status = cw.ConfigID, cw.QRCode, WayActive
		} else {
			w.Status = WayDeleted
		}
		if err := s.writeWay(ctx, w); err != nil {
			return i, err
		}
	}
	return len(ways), nil
}

// QRCodePNG returns the active code's QR image as PNG, fetched from
// WeCom's image URL through the client (a JPEG is re-encoded). The
// platform cannot draw the code itself: its payload is WeCom's.
func (s *Service) QRCodePNG(ctx context.Context, state string) ([]byte, error) {
	w, err := s.activeWay(ctx, state)
	if err != nil {
		return nil, err
	}
	img, err := s.o.Client.FetchQRCode(ctx, w.QRCode)
	if err != nil {
		return nil, fmt.Errorf("wecomops: QR image of %s: %w", state, err)
	}
	if bytes.HasPrefix(img, []byte("\x89PNG")) {
		return img, nil
	}
	decoded, _, err := image.Decode(bytes.NewReader(img))
	if err != nil {
		return nil, fmt.Errorf("wecomops: QR image of %s: %w", state, err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, decoded); err != nil {
		return nil, fmt.Errorf("wecomops: QR image of %s: %w", state, err)
	}
	return buf.Bytes(), nil
}
