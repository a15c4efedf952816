package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// WeCom receives WeCom callbacks for one corp: verified by msg_signature,
// decrypted, and the customer-contact changes spooled. Contact details
// (name, unionid) are fetched through the API client when one is given.
type WeCom struct {
	Crypto *wecom.Crypto
	Client *wecom.Client // optional
	CorpID string
	// LookupTimeout bounds the contact-detail call; WeCom waits 5 s for
	// the callback's answer, so the lookup gets at most 2 s of it.
	LookupTimeout time.Duration
	// ReplayWindow is how far a callback's timestamp may be from the
	// server's clock, and MaxNonces how many accepted callbacks are
	// remembered to refuse a resend (wecom_replay.go); zero: the defaults.
	ReplayWindow time.Duration
	MaxNonces    int
	// OnEvent, when set, is given every verified change_external_contact
	// event once it is spooled and before the callback is acknowledged
	// (wecomops journals WelcomeCodes with it: the code is usable for 20 s
	// and WeCom does not send it again once acknowledged). Its error
	// leaves the callback unacknowledged, so WeCom sends it again; a
	// retried callback is given again.
	OnEvent func(context.Context, wecom.Event) error
	// OnChat, when set, is handed every verified customer-group callback
	// (change_external_chat), after it is acknowledged; it must not block
	// (wecomops.Service.GroupChanged queues the group for a read).
	OnChat func(wecom.Event)

	nonces nonceMemory
}

// ErrBadSignature is returned for a callback that fails verification.
var ErrBadSignature = errors.New("ingest: WeCom callback signature or payload invalid")

// WeComVerifyURL answers WeCom's URL verification (GET with echostr).
func (c *Collector) WeComVerifyURL(w *WeCom, msgSignature, timestamp, nonce, echostr string) ([]byte, error) {
	plain, err := w.Crypto.VerifyURL(msgSignature, timestamp, nonce, echostr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	return plain, nil
}

// WeComCallback verifies, decrypts and spools one callback. A callback
// whose timestamp is outside the replay window is refused with
// ErrStaleTimestamp, one whose timestamp and nonce were accepted before
// with ErrReplayed (wecom_replay.go). WeCom retries a callback it got no
// answer to; retries are recognised by their key and acknowledged without
// a second record.
func (c *Collector) WeComCallback(ctx context.Context, w *WeCom, msgSignature, timestamp, nonce string, body []byte) (Result, error) {
	plain, err := w.Crypto.DecryptMessage(msgSignature, timestamp, nonce, body)
	if err != nil {
		return Result{}, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	release, err := w.admit(timestamp, nonce, c.now())
	if err != nil {
		return Result{}, err
	}
	res, err := c.weComEvent(ctx, w, plain)
	var prob *Problem
	if err != nil && !errors.As(err, &prob) {
		release() // not taken: WeCom sends it again, maybe with the same nonce
	}
	return res, err
}

// weComEvent records a verified callback's event.
func (c *Collector) weComEvent(ctx context.Context, w *WeCom, plain []byte) (Result, error) {
	ev, err := wecom.ParseEvent(plain)
	if err != nil {
		c.deadLetter(ctx, "wecom", "/wecom/callback", []item{{problem: &Problem{Code: "invalid", Message: err.Error()}, raw: plain}})
		return Result{}, &Problem{Code: "invalid", Message: err.Error()}
	}
	if ev.Event == wecom.EventChangeExternalChat && w.OnChat != nil {
		w.OnChat(ev) // the group is read again through the API: nothing to spool
	}
	if ev.Event != "change_external_contact" {
		// Other callbacks (tags; customer groups, handed to OnChat) are
		// acknowledged without a record.
		return Result{}, nil
	}
	con := &Contact{
		DedupKey: ev.DedupKey(), TS: ev.CreateTime, ChangeType: ev.ChangeType, CorpID: w.CorpID,
		StaffUserID: ev.UserID, ExternalUserID: ev.ExternalUserID, State: ev.State, ReceivedAt: c.now().UTC(),
	}
	if w.Client != nil && strings.HasSuffix(ev.ChangeType, "external_contact") && ev.ChangeType != "del_external_contact" {
		c.contactDetails(ctx, w, con)
	}
	rec := &Record{Kind: KindContact, Contact: con}
	items := []item{c.item(rec, nil, plain)}
	if lost := contactLost(ev, con.ReceivedAt); lost != nil {
		items = append(items, c.item(lost, nil, nil))
	}
	res, err := c.accept(ctx, "wecom", "/wecom/callback", items)
	if len(items) > 1 {
		// The result counts what WeCom sent: the contact_lost event is
		// stored with its callback (same key, so new or duplicate with
		// it), not received.
		res.Accepted, res.Duplicates = min(res.Accepted, 1), min(res.Duplicates, 1)
	}
	if err == nil && w.OnEvent != nil {
		err = w.OnEvent(ctx, ev)
	}
	return res, err
}

func (c *Collector) contactDetails(ctx context.Context, w *WeCom, con *Contact) {
	timeout := w.LookupTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ext, err := w.Client.GetExternalContact(ctx, con.ExternalUserID)
	if err != nil {
		c.logger.Warn("WeCom contact details unavailable; recording the change without them", "external_userid", con.ExternalUserID, "err", err)
		return
	}
	con.Name, con.UnionID = ext.Name, ext.UnionID
	if con.State == "" {
		for _, f := range ext.FollowUsers {
			if f.UserID == con.StaffUserID {
				con.State = f.State
			}
		}
	}
}

// ImportResult is the outcome of a file import. Rejected lists at most
// MaxListedRejections rejections, the first by line; RejectedCount counts
// all of them.
type ImportResult struct {
	Lines int `json:"lines"`
	Result
	RejectedCount int `json:"rejected_count"`
	// PhonesDropped counts masked or virtual buyer phones a file import
	// dropped: never identifiers (imports.PhoneUnusable).
	PhonesDropped int `json:"phones_dropped"`
}

// ImportWeComArchive imports decrypted chat-archive messages (JSON lines),
// idempotently by msgid. Bad lines are reported by line number and
// dead-lettered; the rest are imported.
func (c *Collector) ImportWeComArchive(ctx context.Context, source string, r io.Reader) (ImportResult, error) {
	rd := wecom.NewReader(r)
	im := c.newChunker(source, "/v1/import/wecom-archive")
	received := c.now().UTC()
	for {
		m, err := rd.Read()
		if err == io.EOF {
			break
		}
		im.out.Lines = rd.Line()
		var it item
		var le *wecom.LineError
		switch {
		case errors.As(err, &le):
			it = item{problem: &Problem{Code: "invalid", Message: le.Err.Error()}, raw: []byte(fmt.Sprintf("line %d", le.Line)), line: le.Line}
		case err != nil:
			return im.out, err
		default:
			it = c.item(&Record{Kind: KindMessage, Message: archiveMessage(m, received)}, nil, nil)
		}
		if err := im.add(ctx, it); err != nil {
			return im.out, err
		}
	}
	return im.out, im.flush(ctx)
}

// isExternal tells a customer's WeCom id (wm.../wo...) from a staff id.
func isExternal(id string) bool { return strings.HasPrefix(id, "wm") || strings.HasPrefix(id, "wo") }

func archiveMessage(m wecom.ArchiveMessage, received time.Time) *Message {
	msg := &Message{
		MsgID: m.MsgID, Action: m.Action, From: m.From, ToList: m.ToList, RoomID: m.RoomID, MsgTime: m.MsgTime,
		MsgType: m.MsgType, Content: m.Text, PreMsgID: m.PreMsgID, Body: string(m.Body), ReceivedAt: received,
	}
	if m.RoomID == "" {
		if isExternal(m.From) {
			msg.ExternalUserID = m.From
			if len(m.ToList) > 0 {
				msg.StaffUserID = m.ToList[0]
			}
		} else {
			msg.StaffUserID = m.From
			for _, to := range m.ToList {
				if isExternal(to) {
					msg.ExternalUserID = to
					break
				}
			}
		}
	}
	return msg
}
