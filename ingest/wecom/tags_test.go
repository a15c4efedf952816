package wecom_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
)

// mark_tag against the fake: limits refused before any call, WeCom's
// refusals (84061, 40068) as *APIError, 42001 renewed, 45009 a
// *RateLimitError, 5xx retryable; a repeated add changes nothing.
func TestMarkTagLimitsAndErrors(t *testing.T) {
	fake, c, _ := setup(t, 2, wecom.ClientOptions{})
	ctx := context.Background()
	tag := fake.AddCorpTag("复购", "米复购28天")
	for _, tc := range []struct {
		staff, ext  string
		add, remove []string
		want        error
	}{
		{"", cust(1), []string{tag}, nil, wecom.ErrMissingField},
		{staff, "", []string{tag}, nil, wecom.ErrMissingField},
		{staff, cust(1), nil, nil, wecom.ErrMissingField},
		{staff, cust(1), make([]string, wecom.MaxTagsPerPair+1), nil, wecom.ErrOverLimit},
	} {
		if err := c.MarkTag(ctx, tc.staff, tc.ext, tc.add, tc.remove); !errors.Is(err, tc.want) {
			t.Errorf("MarkTag(%q, %q, %d add) = %v, want %v", tc.staff, tc.ext, len(tc.add), err, tc.want)
		}
	}
	if n := fake.Calls(wecomtest.PathMarkTag); n != 0 {
		t.Fatalf("%d calls made for refused requests", n)
	}
	var apiErr *wecom.APIError
	if err := c.MarkTag(ctx, "lisi", cust(1), []string{tag}, nil); !errors.As(err, &apiErr) || apiErr.Code != wecom.ErrCodeNotExternalContact {
		t.Fatalf("a customer not the staff member's: %v", err)
	}
	if err := c.MarkTag(ctx, staff, cust(1), []string{"ettag999"}, nil); !errors.As(err, &apiErr) || apiErr.Code != wecom.ErrCodeInvalidTagID {
		t.Fatalf("an unknown tag: %v", err)
	}
	fake.ExpireToken()
	for range 2 {
		if err := c.MarkTag(ctx, staff, cust(1), []string{tag}, nil); err != nil {
			t.Fatalf("add (after the token expired, then again): %v", err)
		}
	}
	if got := fake.PairTags(staff, cust(1)); len(got) != 1 || got[0] != tag {
		t.Fatalf("pair tags = %v", got)
	}
	fake.FailNext(wecomtest.PathMarkTag, wecom.ErrCodeRateLimited, 1)
	if err := c.MarkTag(ctx, staff, cust(1), nil, []string{tag}); !errors.Is(err, wecom.ErrRateLimited) || !wecom.IsRetryable(err) {
		t.Fatalf("45009: %v", err)
	}
	fake.Fail5xx(wecomtest.PathMarkTag, 1)
	if err := c.MarkTag(ctx, staff, cust(1), nil, []string{tag}); !wecom.IsRetryable(err) {
		t.Fatalf("5xx: %v", err)
	}
	if err := c.MarkTag(ctx, staff, cust(1), nil, []string{tag}); err != nil || len(fake.PairTags(staff, cust(1))) != 0 {
		t.Fatalf("remove: %v, tags %v", err, fake.PairTags(staff, cust(1)))
	}
}

// The fake blocks an API for 60 s past its minute limit (45009) and for
// an hour past its hour limit, as WeCom does.
func TestFakeEnforcesFrequencyLimits(t *testing.T) {
	fake, c, clk := setup(t, 1, wecom.ClientOptions{})
	ctx := context.Background()
	tag := fake.AddCorpTag("复购", "米复购28天")
	fake.SetRateLimit(wecomtest.PathMarkTag, 3, 5)
	mark := func() error { return c.MarkTag(ctx, staff, cust(1), []string{tag}, nil) }
	// steps: advance the clock, then make calls expecting 45009 or not.
	for i, st := range []struct {
		advance time.Duration
		calls   int
		limited bool
	}{
		{0, 3, false},               // the minute's three
		{0, 1, true},                // the fourth in a minute
		{59 * time.Second, 1, true}, // within the 60 s block
		{2 * time.Second, 2, false}, // after it: five in the hour
		{time.Minute, 1, true},      // the sixth in an hour
		{59 * time.Minute, 1, true}, // within the hour's block
		{2 * time.Minute, 1, false}, // after it
	} {
		clk.Advance(st.advance)
		for range st.calls {
			if err := mark(); errors.Is(err, wecom.ErrRateLimited) != st.limited || (!st.limited && err != nil) {
				t.Fatalf("step %d: %v, want limited %v", i, err, st.limited)
			}
		}
	}
}

// get_corp_tag_list answers the library by group; a deleted tag is gone.
func TestGetCorpTagList(t *testing.T) {
	fake, c, _ := setup(t, 0, wecom.ClientOptions{})
	a := fake.AddCorpTag("复购", "米复购28天")
	fake.AddCorpTag("兴趣", "高潜控糖")
	b := fake.AddCorpTag("复购", "油复购")
	fake.DeleteCorpTag(b)
	tags, err := c.GetCorpTagList(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(tags) != 2 || tags[0].ID != a || tags[0].GroupName != "复购" || tags[1].Name != "高潜控糖" || tags[0].GroupID == tags[1].GroupID {
		t.Fatalf("library = %+v", tags)
	}
}
