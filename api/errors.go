package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// Error is the JSON body of every 4xx and 5xx answer: a stable code for
// programs, a message for people, and the offending field when there is one.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// Line and Column locate a problem inside a rule (1-based).
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

// Stable error codes.
const (
	CodeUnauthorized = "unauthorized"
	CodeForbidden    = "forbidden"
	CodeNotFound     = "not_found"
	CodeInvalid      = "invalid_request"
	CodeUnavailable  = "unavailable"
	CodeInternal     = "internal"
	CodeTooLarge     = "too_large"
	CodeNoSpace      = "insufficient_storage"
	CodeReplayed     = "replayed"
)

// fail answers with an Error and stops the handler chain.
func fail(c *gin.Context, status int, code, message, field string) {
	c.AbortWithStatusJSON(status, Error{Code: code, Message: message, Field: field})
}

// internal answers 500 without leaking the cause and logs it.
func (s *Server) internal(c *gin.Context, err error) {
	s.logger.Error("request failed", "method", c.Request.Method, "path", c.FullPath(), "err", err)
	fail(c, http.StatusInternalServerError, CodeInternal, "internal error; see the server log", "")
}
