package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// maxManagementBody bounds management request bodies (segment rules,
// campaign definitions); 1 MiB is far above any real one.
const maxManagementBody = 1 << 20

// bindJSON decodes the request body into v strictly: unknown fields, wrong
// types and trailing data are 400 errors naming the field. It answers the
// error itself and returns false on failure.
func bindJSON(c *gin.Context, v any) bool {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, maxManagementBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON value")
	}
	if err == nil {
		return true
	}
	status, msg, field := http.StatusBadRequest, "", ""
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		status, msg = http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", tooLarge.Limit)
	case errors.As(err, &syn):
		msg = fmt.Sprintf("invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field = typ.Field
		msg = fmt.Sprintf("%s must be %s, not %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		msg = "empty body: a JSON object is required"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		msg = "unknown field " + field
	default:
		msg = "invalid JSON: " + err.Error()
	}
	code := CodeInvalid
	if status == http.StatusRequestEntityTooLarge {
		code = CodeTooLarge
	}
	fail(c, status, code, msg, field)
	return false
}
