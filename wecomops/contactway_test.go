package wecomops

import (
	"bytes"
	"errors"
	"image/png"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/store/storetest"
)

func fieldOf(err error) string {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

// Channel QR codes: bad input refused naming the field before WeCom is
// called; create, update, delete in WeCom and in the record; a State used
// once; the PNG; customers added counted per State.
func TestContactWayLifecycle(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := f.ctx
	for _, tc := range []struct {
		in    ContactWayInput
		field string
	}{
		{ContactWayInput{Kind: "store", Users: []string{"staff1"}}, "state"},
		{ContactWayInput{State: strings.Repeat("店", 31), Kind: "store", Users: []string{"staff1"}}, "state"},
		{ContactWayInput{State: "a/b", Kind: "store", Users: []string{"staff1"}}, "state"},
		{ContactWayInput{State: "s", Kind: "shop", Users: []string{"staff1"}}, "kind"},
		{ContactWayInput{State: "s", Kind: "store"}, "users"},
		{ContactWayInput{State: "s", Kind: "store", Users: []string{""}}, "users"},
		{ContactWayInput{State: "s", Kind: "store", Users: []string{"staff1"}, Remark: strings.Repeat("x", 31)}, "remark"},
	} {
		if _, err := f.svc.CreateContactWay(ctx, tc.in, "test"); fieldOf(err) != tc.field {
			t.Errorf("CreateContactWay(%+v) = %v, want a %s error", tc.in, err, tc.field)
		}
	}
	if n := f.fake.Calls(wecomtest.PathAddContactWay); n != 0 {
		t.Fatalf("%d add_contact_way calls for refused input", n)
	}
	state := strings.Repeat("店", 28) + "01" // 30 characters
	w, err := f.svc.CreateContactWay(ctx, ContactWayInput{State: state, Kind: "store", Ref: "store-001", Users: []string{"staff1"}}, "test")
	f.must(err)
	if w.Status != WayActive || w.ConfigID == "" || !w.SkipVerify {
		t.Fatalf("created: %+v", w)
	}
	if got := f.fake.ContactWays(); len(got) != 1 || got[0] != state {
		t.Fatalf("WeCom holds %v", got)
	}
	if _, err := f.svc.CreateContactWay(ctx, ContactWayInput{State: state, Kind: "sku", Users: []string{"staff2"}}, "test"); fieldOf(err) != "state" {
		t.Fatalf("a second code for the State: %v", err)
	}
	img, err := f.svc.QRCodePNG(ctx, state)
	f.must(err)
	if _, err := png.Decode(bytes.NewReader(img)); err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	off := false
	w, err = f.svc.UpdateContactWay(ctx, state, ContactWayInput{Users: []string{"staff1", "staff2"}, Remark: "两人", SkipVerify: &off}, "test")
	f.must(err)
	f.contact(wecom.ChangeAddExternalContact, "staff1", "wmA", 1)
	storetest.Insert(t, f.db, "wecom_contact_events", "dedup_key, ts, change_type, staff_userid, external_userid, state, spool_seq",
		[]any{"kx", f.clock.Now(), "add_external_contact", "staff2", "wmB", state, uint64(99)})
	ways, err := f.svc.ContactWays(ctx)
	f.must(err)
	if len(ways) != 1 || len(ways[0].Users) != 2 || ways[0].SkipVerify || ways[0].Remark != "两人" || ways[0].Added != 1 || ways[0].Kind != "store" {
		t.Fatalf("after update: %+v", ways)
	}
	_, err = f.svc.DeleteContactWay(ctx, state, "test")
	f.must(err)
	if got := f.fake.ContactWays(); len(got) != 0 {
		t.Fatalf("WeCom still holds %v", got)
	}
	if _, err := f.svc.ContactWay(ctx, state); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if _, err := f.svc.QRCodePNG(ctx, state); !errors.Is(err, ErrNotFound) {
		t.Fatalf("PNG after delete: %v", err)
	}
}

// WeCom's refusal frees the State; a failure that may have created the
// code leaves it pending until ResolvePendingWays finds it in WeCom's list
// (or not).
func TestContactWayFailuresAndPending(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := f.ctx
	in := func(s string) ContactWayInput {
		return ContactWayInput{State: s, Kind: "batch", Users: []string{"staff1"}}
	}
	f.fake.SetMaxContactWays(0)
	if _, err := f.svc.CreateContactWay(ctx, in("b1"), "t"); err == nil {
		t.Fatal("created over the corp's limit")
	}
	if _, err := f.svc.ContactWay(ctx, "b1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused code is kept: %v", err)
	}
	f.fake.SetMaxContactWays(10)
	f.fake.Fail5xx(wecomtest.PathAddContactWay, 1)
	if _, err := f.svc.CreateContactWay(ctx, in("b2"), "t"); !wecom.IsRetryable(err) {
		t.Fatalf("5xx: %v", err)
	}
	// A timeout after WeCom created the code.
	slow, err := wecom.NewClient(corpID, secret, wecom.ClientOptions{BaseURL: f.fake.URL, Now: f.clock.Now, HTTPClient: &http.Client{Timeout: 300 * time.Millisecond}})
	f.must(err)
	f.svc.o.Client = slow
	f.fake.Delay(wecomtest.PathAddContactWay, 2*time.Second)
	if _, err := f.svc.CreateContactWay(ctx, in("b3"), "t"); err == nil {
		t.Fatal("no timeout")
	}
	f.fake.Delay(wecomtest.PathAddContactWay, 0)
	f.svc.o.Client = f.client()
	for _, s := range []string{"b2", "b3"} {
		if w, err := f.svc.ContactWay(ctx, s); err != nil || w.Status != WayPending {
			t.Fatalf("%s: %+v %v, want pending", s, w, err)
		}
	}
	if n, err := f.svc.ResolvePendingWays(ctx); n != 0 || err != nil {
		t.Fatalf("resolved %d (%v) pending codes younger than a minute", n, err)
	}
	f.clock.Advance(2 * time.Minute)
	n, err := f.svc.ResolvePendingWays(ctx)
	if err != nil || n != 2 {
		t.Fatalf("resolved %d, %v", n, err)
	}
	if _, err := f.svc.ContactWay(ctx, "b2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("b2, which WeCom never created: %v", err)
	}
	if w, err := f.svc.ContactWay(ctx, "b3"); err != nil || w.Status != WayActive || w.ConfigID == "" {
		t.Fatalf("b3, which WeCom created: %+v %v", w, err)
	}
}
