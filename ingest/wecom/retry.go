package wecom

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// RateLimitBackoff is the RetryAfter of a *RateLimitError: errcode 45009
// blocks the API for 60 s when the per-minute limit was exceeded
// (document/path/90454). When the per-hour limit was exceeded the block lasts
// 60 minutes and WeCom's answer does not say which: a caller that meets 45009
// again right after waiting should back off further (for example doubling up
// to an hour) rather than retry every minute.
const RateLimitBackoff = 60 * time.Second

// ErrRateLimited matches (errors.Is) every *RateLimitError: WeCom answered
// errcode 45009 and the caller must back off before calling that API again.
var ErrRateLimited = errors.New("wecom: frequency limit exceeded (errcode 45009)")

// RateLimitError is WeCom's errcode 45009 (接口调用超过限制). The client never
// waits or retries by itself: the caller reschedules the call no earlier
// than RetryAfter from now.
type RateLimitError struct {
	RetryAfter time.Duration // minimum wait before calling the API again
	Err        *APIError     // the 45009 answer
}

func (e *RateLimitError) Error() string {
	return fmt.Sprintf("%v (back off at least %v)", e.Err, e.RetryAfter)
}

// Unwrap returns the *APIError, so errors.As(err, &apiErr) still sees 45009.
func (e *RateLimitError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// RetryAfter returns how long the caller must wait before calling again when
// err is (or wraps) a *RateLimitError.
func RetryAfter(err error) (time.Duration, bool) {
	var rl *RateLimitError
	if errors.As(err, &rl) {
		return rl.RetryAfter, true
	}
	return 0, false
}

// HTTPError is an answer whose HTTP status is not 200. WeCom reports its own
// refusals with status 200 and an errcode, so this comes from the front
// ends and proxies: 5xx is retryable (IsRetryable), 3xx (never followed)
// and 4xx are not.
type HTTPError struct {
	StatusCode int
	Status     string // e.g. "503 Service Unavailable"
}

func (e *HTTPError) Error() string {
	if e.StatusCode/100 == 3 {
		return "HTTP status " + e.Status + " (a redirect, not followed)"
	}
	return "HTTP status " + e.Status
}

// IsRetryable reports whether the same request may succeed when sent again
// later: an HTTP 5xx or 429 answer, a timeout (of the HTTPClient or of a
// context deadline), a connection that failed or broke, errcode -1 (system
// busy) and errcode 45009 — the last only after RetryAfter. Everything else
// (an errcode refusing the request, a refused validation, a cancelled
// context) fails again unchanged. errcode 42001/40014 never reaches the
// caller unless the refresh-and-retry the client already did failed too.
//
// Retryable does not mean safe to resend blindly: a timeout or a broken
// connection after an add_msg_template request was sent may leave a task
// created on WeCom's side. See Client.AddMsgTemplate.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrRateLimited) {
		return true
	}
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		return apiErr.Code == ErrCodeSystemBusy
	}
	var httpErr *HTTPError
	if errors.As(err, &httpErr) {
		return httpErr.StatusCode >= 500 || httpErr.StatusCode == http.StatusTooManyRequests
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true // timeouts, refused or reset connections
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}
