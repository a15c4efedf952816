package ingest

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest/wecom"
)

// EventContactLost is the behaviour event a lost WeCom customer becomes,
// so rules can ask for it (did("contact_lost", 7)): the customer deleted
// the staff member (del_follow_user, properties.by "customer") or the
// staff member deleted the customer (del_external_contact, by "staff").
// A deletion WeCom made to hand the customer to another staff member
// (Source DELETE_BY_TRANSFER) is no loss and makes no event.
const EventContactLost = "contact_lost"

// SourceDeleteByTransfer is the Source of a del_external_contact that a
// customer transfer caused.
const SourceDeleteByTransfer = "DELETE_BY_TRANSFER"

// contactLost is the contact_lost event of ev, or nil when ev is no loss.
// Its message id is derived from the callback's key, so WeCom's retries
// make one event.
func contactLost(ev wecom.Event, received time.Time) *Record {
	by := ""
	switch {
	case ev.ChangeType == wecom.ChangeDelFollowUser:
		by = "customer"
	case ev.ChangeType == wecom.ChangeDelExternalContact && ev.Source != SourceDeleteByTransfer:
		by = "staff"
	default:
		return nil
	}
	sum := sha1.Sum([]byte(ev.DedupKey()))
	props, _ := json.Marshal(map[string]string{
		"change_type": ev.ChangeType, "staff_userid": ev.UserID, "by": by, "source": ev.Source,
	})
	return &Record{Kind: KindEvent, Event: &Event{
		MessageID: "wecom-lost-" + hex.EncodeToString(sum[:]), Type: "track", Event: EventContactLost,
		TS: ev.CreateTime, ReceivedAt: received, Source: "wecom",
		IDs:        []identity.Identifier{{Type: identity.WeComExternalUserID, Value: ev.ExternalUserID}},
		Properties: props,
	}}
}
