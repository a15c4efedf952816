package wecom_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

// Moment tasks against the fake: WeCom's content limits refused before
// any call, the job polled to its moment, the corp's moments listed
// across pages of 20, a 45009 on the list reported as one, and a sender's
// visible and reached customers paged.
func TestMomentTaskLimitsJobAndPages(t *testing.T) {
	fake, c, clk := setup(t, 3, wecom.ClientOptions{})
	ctx := context.Background()
	img := func(n int) []wecom.MomentAttachment {
		out := make([]wecom.MomentAttachment, n)
		for i := range out {
			out[i].ImageMediaID = fmt.Sprint("img", i)
		}
		return out
	}
	for _, tc := range []struct {
		m    wecom.MomentTask
		want error
	}{
		{wecom.MomentTask{}, wecom.ErrMissingField},
		{wecom.MomentTask{Text: strings.Repeat("米", wecom.MaxMomentTextChars+1)}, wecom.ErrOverLimit},
		{wecom.MomentTask{Text: strings.Repeat("m", wecom.MaxMomentTextBytes+1)}, wecom.ErrOverLimit},
		{wecom.MomentTask{Attachments: img(wecom.MaxMomentImages + 1)}, wecom.ErrOverLimit},
		{wecom.MomentTask{Attachments: []wecom.MomentAttachment{{VideoMediaID: "v"}, {VideoMediaID: "w"}}}, wecom.ErrOverLimit},
		{wecom.MomentTask{Attachments: []wecom.MomentAttachment{{ImageMediaID: "i", VideoMediaID: "v"}}}, wecom.ErrBadField},
		{wecom.MomentTask{Attachments: []wecom.MomentAttachment{{Link: &wecom.MomentLink{Title: strings.Repeat("t", 65), URL: "https://x.cn", MediaID: "c"}}}}, wecom.ErrOverLimit},
		{wecom.MomentTask{Text: "x", Senders: []string{""}}, wecom.ErrMissingField},
		{wecom.MomentTask{Text: "x", Senders: make([]string, wecom.MaxMomentSenders+1)}, wecom.ErrOverLimit},
	} {
		if _, err := c.AddMomentTask(ctx, tc.m); !errors.Is(err, tc.want) {
			t.Errorf("AddMomentTask(%d attachments) = %v, want %v", len(tc.m.Attachments), err, tc.want)
		}
	}
	if n := fake.Calls(wecomtest.PathAddMomentTask); n != 0 {
		t.Fatalf("%d calls made for refused requests", n)
	}
	fake.SetMomentJobDelay(10 * time.Second)
	job, err := c.AddMomentTask(ctx, wecom.MomentTask{Text: "新米", Senders: []string{staff, "ghost"}, Attachments: img(wecom.MaxMomentImages)})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.GetMomentTaskResult(ctx, job); err != nil || r.Status != 2 {
		t.Fatalf("running job: %+v %v", r, err)
	}
	clk.Advance(10 * time.Second)
	r, err := c.GetMomentTaskResult(ctx, job)
	if err != nil || r.Status != wecom.MomentJobDone || r.MomentID == "" || strings.Join(r.InvalidSenders, ",") != "ghost" {
		t.Fatalf("done job: %+v %v", r, err)
	}
	if _, err := c.GetMomentTaskResult(ctx, "nojob"); err == nil {
		t.Fatal("an unknown jobid was answered")
	}
	fake.SetMomentJobDelay(0)
	for i := range 24 {
		if _, err := c.AddMomentTask(ctx, wecom.MomentTask{Text: fmt.Sprint("第", i)}); err != nil {
			t.Fatal(err)
		}
	}
	fake.FailNext(wecomtest.PathGetMomentList, 45009, 1)
	if _, err := c.ListMoments(ctx, clk.Now().Add(-time.Hour), clk.Now().Add(time.Hour)); !errors.Is(err, wecom.ErrRateLimited) {
		t.Fatalf("45009: %v", err)
	}
	before := fake.Calls(wecomtest.PathGetMomentList)
	list, err := c.ListMoments(ctx, clk.Now().Add(-time.Hour), clk.Now().Add(time.Hour))
	if err != nil || len(list) != 25 || fake.Calls(wecomtest.PathGetMomentList)-before != 2 {
		t.Fatalf("listed %d moments in %d calls: %v", len(list), fake.Calls(wecomtest.PathGetMomentList)-before, err)
	}
	if _, err := c.ListMoments(ctx, clk.Now().Add(-31*24*time.Hour), clk.Now()); !errors.Is(err, wecom.ErrOverLimit) {
		t.Fatalf("a 31-day range: %v", err)
	}
	fake.PublishMoment(r.MomentID, staff)
	pubs, err := c.MomentTasks(ctx, r.MomentID)
	if err != nil || len(pubs) != 1 || !pubs[0].Published {
		t.Fatalf("publishers: %+v %v", pubs, err)
	}
	fake.ExpireToken()
	seen, err := c.MomentCustomers(ctx, r.MomentID, staff)
	reached, err2 := c.MomentSendResult(ctx, r.MomentID, staff)
	if err != nil || err2 != nil || len(seen) != 3 || len(reached) != 3 {
		t.Fatalf("visible %v %v, reached %v %v", seen, err, reached, err2)
	}
}
