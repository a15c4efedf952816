package wecom

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
	"unicode/utf8"
)

// Paths of the contact-way (联系我 / 渠道活码) APIs (document/path/92228,
// 92572).
const (
	PathAddContactWay    = "/cgi-bin/externalcontact/add_contact_way"
	PathGetContactWay    = "/cgi-bin/externalcontact/get_contact_way"
	PathListContactWay   = "/cgi-bin/externalcontact/list_contact_way"
	PathUpdateContactWay = "/cgi-bin/externalcontact/update_contact_way"
	PathDelContactWay    = "/cgi-bin/externalcontact/del_contact_way"
)

// Limits of the contact-way APIs (document/path/92228).
const (
	// MaxStateChars is the most characters of a contact way's state
	// (不超过30个字符); the add event carries it back as State.
	MaxStateChars = 30
	// MaxRemarkChars is the most characters of its remark.
	MaxRemarkChars = 30
	// MaxContactWayUsers is the most staff members one multi-person
	// (type 2) contact way takes (user 列表 最多100个).
	MaxContactWayUsers = 100
	// MaxContactWays is how many contact ways a corp may configure
	// through the API (最多配置50万个).
	MaxContactWays = 500000
	// MaxListContactWayLimit is the largest page list_contact_way returns.
	MaxListContactWayLimit = 1000
	// MaxQRCodeBytes bounds a QR image fetched from WeCom: its images are
	// a few tens of KiB.
	MaxQRCodeBytes = 2 << 20
)

// ContactWay is a QR code (scene 2) that adds the customer to one staff
// member (type 1) or to one of several (type 2), tagging the add event
// with State.
type ContactWay struct {
	ConfigID   string   // set by WeCom; required to update
	Users      []string // staff userids: exactly one for type 1
	Remark     string
	State      string
	SkipVerify bool
	QRCode     string // the QR image URL, set by WeCom
}

// Type is WeCom's type: 1 for one staff member, 2 for several.
func (w ContactWay) Type() int {
	if len(w.Users) == 1 {
		return 1
	}
	return 2
}

// Validate checks what WeCom would refuse: no staff member, more than
// MaxContactWayUsers, an empty userid, a state or remark over 30
// characters or not UTF-8. Errors wrap ErrMissingField, ErrOverLimit or
// ErrInvalidUTF8 and name the field.
func (w ContactWay) Validate() error {
	if len(w.Users) == 0 {
		return fmt.Errorf("%w: user", ErrMissingField)
	}
	if len(w.Users) > MaxContactWayUsers {
		return fmt.Errorf("%w: user has %d staff members, at most %d", ErrOverLimit, len(w.Users), MaxContactWayUsers)
	}
	for i, u := range w.Users {
		if u == "" {
			return fmt.Errorf("%w: user[%d]", ErrMissingField, i)
		}
	}
	for _, f := range []struct {
		name, value string
		max         int
	}{{"state", w.State, MaxStateChars}, {"remark", w.Remark, MaxRemarkChars}} {
		if !utf8.ValidString(f.value) {
			return fmt.Errorf("%w: %s", ErrInvalidUTF8, f.name)
		}
		if n := utf8.RuneCountInString(f.value); n > f.max {
			return fmt.Errorf("%w: %s is %d characters, at most %d", ErrOverLimit, f.name, n, f.max)
		}
	}
	return nil
}

type contactWayJSON struct {
	ConfigID   string   `json:"config_id,omitempty"`
	Type       int      `json:"type,omitempty"`
	Scene      int      `json:"scene,omitempty"`
	Remark     string   `json:"remark"`
	SkipVerify bool     `json:"skip_verify"`
	State      string   `json:"state"`
	User       []string `json:"user"`
	QRCode     string   `json:"qr_code,omitempty"`
}

func (w ContactWay) json() contactWayJSON {
	return contactWayJSON{Type: w.Type(), Scene: 2, Remark: w.Remark, SkipVerify: w.SkipVerify, State: w.State, User: w.Users}
}

// AddContactWay creates w as a QR code (add_contact_way, scene 2) and
// returns its config_id and QR image URL. A w that Validate refuses is
// not sent. The call is not idempotent: a timeout may leave a code
// created on WeCom's side, which ListContactWays finds by its state.
func (c *Client) AddContactWay(ctx context.Context, w ContactWay) (configID, qrCode string, err error) {
	if err := w.Validate(); err != nil {
		return "", "", err
	}
	body, err := json.Marshal(w.json())
	if err != nil {
		return "", "", fmt.Errorf("wecom: add_contact_way: %w", err)
	}
	var resp struct {
		status
		ConfigID string `json:"config_id"`
		QRCode   string `json:"qr_code"`
	}
	if err := c.callWith(ctx, http.MethodPost, PathAddContactWay, nil, body, nil, &resp); err != nil {
		return "", "", err
	}
	if resp.ConfigID == "" {
		return "", "", fmt.Errorf("wecom: add_contact_way: answer without config_id")
	}
	return resp.ConfigID, resp.QRCode, nil
}

// GetContactWay returns the contact way configID (get_contact_way).
func (c *Client) GetContactWay(ctx context.Context, configID string) (ContactWay, error) {
	if configID == "" {
		return ContactWay{}, fmt.Errorf("%w: config_id", ErrMissingField)
	}
	body, _ := json.Marshal(map[string]string{"config_id": configID})
	var resp struct {
		status
		ContactWay contactWayJSON `json:"contact_way"`
	}
	if err := c.callWith(ctx, http.MethodPost, PathGetContactWay, nil, body, nil, &resp); err != nil {
		return ContactWay{}, err
	}
	j := resp.ContactWay
	return ContactWay{ConfigID: j.ConfigID, Users: j.User, Remark: j.Remark, State: j.State, SkipVerify: j.SkipVerify, QRCode: j.QRCode}, nil
}

// ListContactWays returns the config_id of every contact way created
// through the API between start and end (list_contact_way, following
// next_cursor in pages of MaxListContactWayLimit). Zero times leave the
// bound to WeCom (the last 90 days).
func (c *Client) ListContactWays(ctx context.Context, start, end time.Time) ([]string, error) {
	var out []string
	cursor := ""
	for {
		req := map[string]any{"limit": MaxListContactWayLimit}
		if !start.IsZero() {
			req["start_time"] = start.Unix()
		}
		if !end.IsZero() {
			req["end_time"] = end.Unix()
		}
		if cursor != "" {
			req["cursor"] = cursor
		}
		body, _ := json.Marshal(req)
		var resp struct {
			status
			ContactWay []struct {
				ConfigID string `json:"config_id"`
			} `json:"contact_way"`
			NextCursor string `json:"next_cursor"`
		}
		if err := c.callWith(ctx, http.MethodPost, PathListContactWay, nil, body, nil, &resp); err != nil {
			return nil, err
		}
		for _, w := range resp.ContactWay {
			out = append(out, w.ConfigID)
		}
		if resp.NextCursor == "" || resp.NextCursor == cursor {
			return out, nil
		}
		cursor = resp.NextCursor
	}
}

// UpdateContactWay replaces the staff members, remark, state and
// skip_verify of the contact way w.ConfigID (update_contact_way); its QR
// image stays the same. Repeating it changes nothing.
func (c *Client) UpdateContactWay(ctx context.Context, w ContactWay) error {
	if w.ConfigID == "" {
		return fmt.Errorf("%w: config_id", ErrMissingField)
	}
	if err := w.Validate(); err != nil {
		return err
	}
	j := w.json()
	j.ConfigID, j.Type, j.Scene = w.ConfigID, 0, 0
	body, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("wecom: update_contact_way: %w", err)
	}
	var resp status
	return c.callWith(ctx, http.MethodPost, PathUpdateContactWay, nil, body, nil, &resp)
}

// DelContactWay deletes the contact way configID (del_contact_way): its
// QR code stops adding customers.
func (c *Client) DelContactWay(ctx context.Context, configID string) error {
	if configID == "" {
		return fmt.Errorf("%w: config_id", ErrMissingField)
	}
	body, _ := json.Marshal(map[string]string{"config_id": configID})
	var resp status
	return c.callWith(ctx, http.MethodPost, PathDelContactWay, nil, body, nil, &resp)
}

// FetchQRCode downloads the QR image at qrURL (a contact way's QRCode, on
// WeCom's image host). It needs no token and follows no redirect; an
// answer other than 200, over MaxQRCodeBytes or not a PNG or JPEG image
// is an error. The image's content cannot be rendered by the platform
// itself: the QR payload is WeCom's and only the image is returned.
func (c *Client) FetchQRCode(ctx context.Context, qrURL string) ([]byte, error) {
	u, err := url.Parse(qrURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%w: qr_code is not an absolute http(s) URL", ErrBadField)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("wecom: GET qr_code: %w", err)
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("wecom: GET qr_code: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("wecom: GET qr_code: %w", &HTTPError{StatusCode: resp.StatusCode, Status: resp.Status})
	}
	img, err := io.ReadAll(io.LimitReader(resp.Body, MaxQRCodeBytes+1))
	if err != nil {
		return nil, fmt.Errorf("wecom: GET qr_code: %w", err)
	}
	if len(img) > MaxQRCodeBytes {
		return nil, fmt.Errorf("%w: qr_code image over %d bytes", ErrOverLimit, MaxQRCodeBytes)
	}
	if !bytes.HasPrefix(img, pngMagic) && !bytes.HasPrefix(img, jpegMagic) {
		return nil, fmt.Errorf("%w: qr_code answer is not a PNG or JPEG image", ErrBadField)
	}
	return img, nil
}

var (
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	jpegMagic = []byte{0xff, 0xd8, 0xff}
)
