package wecom

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"
)

// Actions of chat-archive records (document/path/91774).
const (
	ActionSend   = "send"
	ActionRecall = "recall"
	ActionSwitch = "switch" // the user switched enterprise; no msgtype, "time" and "user" fields
)

// MaxArchiveLineBytes is the longest archive line accepted, newline excluded.
// A text message is at most a few KiB; 1 MiB leaves room for long mixed and
// chatrecord bodies.
const MaxArchiveLineBytes = 1 << 20

// ArchiveMessage is one decrypted chat-archive record, as the customer's
// archive job writes it: one JSON object per line.
type ArchiveMessage struct {
	MsgID   string
	Action  string // ActionSend, ActionRecall or ActionSwitch
	From    string // for switch records: "user"
	ToList  []string
	RoomID  string    // empty for one-to-one chats
	MsgTime time.Time // UTC, millisecond precision; for switch records: "time"
	MsgType string    // "switch" for switch records, which carry none

	// Text is text.content when MsgType is "text".
	Text string
	// PreMsgID is revoke.pre_msgid, the recalled message, when Action is recall.
	PreMsgID string
	// Body is the raw JSON object of the type's body, nil when absent. Its
	// key is MsgType except external_redpacket (redpacket), docmsg (doc),
	// markdown and news (info).
	Body json.RawMessage
}

// bodyKeys maps the msgtypes whose body is not stored under their own name.
var bodyKeys = map[string]string{
	"external_redpacket": "redpacket",
	"docmsg":             "doc",
	"markdown":           "info",
	"news":               "info",
}

// ParseArchiveLine parses one archive line. It rejects invalid UTF-8
// (ErrInvalidUTF8, with the byte offset) and requires msgid, a known action,
// a positive msgtime (ms since epoch), from and msgtype (a lower-case name);
// for switch records time and user stand in for msgtime and from. Text messages need
// text.content and recalls revoke.pre_msgid. Errors name the JSON field and
// wrap ErrMissingField or ErrBadField. The result does not alias line.
func ParseArchiveLine(line []byte) (ArchiveMessage, error) {
	if !utf8.Valid(line) {
		return ArchiveMessage{}, fmt.Errorf("%w at byte %d", ErrInvalidUTF8, invalidUTF8At(line))
	}
	var f jsonFields
	if err := json.Unmarshal(line, &f); err != nil {
		return ArchiveMessage{}, fmt.Errorf("wecom: archive line is not a JSON object: %w", err)
	}
	m, err := f.header()
	if err == nil {
		err = f.body(&m)
	}
	if err != nil {
		return ArchiveMessage{}, err
	}
	return m, nil
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return -1
}

// jsonFields holds a record's top-level fields, decoded one by one so that
// each error names its field.
type jsonFields map[string]json.RawMessage

func (f jsonFields) header() (ArchiveMessage, error) {
	var m ArchiveMessage
	var err error
	if m.MsgID, err = f.str("msgid", true); err != nil {
		return m, err
	}
	if m.Action, err = f.str("action", true); err != nil {
		return m, err
	}
	switch m.Action {
	case ActionSend, ActionRecall:
		err = f.sent(&m)
	case ActionSwitch:
		err = f.switched(&m)
	default:
		err = fmt.Errorf("%w: action %q is not send, recall or switch", ErrBadField, m.Action)
	}
	return m, err
}

// sent reads the header of send and recall records.
func (f jsonFields) sent(m *ArchiveMessage) error {
	var err error
	if m.From, err = f.str("from", true); err != nil {
		return err
	}
	if m.ToList, err = f.strs("tolist"); err != nil {
		return err
	}
	if m.RoomID, err = f.str("roomid", false); err != nil {
		return err
	}
	if m.MsgTime, err = f.millis("msgtime"); err != nil {
		return err
	}
	if m.MsgType, err = f.str("msgtype", true); err != nil {
		return err
	}
	if !isMsgType(m.MsgType) {
		return fmt.Errorf("%w: msgtype must be a lower-case name such as text or image (at most 32 of a-z, 0-9, _)", ErrBadField)
	}
	return nil
}

// isMsgType tells the shape of WeCom's msgtypes (text, image, revoke,
// meeting_voice_call, ...): a lower-case name that starts with a letter.
// New msgtypes WeCom adds keep passing; free text, such as a phone
// number, does not.
func isMsgType(s string) bool {
	if s == "" || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// switched reads a switch record: {"msgid","action":"switch","time","user"}.
func (f jsonFields) switched(m *ArchiveMessage) error {
	var err error
	if m.From, err = f.str("user", true); err != nil {
		return err
	}
	m.MsgTime, err = f.millis("time")
	m.MsgType = ActionSwitch
	return err
}

// body sets Body and the fields extracted from text and revoke bodies.
func (f jsonFields) body(m *ArchiveMessage) error {
	key := m.MsgType
	if k, ok := bodyKeys[key]; ok {
		key = k
	}
	if raw, ok := f[key]; ok && !isNull(raw) {
		m.Body = raw
	}
	var err error
	switch {
	case m.MsgType == "text":
		m.Text, err = subfield(m.Body, "text", "content")
	case m.Action == ActionRecall:
		m.PreMsgID, err = subfield(f["revoke"], "revoke", "pre_msgid")
	}
	return err
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// subfield extracts the string obj.name from a body object that must exist.
func subfield(raw json.RawMessage, obj, name string) (string, error) {
	path := obj + "." + name
	if raw == nil || isNull(raw) {
		return "", fmt.Errorf("%w: %s", ErrMissingField, obj)
	}
	var fields jsonFields
	if err := json.Unmarshal(raw, &fields); err != nil {
		return "", fmt.Errorf("%w: %s is not an object", ErrBadField, obj)
	}
	return fields.strNamed(name, path, true)
}

func (f jsonFields) str(name string, required bool) (string, error) {
	return f.strNamed(name, name, required)
}

// strNamed decodes the string field name; path names it in errors. A
// required field must be present and non-empty.
func (f jsonFields) strNamed(name, path string, required bool) (string, error) {
	raw, ok := f[name]
	if !ok || isNull(raw) {
		if required {
			return "", fmt.Errorf("%w: %s", ErrMissingField, path)
		}
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("%w: %s must be a string", ErrBadField, path)
	}
	if required && s == "" {
		return "", fmt.Errorf("%w: %s is empty", ErrMissingField, path)
	}
	return s, nil
}

// strs decodes an optional array of strings.
func (f jsonFields) strs(name string) ([]string, error) {
	raw, ok := f[name]
	if !ok || isNull(raw) {
		return nil, nil
	}
	var s []string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: %s must be an array of strings", ErrBadField, name)
	}
	return s, nil
}

// millis decodes a required positive integer of milliseconds since epoch.
func (f jsonFields) millis(name string) (time.Time, error) {
	raw, ok := f[name]
	if !ok || isNull(raw) {
		return time.Time{}, fmt.Errorf("%w: %s", ErrMissingField, name)
	}
	var ms int64
	if err := json.Unmarshal(raw, &ms); err != nil || ms <= 0 {
		return time.Time{}, fmt.Errorf("%w: %s must be a positive integer of milliseconds since epoch, got %.40s", ErrBadField, name, raw)
	}
	return time.UnixMilli(ms).UTC(), nil
}

// LineError is a problem with one line of an archive stream.
type LineError struct {
	Line int // 1-based
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the underlying error.
func (e *LineError) Unwrap() error { return e.Err }

// Reader reads an archive stream line by line. Blank lines are skipped; a
// trailing "\r" is dropped. A bad line (invalid record, longer than
// MaxArchiveLineBytes) yields a *LineError and reading continues with the
// next line. A Reader is not safe for concurrent use.
type Reader struct {
	br   *bufio.Reader
	line int
	buf  []byte
	err  error // sticky I/O error or io.EOF
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader) *Reader {
	return &Reader{br: bufio.NewReaderSize(r, 64<<10)}
}

// Read returns the next record. It returns a *LineError for a bad line (call
// Read again to go on), io.EOF at the end of the stream and any other read
// error as is; after io.EOF or a read error every call returns that error.
func (r *Reader) Read() (ArchiveMessage, error) {
	for {
		line, err := r.next()
		if err != nil {
			return ArchiveMessage{}, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		m, err := ParseArchiveLine(line)
		if err != nil {
			return ArchiveMessage{}, &LineError{Line: r.line, Err: err}
		}
		return m, nil
	}
}

// Line returns the number of the line last read, 1-based.
func (r *Reader) Line() int { return r.line }

// next returns the next line without its line ending. The slice is valid
// until the following call.
func (r *Reader) next() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	r.buf = r.buf[:0]
	tooLong := false
	for {
		chunk, err := r.br.ReadSlice('\n')
		if !tooLong && len(r.buf)+len(chunk) <= MaxArchiveLineBytes+2 { // room for "\r\n"
			r.buf = append(r.buf, chunk...)
		} else {
			tooLong = true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return r.finishLine(tooLong, err)
	}
}

// finishLine handles the end of a line: a newline, the end of the stream or
// a read error.
func (r *Reader) finishLine(tooLong bool, err error) ([]byte, error) {
	if err != nil && (err != io.EOF || (len(r.buf) == 0 && !tooLong)) {
		r.err = err
		return nil, err
	}
	r.line++
	line := bytes.TrimSuffix(bytes.TrimSuffix(r.buf, []byte("\n")), []byte("\r"))
	if tooLong || len(line) > MaxArchiveLineBytes {
		return nil, &LineError{Line: r.line, Err: fmt.Errorf("%w: over %d bytes", ErrLineTooLong, MaxArchiveLineBytes)}
	}
	if err == io.EOF {
		r.err = io.EOF
	}
	return line, nil
}
