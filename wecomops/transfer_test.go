package wecomops

import (
	"testing"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

// A resigned staff member's customers are handed over: refused input
// names the field; each customer is recorded waiting or failed (WeCom's
// per-customer errcode); polling records the takeover time, then done
// and refused as the fake settles them, and only changes.
func TestTransfersFollowed(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := f.ctx
	for _, ext := range []string{"wmT1", "wmT2"} {
		f.fake.AddContact(wecomtest.Contact{ExternalUserID: ext, FollowUser: "gone"})
	}
	if _, err := f.svc.TransferCustomers(ctx, wecom.Transfer{Kind: wecom.TransferResigned, HandoverUserID: "gone", ExternalUserIDs: []string{"wmT1"}}); fieldOf(err) != "takeover_userid" {
		t.Fatalf("no takeover: %v", err)
	}
	got, err := f.svc.TransferCustomers(ctx, wecom.Transfer{Kind: wecom.TransferResigned, HandoverUserID: "gone", TakeoverUserID: "lisi",
		ExternalUserIDs: []string{"wmT1", "wmT2", "wmNOBODY"}})
	f.must(err)
	st := map[string]string{}
	for _, tr := range got {
		st[tr.External] = tr.Status
	}
	if st["wmT1"] != TransferWaiting || st["wmT2"] != TransferWaiting || st["wmNOBODY"] != TransferFailed {
		t.Fatalf("after the call: %v", st)
	}
	// The first poll learns when the waiting ones will be taken over; the
	// next finds nothing new.
	if n, err := f.svc.PollTransfers(ctx); err != nil || n != 2 {
		t.Fatalf("first poll: %d %v", n, err)
	}
	if n, err := f.svc.PollTransfers(ctx); err != nil || n != 0 {
		t.Fatalf("poll without a change: %d %v", n, err)
	}
	f.fake.SettleTransfer("wmT1", 1)
	f.fake.SettleTransfer("wmT2", 3)
	if n, err := f.svc.PollTransfers(ctx); err != nil || n != 2 {
		t.Fatalf("poll: %d %v", n, err)
	}
	list, err := f.svc.Transfers(ctx, false, 10)
	f.must(err)
	for _, tr := range list {
		st[tr.External] = tr.Status
	}
	if st["wmT1"] != TransferDone || st["wmT2"] != TransferRefused {
		t.Fatalf("after polling: %v", st)
	}
	if open, _ := f.svc.Transfers(ctx, true, 10); len(open) != 0 {
		t.Fatalf("open transfers left: %+v", open)
	}
}
