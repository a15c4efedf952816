package wecom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultBaseURL is WeCom's API host.
const DefaultBaseURL = "https://qyapi.weixin.qq.com"

// WeCom error codes the client acts on (document/path/90313, 90454).
const (
	ErrCodeInvalidToken = 40014 // invalid access_token
	ErrCodeInvalidCred  = 40001 // invalid credential: a secret or an access_token WeCom no longer takes
	ErrCodeTokenExpired = 42001 // access_token expired
	ErrCodeRateLimited  = 45009 // API call frequency exceeded
	ErrCodeSystemBusy   = -1    // system busy: "try again later"
)

// maxResponseBytes bounds a response body: an externalcontact/get page holds
// at most 500 follow users of well under 2 KiB each, about 1 MiB.
const maxResponseBytes = 8 << 20

// APIError is a response whose errcode is not 0.
type APIError struct {
	Code int    // errcode
	Msg  string // errmsg, informative only
}

func (e *APIError) Error() string { return fmt.Sprintf("wecom: errcode %d: %s", e.Code, e.Msg) }

// ClientOptions configures a Client.
type ClientOptions struct {
	// BaseURL is the API host, without a trailing path: tests point it at
	// a fake server.
	BaseURL string
	// HTTPClient sends the requests; its Timeout bounds each request. The
	// Client never follows a redirect, whatever its CheckRedirect: URLs
	// carry the secret, the access token or a robot's key.
	HTTPClient *http.Client
	// RefreshEarly is how long before its announced expiry a cached access
	// token is replaced.
	RefreshEarly time.Duration
	// Now is the clock used for token expiry.
	Now func() time.Time
}

// DefaultClientOptions returns the production options.
func DefaultClientOptions() ClientOptions {
	return ClientOptions{
		BaseURL: DefaultBaseURL,
		// WeCom waits for nothing of ours; 10 s covers a slow cross-border
		// round trip several times over without hanging a worker forever.
		HTTPClient: &http.Client{Timeout: 10 * time.Second},
		// Tokens last 7,200 s; replacing them 300 s early (after 115 min)
		// absorbs clock skew and requests in flight at the expiry.
		RefreshEarly: 5 * time.Minute,
		Now:          time.Now,
	}
}

// Client calls the WeCom API for one corp application (corpid + secret). It
// caches the access token, replaces it RefreshEarly before expiry, and on
// errcode 42001, 40014 or 40001 fetches a new token and retries the call once.
//
// It is implemented on net/http rather than on go-workwx's WorkwxApp, which
// takes no context, keeps a token until a background refresher goroutine
// replaces it and does not retry on an expired or invalid token.
//
// A Client is safe for concurrent use; concurrent callers share one token
// fetch.
type Client struct {
	corpID, secret string
	opts           ClientOptions
	base           *url.URL

	sem   chan struct{} // held while the token is read or fetched
	token string
	valid time.Time // token is used until this instant
}

// NewClient returns a Client for corpID and the application's corpSecret.
// Zero fields of opts take their DefaultClientOptions value.
func NewClient(corpID, corpSecret string, opts ClientOptions) (*Client, error) {
	if corpID == "" || corpSecret == "" {
		return nil, errors.New("wecom: corp id and corp secret are required")
	}
	if opts.RefreshEarly < 0 {
		return nil, fmt.Errorf("wecom: RefreshEarly %v is negative", opts.RefreshEarly)
	}
	opts = withDefaults(opts)
	base, err := url.Parse(opts.BaseURL)
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("wecom: base URL %q is not an absolute URL", opts.BaseURL)
	}
	base.Path = strings.TrimSuffix(base.Path, "/")
	opts.HTTPClient = NoRedirects(opts.HTTPClient)
	return &Client{corpID: corpID, secret: corpSecret, opts: opts, base: base, sem: make(chan struct{}, 1)}, nil
}

func withDefaults(o ClientOptions) ClientOptions {
	d := DefaultClientOptions()
	if o.BaseURL == "" {
		o.BaseURL = d.BaseURL
	}
	if o.HTTPClient == nil {
		o.HTTPClient = d.HTTPClient
	}
	if o.RefreshEarly == 0 {
		o.RefreshEarly = d.RefreshEarly
	}
	if o.Now == nil {
		o.Now = d.Now
	}
	return o
}

// apiResponse is implemented by response bodies through the embedded status.
type apiResponse interface{ apiStatus() *status }

// status is the errcode/errmsg pair every WeCom response carries.
type status struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func (s *status) apiStatus() *status { return s }

func (s *status) err() error {
	if s.ErrCode == 0 {
		return nil
	}
	apiErr := &APIError{Code: s.ErrCode, Msg: s.ErrMsg}
	if s.ErrCode == ErrCodeRateLimited {
		return &RateLimitError{RetryAfter: RateLimitBackoff, Err: apiErr}
	}
	return apiErr
}

// call GETs path with query and the access token into out, refreshing the
// token and retrying once when WeCom reports it expired or invalid.
func (c *Client) call(ctx context.Context, path string, query url.Values, out apiResponse) error {
	return c.callWith(ctx, http.MethodGet, path, query, nil, nil, out)
}

// callWith sends method path with query, the access token and body (nil for
// none) into out, refreshing the token and retrying once when WeCom reports
// it expired or invalid. That retry is safe for every API, task-creating
// POSTs included: WeCom checks the token before it acts on the request.
// Nothing else is retried here (see IsRetryable).
func (c *Client) callWith(ctx context.Context, method, path string, query url.Values, body []byte, header http.Header, out apiResponse) error {
	for attempt := 0; ; attempt++ {
		token, err := c.accessToken(ctx)
		if err != nil {
			return err
		}
		q := cloneValues(query)
		q.Set("access_token", token)
		u := *c.base
		u.Path += path
		u.RawQuery = q.Encode()
		err = c.do(ctx, method, &u, body, header, out)
		var apiErr *APIError
		if attempt > 0 || !errors.As(err, &apiErr) || !isTokenError(apiErr.Code) {
			return err
		}
		if err := c.invalidate(ctx, token); err != nil {
			return err
		}
	}
}

func isTokenError(code int) bool {
	return code == ErrCodeTokenExpired || code == ErrCodeInvalidToken || code == ErrCodeInvalidCred
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+1)
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// get performs one GET and decodes the JSON body into out.
func (c *Client) get(ctx context.Context, path string, query url.Values, out apiResponse) error {
	u := *c.base
	u.Path += path
	u.RawQuery = query.Encode()
	return c.do(ctx, http.MethodGet, &u, nil, nil, out)
}

// do sends one request to u (with body as JSON when not nil) and decodes
// the JSON answer into out. Errors name the method and path but never the
// query string, which holds the secret, the token or a robot's webhook key.
// A status other than 200 is an *HTTPError; a non-zero errcode an *APIError
// (45009 wrapped in a *RateLimitError).
func (c *Client) do(ctx context.Context, method string, u *url.URL, body []byte, header http.Header, out apiResponse) error {
	path := u.Path
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err
		}
		return fmt.Errorf("wecom: %s %s: %w", method, path, err)
	}
	for k, vs := range header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=UTF-8")
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		var urlErr *url.Error
		if errors.As(err, &urlErr) {
			err = urlErr.Err // its message repeats the URL with the secret
		}
		return fmt.Errorf("wecom: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("wecom: %s %s: %w", method, path, &HTTPError{StatusCode: resp.StatusCode, Status: resp.Status})
	}
	*out.apiStatus() = status{} // out may hold a refused attempt's status
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponseBytes)).Decode(out); err != nil {
		return fmt.Errorf("wecom: %s %s: decode response: %w", method, path, err)
	}
	if err := out.apiStatus().err(); err != nil {
		return fmt.Errorf("wecom: %s %s: %w", method, path, err)
	}
	return nil
}

type tokenResponse struct {
	status
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
}

// accessToken returns the cached token or fetches a new one. Callers wait
// for a fetch in progress rather than starting their own.
func (c *Client) accessToken(ctx context.Context) (string, error) {
	if err := c.lock(ctx); err != nil {
		return "", err
	}
	defer c.unlock()
	if c.token != "" && c.opts.Now().Before(c.valid) {
		return c.token, nil
	}
	var resp tokenResponse
	q := url.Values{"corpid": {c.corpID}, "corpsecret": {c.secret}}
	if err := c.get(ctx, "/cgi-bin/gettoken", q, &resp); err != nil {
		return "", err
	}
	if resp.AccessToken == "" || resp.ExpiresIn <= 0 {
		return "", errors.New("wecom: GET /cgi-bin/gettoken: response without access_token or expires_in")
	}
	c.token, c.valid = resp.AccessToken, c.opts.Now().Add(c.lifetime(resp.ExpiresIn))
	return c.token, nil
}

// lifetime is how long a token announced to last expiresIn seconds is used:
// RefreshEarly less, or half of it when RefreshEarly would eat most of it.
func (c *Client) lifetime(expiresIn int64) time.Duration {
	d := time.Duration(expiresIn) * time.Second
	if c.opts.RefreshEarly >= d/2 {
		return d / 2
	}
	return d - c.opts.RefreshEarly
}

// invalidate drops token unless another caller has already replaced it.
func (c *Client) invalidate(ctx context.Context, token string) error {
	if err := c.lock(ctx); err != nil {
		return err
	}
	defer c.unlock()
	if c.token == token {
		c.token = ""
	}
	return nil
}

// lock takes the token lock, giving up when ctx ends: a token fetch holds
// the lock for a whole HTTP round trip.
func (c *Client) lock(ctx context.Context) error {
	select {
	case c.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) unlock() { <-c.sem }

// ExternalContact is a customer (外部联系人) with the staff members who
// added them.
type ExternalContact struct {
	ExternalUserID string
	Name           string
	Type           int // 1 WeChat user, 2 WeCom user
	Gender         int // 0 unknown, 1 male, 2 female
	UnionID        string
	Avatar         string
	CorpName       string
	FollowUsers    []FollowUser
}

// FollowUser is a staff member who added the customer.
type FollowUser struct {
	UserID      string
	Remark      string
	Description string
	CreateTime  time.Time // when the staff member added the customer, UTC
	State       string    // channel tag of the "联系我" QR code used
	AddWay      int
	OperUserID  string
	Tags        []FollowUserTag
}

// FollowUserTag is a tag the staff member put on the customer; the JSON
// names are those of the API.
type FollowUserTag struct {
	GroupName string `json:"group_name"`
	TagName   string `json:"tag_name"`
	TagID     string `json:"tag_id"`
	Type      int    `json:"type"` // 1 corp tag, 2 personal tag, 3 rule-group tag
}

type contactResponse struct {
	status
	ExternalContact struct {
		ExternalUserID string `json:"external_userid"`
		Name           string `json:"name"`
		Type           int    `json:"type"`
		Gender         int    `json:"gender"`
		UnionID        string `json:"unionid"`
		Avatar         string `json:"avatar"`
		CorpName       string `json:"corp_name"`
	} `json:"external_contact"`
	FollowUser []followUserJSON `json:"follow_user"`
	NextCursor string           `json:"next_cursor"`
}

type followUserJSON struct {
	UserID      string          `json:"userid"`
	Remark      string          `json:"remark"`
	Description string          `json:"description"`
	CreateTime  int64           `json:"createtime"`
	State       string          `json:"state"`
	AddWay      int             `json:"add_way"`
	OperUserID  string          `json:"oper_userid"`
	Tags        []FollowUserTag `json:"tags"`
}

// GetExternalContact returns the customer externalUserID and all staff
// members following them (externalcontact/get, following next_cursor when
// WeCom pages follow_user beyond 500). WeCom's refusals are *APIError.
func (c *Client) GetExternalContact(ctx context.Context, externalUserID string) (ExternalContact, error) {
	if externalUserID == "" {
		return ExternalContact{}, fmt.Errorf("%w: external_userid", ErrMissingField)
	}
	var contact ExternalContact
	cursor := ""
	for page := 0; ; page++ {
		q := url.Values{"external_userid": {externalUserID}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var resp contactResponse
		if err := c.call(ctx, "/cgi-bin/externalcontact/get", q, &resp); err != nil {
			return ExternalContact{}, err
		}
		contact = mergeContactPage(contact, &resp, page == 0)
		if resp.NextCursor == "" || resp.NextCursor == cursor {
			return contact, nil
		}
		cursor = resp.NextCursor
	}
}

func mergeContactPage(c ExternalContact, resp *contactResponse, first bool) ExternalContact {
	if first {
		ec := resp.ExternalContact
		c = ExternalContact{
			ExternalUserID: ec.ExternalUserID, Name: ec.Name, Type: ec.Type, Gender: ec.Gender,
			UnionID: ec.UnionID, Avatar: ec.Avatar, CorpName: ec.CorpName,
		}
	}
	for _, f := range resp.FollowUser {
		c.FollowUsers = append(c.FollowUsers, FollowUser{
			UserID: f.UserID, Remark: f.Remark, Description: f.Description,
			CreateTime: time.Unix(f.CreateTime, 0).UTC(), State: f.State,
			AddWay: f.AddWay, OperUserID: f.OperUserID, Tags: f.Tags,
		})
	}
	return c
}

// NoRedirects returns a copy of c that never follows a redirect, whatever
// c's CheckRedirect: a 3xx answer comes back as it is. Outbound calls that
// carry secrets or personal data (a corp secret or access token in the
// URL, phones in a webhook's body) must not be sent on to wherever a
// receiver points.
func NoRedirects(c *http.Client) *http.Client {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}
