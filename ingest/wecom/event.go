package wecom

import (
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Event values of the customer-contact callbacks (document/path/92130, 92277).
const (
	MsgTypeEvent               = "event"
	EventChangeExternalContact = "change_external_contact"
	EventChangeExternalChat    = "change_external_chat"
	EventChangeExternalTag     = "change_external_tag"
)

// ChangeType values of change_external_contact events.
const (
	ChangeAddExternalContact     = "add_external_contact"
	ChangeEditExternalContact    = "edit_external_contact"
	ChangeAddHalfExternalContact = "add_half_external_contact"
	ChangeDelExternalContact     = "del_external_contact"
	ChangeDelFollowUser          = "del_follow_user"
	ChangeTransferFail           = "transfer_fail"
)

// Event is a decrypted WeCom callback. Fields a callback does not carry are
// empty; the XML element name is given where it differs from the field name.
type Event struct {
	ToUserName   string
	FromUserName string
	CreateTime   time.Time // UTC, whole seconds
	MsgType      string
	MsgID        string // MsgId; set for messages, empty for events
	AgentID      string
	Event        string
	ChangeType   string

	// change_external_contact
	UserID         string // the staff member
	ExternalUserID string
	State          string // channel tag of the "联系我" QR code
	WelcomeCode    string // valid for 20 s
	Source         string // del_external_contact: e.g. DELETE_BY_TRANSFER
	FailReason     string // transfer_fail: customer_refused, customer_limit_exceed

	// change_external_chat
	ChatID       string // ChatId
	UpdateDetail string // add_member, del_member, change_owner, change_name, change_notice

	// change_external_tag
	TagType    string // TagType: tag or tag_group
	TagID      string // Id: the tag's or the tag group's id
	StrategyID string // StrategyId: set for rule-group (strategy) tags
}

// eventXML is the wire form; CreateTime stays text so errors can name it.
type eventXML struct {
	XMLName        xml.Name `xml:"xml"`
	ToUserName     string   `xml:"ToUserName"`
	FromUserName   string   `xml:"FromUserName"`
	CreateTime     string   `xml:"CreateTime"`
	MsgType        string   `xml:"MsgType"`
	MsgID          string   `xml:"MsgId"`
	AgentID        string   `xml:"AgentID"`
	Event          string   `xml:"Event"`
	ChangeType     string   `xml:"ChangeType"`
	UserID         string   `xml:"UserID"`
	ExternalUserID string   `xml:"ExternalUserID"`
	State          string   `xml:"State"`
	WelcomeCode    string   `xml:"WelcomeCode"`
	Source         string   `xml:"Source"`
	FailReason     string   `xml:"FailReason"`
	ChatID         string   `xml:"ChatId"`
	UpdateDetail   string   `xml:"UpdateDetail"`
	TagType        string   `xml:"TagType"`
	TagID          string   `xml:"Id"`
	StrategyID     string   `xml:"StrategyId"`
}

// ParseEvent parses decrypted callback XML (root element <xml>). It requires
// MsgType and a positive CreateTime, Event when MsgType is "event", and the
// fields each customer-contact event cannot do without: ChangeType, UserID
// and ExternalUserID for change_external_contact; ChangeType and ChatId for
// change_external_chat; ChangeType for change_external_tag. A missing field
// is reported by its XML name in an error wrapping ErrMissingField.
func ParseEvent(data []byte) (Event, error) {
	var w eventXML
	if err := xml.Unmarshal(data, &w); err != nil {
		return Event{}, fmt.Errorf("wecom: callback XML: %w", err)
	}
	created, err := parseCreateTime(w.CreateTime)
	if err != nil {
		return Event{}, err
	}
	ev := w.event(created)
	if err := ev.validate(); err != nil {
		return Event{}, err
	}
	return ev, nil
}

func parseCreateTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("%w: CreateTime", ErrMissingField)
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}, fmt.Errorf("%w: CreateTime %q is not a positive unix time in seconds", ErrBadField, s)
	}
	return time.Unix(sec, 0).UTC(), nil
}

func (w *eventXML) event(created time.Time) Event {
	return Event{
		ToUserName: w.ToUserName, FromUserName: w.FromUserName, CreateTime: created,
		MsgType: w.MsgType, MsgID: w.MsgID, AgentID: w.AgentID,
		Event: w.Event, ChangeType: w.ChangeType,
		UserID: w.UserID, ExternalUserID: w.ExternalUserID,
		State: w.State, WelcomeCode: w.WelcomeCode, Source: w.Source, FailReason: w.FailReason,
		ChatID: w.ChatID, UpdateDetail: w.UpdateDetail,
		TagType: w.TagType, TagID: w.TagID, StrategyID: w.StrategyID,
	}
}

// field pairs an XML element name with its parsed value for validation.
type field struct{ name, value string }

func (e Event) validate() error {
	if err := require("", field{"MsgType", e.MsgType}); err != nil {
		return err
	}
	if e.MsgType == MsgTypeEvent {
		if err := require("", field{"Event", e.Event}); err != nil {
			return err
		}
	}
	switch e.Event {
	case EventChangeExternalContact:
		return require(e.Event, field{"ChangeType", e.ChangeType},
			field{"UserID", e.UserID}, field{"ExternalUserID", e.ExternalUserID})
	case EventChangeExternalChat:
		return require(e.Event, field{"ChangeType", e.ChangeType}, field{"ChatId", e.ChatID})
	case EventChangeExternalTag:
		return require(e.Event, field{"ChangeType", e.ChangeType})
	}
	return nil
}

// require reports the first empty field, naming the event it belongs to.
func require(event string, fields ...field) error {
	for _, f := range fields {
		if strings.TrimSpace(f.value) != "" {
			continue
		}
		if event == "" {
			return fmt.Errorf("%w: %s", ErrMissingField, f.name)
		}
		return fmt.Errorf("%w: %s in %s event", ErrMissingField, f.name, event)
	}
	return nil
}

// dedupSep separates the parts of a DedupKey. XML 1.0 forbids U+001F and
// encoding/xml rejects it, so no field of a parsed Event contains it and the
// key is unambiguous.
const dedupSep = "\x1f"

// DedupKey identifies a callback across WeCom's retries (it retries up to 3
// times when no answer comes within 5 s). It is "msg:" + MsgId when MsgId is
// present; otherwise "event" followed by FromUserName, CreateTime (unix
// seconds), Event, ChangeType, ExternalUserID, UserID, ChatId, UpdateDetail,
// TagType, Id and StrategyId, separated by U+001F. The fields beyond
// FromUserName + CreateTime + ChangeType + ExternalUserID + UserID are
// identical across retries too, so they never split one callback into two
// keys, but they keep apart distinct group and tag events of the same second.
func (e Event) DedupKey() string {
	if e.MsgID != "" {
		return "msg:" + e.MsgID
	}
	return strings.Join([]string{
		"event", e.FromUserName, strconv.FormatInt(e.CreateTime.Unix(), 10),
		e.Event, e.ChangeType, e.ExternalUserID, e.UserID,
		e.ChatID, e.UpdateDetail, e.TagType, e.TagID, e.StrategyID,
	}, dedupSep)
}
