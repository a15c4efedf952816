package api

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/ingest"
)

// requireWriteKey authenticates ingest calls: the write key is the HTTP
// Basic user (password empty), as Segment and RudderStack SDKs send it.
func (s *Server) requireWriteKey() gin.HandlerFunc {
	return func(c *gin.Context) {
		key, _, ok := c.Request.BasicAuth()
		if !ok || key == "" {
			c.Header("WWW-Authenticate", `Basic realm="cdp ingest"`)
			fail(c, http.StatusUnauthorized, CodeUnauthorized, "missing write key: send it as the HTTP Basic user name", "Authorization")
			return
		}
		p, ok := s.creds.LookupWriteKey(c.Request.Context(), key)
		if !ok {
			c.Header("WWW-Authenticate", `Basic realm="cdp ingest"`)
			fail(c, http.StatusUnauthorized, CodeUnauthorized, "unknown or revoked write key", "Authorization")
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// requireServerKey admits only server keys, after requireWriteKey: orders
// and imports must not come from a key that client code carries.
func requireServerKey() gin.HandlerFunc {
	return func(c *gin.Context) {
		if p := principal(c); p.Scope != ScopeServer {
			fail(c, http.StatusForbidden, CodeForbidden, fmt.Sprintf("write key %s has scope %s, which sends behaviour events only (track, identify, page, screen, group, alias, batch); %s needs a write key with scope server, kept on a server",
				p.ID, p.Scope, c.FullPath()), "Authorization")
		}
	}
}

// readBody reads a request body of at most limit bytes after
// decompression (Content-Encoding: gzip is accepted). It answers the error
// itself and returns false on failure.
func readBody(c *gin.Context, limit int64) ([]byte, bool) {
	r, ok := decodeContent(c, http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if !ok {
		return nil, false
	}
	// One byte past the limit tells a body that is too large after
	// decompression (a gzip bomb) from one that fits.
	body, err := readAll(io.LimitReader(r, limit+1), bodySizeHint(c.Request, limit))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge) || int64(len(body)) > limit:
		fail(c, http.StatusRequestEntityTooLarge, CodeTooLarge, fmt.Sprintf("body larger than %d bytes", limit), "")
		return nil, false
	case err != nil:
		fail(c, http.StatusBadRequest, CodeInvalid, "reading the body: "+err.Error(), "")
		return nil, false
	}
	return body, true
}

// bodySizeHint is the buffer readBody starts with: the declared length
// plus the byte that sees the end (a gzip body's length times 4, the
// usual ratio of JSON), at most limit+1. io.ReadAll starts from 512 bytes
// and doubles, which for a 400 KB batch allocated and copied about twice
// the body.
func bodySizeHint(r *http.Request, limit int64) int {
	n := r.ContentLength
	if n <= 0 {
		return 512
	}
	if r.Header.Get("Content-Encoding") != "" {
		n *= 4
	}
	return int(min(n, limit) + 1)
}

// readAll is io.ReadAll into a buffer of capacity size to begin with.
func readAll(r io.Reader, size int) ([]byte, error) {
	b := make([]byte, 0, size)
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)] // grow as append does
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
	}
}

// decodeContent undoes the body's Content-Encoding (gzip or none). It
// answers the error itself and returns false on failure.
func decodeContent(c *gin.Context, body io.Reader) (io.Reader, bool) {
	switch enc := strings.ToLower(c.GetHeader("Content-Encoding")); enc {
	case "", "identity":
		return body, true
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			fail(c, http.StatusBadRequest, CodeInvalid, "body is not valid gzip: "+err.Error(), "Content-Encoding")
			return nil, false
		}
		return zr, true
	default:
		fail(c, http.StatusUnsupportedMediaType, CodeInvalid, "Content-Encoding "+enc+" is not supported; use gzip or none", "Content-Encoding")
		return nil, false
	}
}

// ingestAnswer is the answer of every ingest endpoint.
type ingestAnswer struct {
	Success bool `json:"success"`
	ingest.Result
}

// answerIngest turns a collector's outcome into HTTP: 200 with counts
// (rejected records listed), 400 naming the field when the request as a
// whole is invalid, 503 with Retry-After while the spool is full.
func (s *Server) answerIngest(c *gin.Context, res ingest.Result, err error) {
	var prob *ingest.Problem
	switch {
	case err == nil:
		status := http.StatusOK
		if res.Accepted == 0 && res.Duplicates == 0 && len(res.Rejected) > 0 {
			status = http.StatusBadRequest
		}
		c.JSON(status, ingestAnswer{Success: status == http.StatusOK, Result: res})
	case errors.As(err, &prob):
		status := http.StatusBadRequest
		if prob.Code == "too_large" {
			status = http.StatusRequestEntityTooLarge
		}
		m := prob.Masked() // a refused value is quoted without its phone numbers
		fail(c, status, m.Code, m.Message, m.Field)
	case errors.Is(err, ingest.ErrBusy):
		c.Header("Retry-After", "5")
		fail(c, http.StatusServiceUnavailable, CodeUnavailable, "the platform cannot take more data right now (ClickHouse unavailable and the spool full); retry later", "")
	case errors.Is(err, ingest.ErrNoSpace):
		c.Header("Retry-After", "10")
		fail(c, http.StatusInsufficientStorage, CodeNoSpace, "the platform's disk is full (ingest spool); nothing of this request was kept; retry after space is freed", "")
	case errors.Is(err, context.Canceled):
		fail(c, http.StatusServiceUnavailable, CodeUnavailable, "request cancelled", "")
	default:
		s.internal(c, err)
	}
}

func (s *Server) segment(typ string) gin.HandlerFunc {
	return func(c *gin.Context) {
		body, ok := readBody(c, ingest.MaxRequestBytes)
		if !ok {
			return
		}
		res, err := s.collector.TrackSpec(c.Request.Context(), principal(c).Source, typ, body)
		s.answerIngest(c, res, err)
	}
}

func (s *Server) orders(c *gin.Context) {
	body, ok := readBody(c, ingest.MaxRequestBytes)
	if !ok {
		return
	}
	res, err := s.collector.Orders(c.Request.Context(), principal(c).Source, body)
	s.answerIngest(c, res, err)
}

// wecomVerify answers WeCom's URL verification: the decrypted echostr.
func (s *Server) wecomVerify(c *gin.Context) {
	if s.wecom == nil {
		fail(c, http.StatusNotFound, CodeNotFound, "WeCom is not configured (CDP_WECOM_CORP_ID, CDP_WECOM_TOKEN, CDP_WECOM_AES_KEY)", "")
		return
	}
	plain, err := s.collector.WeComVerifyURL(s.wecom, c.Query("msg_signature"), c.Query("timestamp"), c.Query("nonce"), c.Query("echostr"))
	if err != nil {
		fail(c, http.StatusUnauthorized, CodeUnauthorized, "signature verification failed", "msg_signature")
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", plain)
}

// wecomCallback takes a customer-contact callback; WeCom wants "success"
// within 5 s, and an error status makes it retry.
func (s *Server) wecomCallback(c *gin.Context) {
	if s.wecom == nil {
		fail(c, http.StatusNotFound, CodeNotFound, "WeCom is not configured (CDP_WECOM_CORP_ID, CDP_WECOM_TOKEN, CDP_WECOM_AES_KEY)", "")
		return
	}
	body, ok := readBody(c, 64<<10)
	if !ok {
		return
	}
	_, err := s.collector.WeComCallback(c.Request.Context(), s.wecom, c.Query("msg_signature"), c.Query("timestamp"), c.Query("nonce"), body)
	switch {
	case errors.Is(err, ingest.ErrBadSignature):
		fail(c, http.StatusUnauthorized, CodeUnauthorized, "signature verification failed", "msg_signature")
		return
	case errors.Is(err, ingest.ErrStaleTimestamp):
		// Logged: a WeCom whose clock is this far off would see every
		// callback refused.
		s.logger.Warn("WeCom callback refused: timestamp outside the replay window (check this server's clock)", "peer", c.ClientIP(), "err", err)
		fail(c, http.StatusUnauthorized, CodeUnauthorized, strings.TrimPrefix(err.Error(), "ingest: "), "timestamp")
		return
	case errors.Is(err, ingest.ErrReplayed):
		fail(c, http.StatusConflict, CodeReplayed, "this callback (timestamp and nonce) was received before; a replay is not taken again", "nonce")
		return
	case errors.Is(err, ingest.ErrNonceMemoryFull):
		// WeCom sends it again later, when older callbacks have left
		// the replay window.
		c.Header("Retry-After", "5")
		fail(c, http.StatusServiceUnavailable, CodeUnavailable, "too many WeCom callbacks within the replay window (300 s) to remember another; retry later", "")
		return
	}
	var prob *ingest.Problem
	if errors.As(err, &prob) {
		// A malformed event will not improve with retries: acknowledge it
		// (it is dead-lettered) so WeCom stops resending.
		c.String(http.StatusOK, "success")
		return
	}
	if err != nil {
		s.answerIngest(c, ingest.Result{}, err)
		return
	}
	c.String(http.StatusOK, "success")
}
