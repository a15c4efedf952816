package segments

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestUnboundedRulesAreRefusedWithABoundedRewrite: each rule reads without
// bounds; Check refuses it at the clause's line and column, and the
// rewrite the message suggests (its text after "e.g. ") is accepted in
// the clause's place.
func TestUnboundedRulesAreRefusedWithABoundedRewrite(t *testing.T) {
	for _, tc := range []struct {
		rule, clause string // clause: the text the suggestion replaces
		line, col    int
		messageHas   string
	}{
		{`chat("血糖")`, `chat("血糖")`, 1, 1, "reads every WeCom message ever recorded"},
		{"city_tier == 1 &&\n  chat(\"血糖\") && ltv > 300", `chat("血糖")`, 2, 3, "add a window in days (at most 365), e.g. chat(\"血糖\", 90)"},
		{`chat("血糖", 400)`, `chat("血糖", 400)`, 1, 12, "read at most 365 days back"},
		{`never("video_play")`, `never("video_play")`, 1, 1, `reads every "video_play" event ever recorded`},
		{`ltv > 300 && did("search") >= 1`, `did("search")`, 1, 14, `did("search", 90)`},
		{`did("video_complete", 3650, {"topic": "控糖"}) >= 2`, `did("video_complete", 3650, {"topic": "控糖"})`, 1, 23, "3650 days of"},
		{`did_then("video_complete", "order", 7)`, `did_then("video_complete", "order", 7)`, 1, 1, `did_then("video_complete", "order", 7, 90)`},
		{`days_since_first("video_play") > 30`, `days_since_first("video_play") > 30`, 1, 1, "looks for the first"},
		{`days_since_last("video_play") > 30`, `days_since_last("video_play") > 30`, 1, 1, `never("video_play", 31)`},
		{`days_since_last("video_play") != 3`, `days_since_last("video_play") != 3`, 1, 1, "upper bound"},
		{`days_since_last("video_play") <= 400`, `days_since_last("video_play") <= 400`, 1, 1, `days_since_last("video_play") <= 364`},
		// per-customer trait arithmetic with nothing to narrow it
		{`ltv >= 2 * aov`, `ltv >= 2 * aov`, 1, 1, "would run over every customer"},
		{`!(ltv >= 2 * aov) && orders_total >= 1`, `ltv >= 2 * aov`, 1, 3, "would run over every customer"},
		{"city == \"上海\" &&\n  (tag(\"控糖\") || ltv / orders_total > 150)", `ltv / orders_total > 150`, 2, 17, "would run over every customer"},
		{`ltv >= 2 * aov && !tag("控糖")`, `ltv >= 2 * aov`, 1, 1, "would run over every customer"},
	} {
		t.Run(tc.rule, func(t *testing.T) {
			re := refusedAt(t, tc.rule, tc.line, tc.col, tc.messageHas)
			_, fix, ok := strings.Cut(re.Message, "e.g. ")
			if !ok {
				t.Fatalf("%q suggests no rewrite", re.Message)
			}
			if fixed := strings.Replace(tc.rule, tc.clause, fix, 1); fixed == tc.rule {
				t.Fatalf("clause %q not in the rule", tc.clause)
			} else if _, err := compile(fixed, table); err != nil {
				t.Errorf("the suggested %q gives %q, refused: %v", fix, fixed, err)
			}
		})
	}
}

// TestBoundedRulesAreAccepted: all-time rules over orders and tags (a few
// per customer, read in full by the trait index anyway), windows up to
// MaxScanDays over events and chats, days_since_last(event) with an upper
// bound (compiled to a window), and per-customer conditions beside a
// condition that narrows them.
func TestBoundedRulesAreAccepted(t *testing.T) {
	for _, rule := range []string{
		`bought("低GI大米") >= 1`,
		`lapsed("低GI大米", 60)`,
		`orders() >= 2 && spend() > 1000`,
		`did("order", 3650, {"channel": "tmall"}) >= 1`,
		`never("order")`,
		`days_since_last("order") > 60 && days_since_first("order") > 365`,
		`tag("控糖")`,
		`did("video_play", 365) >= 1 && chat("血糖", 365)`,
		`days_since_last("video_play") <= 30`,
		`days_since_last("video_play") in 3..7`,
		`city_tier == 1 && ltv >= 2 * aov`,
		`did("order", 90) >= 1 && ltv / orders_total > 150 && !tag("控糖")`,
		flagship,
	} {
		if _, err := compile(rule, table); err != nil {
			t.Errorf("%s: %v", rule, err)
		}
	}
}

// TestEngineRefusesUnboundedRulesBeforeReadingAnything: Estimate answers
// the *RuleError without computing a leaf.
func TestEngineRefusesUnboundedRulesBeforeReadingAnything(t *testing.T) {
	db := population(t)
	e := testEngine(db, nil)
	_, err := e.Estimate(context.Background(), "ltv > 300 &&\n  chat(\"血糖\")", 5)
	var re *RuleError
	if !errors.As(err, &re) || re.Line != 2 || re.Column != 3 || !strings.Contains(re.Message, `chat("血糖", 90)`) {
		t.Fatalf("got %v, want a refusal at 2:3", err)
	}
	if s := e.Stats(); s.Misses != 0 || s.Leaves != 0 {
		t.Errorf("leaves computed for a refused rule: %+v", s)
	}
}

// TestSavedUnboundedSegmentKeepsRunning: a segment saved before the
// bounds existed (written to the table directly) still loads and
// evaluates; saving its rule again is refused.
func TestSavedUnboundedSegmentKeepsRunning(t *testing.T) {
	db := population(t)
	ctx := context.Background()
	s := testStore(t, db)
	old := Definition{ID: "seg_old", Version: 1, Name: "asked about blood sugar, ever", Rule: `chat("血糖")`, Live: true, CreatedAt: testNow}
	if err := s.writeDefinition(ctx, old, false); err != nil {
		t.Fatal(err)
	}
	s = testStore(t, db) // a restart
	if _, err := s.Get("seg_old"); err != nil {
		t.Fatalf("the saved segment is gone after a restart: %v", err)
	}
	if _, err := s.Recompute(ctx, "seg_old"); err != nil {
		t.Fatal(err)
	}
	bm, err := s.Members("seg_old")
	if err != nil || !slices.Equal(bm.ToArray(), []uint32{2, 3}) {
		t.Fatalf("members %v (%v), want [2 3]", bm, err)
	}
	var re *RuleError
	if _, err := s.Save(ctx, old, "test"); !errors.As(err, &re) {
		t.Errorf("saving the unbounded rule again: %v, want a *RuleError", err)
	}
}
