package wecomops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
)

// Transfer statuses (wecom_transfers.status): requested before the call,
// then what WeCom answered and transfer_result reports.
const (
	TransferRequested     = "requested"
	TransferWaiting       = "waiting"        // WeCom waits for the customer (24 h) before the takeover
	TransferDone          = "done"           // taken over
	TransferRefused       = "refused"        // the customer refused
	TransferLimitExceeded = "limit_exceeded" // the takeover staff member has too many customers
	TransferNoRecord      = "no_record"      // WeCom knows no such transfer
	TransferFailed        = "failed"         // WeCom refused the customer (its errcode kept)
)

// transferStatuses maps transfer_result's status to the record's.
var transferStatuses = map[int]string{1: TransferDone, 2: TransferWaiting, 3: TransferRefused, 4: TransferLimitExceeded, 5: TransferNoRecord}

// CustomerTransfer is one customer's transfer from a staff member to
// another.
type CustomerTransfer struct {
	ID          string    `json:"transfer_id"`
	Kind        string    `json:"kind"` // on_job or resigned
	Handover    string    `json:"handover_userid"`
	Takeover    string    `json:"takeover_userid"`
	External    string    `json:"external_userid"`
	Status      string    `json:"status"`
	ErrCode     int32     `json:"errcode"`
	TakeoverAt  time.Time `json:"takeover_at"`
	RequestedAt time.Time `json:"requested_at"`
	TS          time.Time `json:"ts"`
}

// TransferCustomers hands customers from one staff member to another:
// on_job (transfer_customer: the customer is asked, with message) or
// resigned (resigned/transfer_customer: a departed staff member's). Each
// customer is recorded requested before the call and waiting or failed
// (with WeCom's per-customer errcode) after; PollTransfers follows them.
// A call cut off leaves them requested: PollTransfers finds whether WeCom
// took them.
func (s *Service) TransferCustomers(ctx context.Context, t wecom.Transfer) ([]CustomerTransfer, error) {
	if err := t.Validate(); err != nil {
		field := "external_userid"
		for _, f := range []string{"kind", "handover_userid", "takeover_userid", "message"} {
			if strings.Contains(err.Error(), f) {
				field = f
			}
		}
		return nil, &FieldError{field, strings.TrimPrefix(err.Error(), "wecom: ")}
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	id := "tr_" + hex.EncodeToString(b[:])
	now := s.o.Clock.Now().UTC()
	out := make([]CustomerTransfer, len(t.ExternalUserIDs))
	for i, ext := range t.ExternalUserIDs {
		out[i] = CustomerTransfer{ID: id, Kind: string(t.Kind), Handover: t.HandoverUserID, Takeover: t.TakeoverUserID,
			External: ext, Status: TransferRequested, RequestedAt: now}
	}
	if err := s.writeTransfers(ctx, out); err != nil {
		return nil, err
	}
	codes, err := s.o.Client.TransferCustomers(ctx, t)
	if err != nil {
		return out, fmt.Errorf("wecomops: transfer customers: %w", err)
	}
	for i := range out {
		code, ok := codes[out[i].External]
		switch {
		case ok && code == 0:
			out[i].Status = TransferWaiting
		case ok:
			out[i].Status, out[i].ErrCode = TransferFailed, int32(code)
		}
	}
	return out, s.writeTransfers(ctx, out)
}

func (s *Service) writeTransfers(ctx context.Context, ts []CustomerTransfer) error {
	rows := make([][]any, len(ts))
	for i := range ts {
		t := &ts[i]
		t.TS = s.stamp()
		at := t.TakeoverAt
		if at.IsZero() {
			at = time.Unix(0, 0)
		}
		rows[i] = []any{t.ID, t.Kind, t.Handover, t.Takeover, t.External, t.Status, t.ErrCode, at, t.RequestedAt, t.TS}
	}
	if err := s.insert(ctx, "wecom_transfers", "transfer_id, kind, handover_userid, takeover_userid, external_userid, status, errcode, takeover_at, requested_at, ts", rows); err != nil {
		return fmt.Errorf("wecomops: write transfers: %w", err)
	}
	return nil
}

// Transfers lists customer transfers, newest request first; open only
// those still requested or waiting.
func (s *Service) Transfers(ctx context.Context, open bool, limit int) ([]CustomerTransfer, error) {
	where := ""
	if open {
		where = "WHERE status IN ('requested', 'waiting')"
	}
	var out []CustomerTransfer
	err := s.each(ctx, "read transfers", `SELECT transfer_id, kind, handover_userid, takeover_userid, external_userid, status, errcode, takeover_at, requested_at, ts
		FROM `+s.db.Table("wecom_transfers")+` FINAL `+where+` ORDER BY requested_at DESC, external_userid LIMIT ?`, []any{limit},
		func(scan scanFn) error {
			var t CustomerTransfer
			if err := scan(&t.ID, &t.Kind, &t.Handover, &t.Takeover, &t.External, &t.Status, &t.ErrCode, &t.TakeoverAt, &t.RequestedAt, &t.TS); err != nil {
				return err
			}
			if t.TakeoverAt.Unix() == 0 {
				t.TakeoverAt = time.Time{}
			}
			out = append(out, t)
			return nil
		})
	return out, err
}

// PollTransfers reads transfer_result (or resigned/transfer_result) for
// every (kind, handover, takeover) with a customer still requested or
// waiting, and records each customer whose state changed. It returns how
// many changed.
func (s *Service) PollTransfers(ctx context.Context) (int, error) {
	open, err := s.Transfers(ctx, true, 100000)
	if err != nil || len(open) == 0 {
		return 0, err
	}
	type pair struct{ kind, handover, takeover string }
	byPair := map[pair][]CustomerTransfer{}
	for _, t := range open {
		p := pair{t.Kind, t.Handover, t.Takeover}
		byPair[p] = append(byPair[p], t)
	}
	changed := 0
	var errs []error
	for p, ts := range byPair {
		res, err := s.o.Client.TransferResults(ctx, wecom.TransferKind(p.kind), p.handover, p.takeover)
		if err != nil {
			errs = append(errs, fmt.Errorf("wecomops: transfer results %s→%s: %w", p.handover, p.takeover, err))
			continue
		}
		now := map[string]wecom.TransferStatus{}
		for _, r := range res {
			now[r.ExternalUserID] = r
		}
		var upd []CustomerTransfer
		for _, t := range ts {
			r, ok := now[t.External]
			if !ok {
				continue
			}
			st := transferStatuses[r.Status]
			if st == "" || (st == t.Status && r.TakeoverTime.Equal(t.TakeoverAt)) {
				continue
			}
			t.Status, t.TakeoverAt = st, r.TakeoverTime
			upd = append(upd, t)
		}
		if err := s.writeTransfers(ctx, upd); err != nil {
			return changed, err
		}
		changed += len(upd)
	}
	return changed, errors.Join(errs...)
}
