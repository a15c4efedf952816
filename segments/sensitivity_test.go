package segments

import (
	"strings"
	"testing"
)

// plansOf compiles rules by segment id, a PlanResolver for tests.
type plansOf map[string]*Compiled

func (p plansOf) SegmentPlan(id string) (*Compiled, bool) { c, ok := p[id]; return c, ok }

func mustCompile(t *testing.T, rule string) *Compiled {
	t.Helper()
	c, err := compileUnbounded(rule, table)
	if err != nil {
		t.Fatalf("%s: %v", rule, err)
	}
	return c
}

var testVocabulary = NewVocabulary([]string{"控糖", "血糖", "糖尿病", "低GI"}, []string{"孕期"})

// TestSensitivityReadsDecodedLiteralsOfEveryLeaf: each way of writing a
// health interest into a rule is found in the compiled plan, with the
// leaf and the term; rules without one are not flagged.
func TestSensitivityReadsDecodedLiteralsOfEveryLeaf(t *testing.T) {
	for _, tc := range []struct {
		rule string
		term string // "" when not sensitive
	}{
		{`chat("\u63a7\u7cd6", 30)`, "控糖"},
		{`chat("尿病", 30)`, "糖尿病"}, // finds every message with 糖尿病
		{`chat("控 糖", 30)`, "控糖"},
		{"chat(\"控\u200b糖\", 30)", "控糖"}, // zero-width space
		{`did("video_complete", 30, {"topic": "控糖"}) >= 2`, "控糖"},
		{`did("video_complete", 30, {"topic": ["健身", "控糖食谱"]}) >= 1`, "控糖"},
		{`did("search", 30, {"keyword": "低ｇｉ大米"}) >= 1`, "低GI"}, // full width, lower case
		{`did("控糖打卡", 30) >= 1`, "控糖"},
		{`did("view", 30, {"血糖仪": "1"}) >= 1`, "血糖"},
		{`never("video_complete", 30, {"topic": "控糖"})`, "控糖"},
		{`days_since_last("血糖测量") <= 7`, "血糖"},
		{`did_then("video_complete", "血糖咨询", 7, 30)`, "血糖"},
		{`bought("低GI大米", 365) >= 1`, "低GI"},
		{`lapsed("低GI大米", 60)`, "低GI"},
		{`tag("孕期")`, "孕期"},
		{`tag("孕期妈妈")`, "孕期"},
		{`city == "上海" && !(ltv > 300 || orders() == 0) && chat("血糖", 30)`, "血糖"},
		// Not sensitive: no health interest anywhere.
		{`chat("优惠", 30)`, ""},
		{`did("video_complete", 30, {"topic": "美食"}) >= 1 && city_tier == 1 && ltv > 2 * aov`, ""},
		{`bought("花生油", 90) >= 1 && bucket(100, "控糖") < 10`, ""}, // a salt selects nobody by interest
		{`spend(30) > 100 && days_since_first("order") > 30 && orders_total >= 2`, ""},
	} {
		f := Sensitivity(mustCompile(t, tc.rule), nil, testVocabulary)
		switch {
		case tc.term == "" && f != nil:
			t.Errorf("%s: flagged (%s), want not sensitive", tc.rule, f)
		case tc.term != "" && f == nil:
			t.Errorf("%s: not flagged, want the term %s", tc.rule, tc.term)
		case tc.term != "" && f.Term != tc.term:
			t.Errorf("%s: %s, want the term %s", tc.rule, f, tc.term)
		}
	}
}

// TestSensitivityFollowsInSegment: in_segment is followed through saved
// segments' plans, transitively; a cycle ends; an unknown segment counts
// as sensitive.
func TestSensitivityFollowsInSegment(t *testing.T) {
	plans := plansOf{
		"health": mustCompile(t, `chat("\u8840\u7cd6", 30)`),
		"middle": mustCompile(t, `in_segment("health") && city == "上海"`),
		"plain":  mustCompile(t, `bought("花生油", 90) >= 1`),
		"loop1":  mustCompile(t, `in_segment("loop2") || in_segment("plain")`),
		"loop2":  mustCompile(t, `in_segment("loop1")`),
	}
	f := Sensitivity(mustCompile(t, `!in_segment("plain") && in_segment("middle")`), plans, testVocabulary)
	if f == nil || f.Term != "血糖" || strings.Join(f.Path, ",") != "middle,health" {
		t.Fatalf("through two segments: %v", f)
	}
	if !strings.Contains(f.String(), `in_segment("middle") → in_segment("health") → chat(`) {
		t.Errorf("explanation %q", f)
	}
	if f := Sensitivity(mustCompile(t, `in_segment("loop1")`), plans, testVocabulary); f != nil {
		t.Errorf("a cycle of plain segments: %v", f)
	}
	if f := Sensitivity(mustCompile(t, `in_segment("gone") || in_segment("plain")`), plans, testVocabulary); f == nil || !f.Unresolved {
		t.Errorf("an unknown segment: %v", f)
	}
}

// TestSensitivityCoversEveryFunction: a rule using every function of the
// language passes through the analysis (a new leaf kind it does not know
// panics with BUG).
func TestSensitivityCoversEveryFunction(t *testing.T) {
	rule := `tag("a") && did("e", 30) >= 2 && never("e", 30) && days_since_first("e") > 1 && days_since_last("e") < 9 &&
		bought("x", 30) >= 1 && lapsed("x", 30) && orders(30) >= 1 && spend(30) > 1 && chat("hi", 30) &&
		did_then("a", "b", 7, 30) && in_segment("plain") && in_list("lst_0123456789ab", "plain") && bucket(10) < 5 && city == "上海" && ltv > 2 * aov && ltv > 1`
	for name := range maxArity {
		if !strings.Contains(rule, name+"(") {
			t.Fatalf("the rule does not use %s(): add it", name)
		}
	}
	plans := plansOf{"plain": mustCompile(t, `ltv > 1`)}
	if f := Sensitivity(mustCompile(t, rule), plans, testVocabulary); f != nil {
		t.Fatalf("flagged: %v", f)
	}
}
