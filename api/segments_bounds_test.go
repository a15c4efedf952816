package api_test

import (
	"strings"
	"testing"

	"github.com/granarycdp/cdp/api"
)

// TestBadRulesAnswer400WithLineAndColumn: an unknown function, a wrong
// type and a rule that would read without bounds are each answered 400
// with code invalid_rule, the field, and the 1-based line and column of
// the offending clause (a Chinese character counts as one column), by
// estimate, create and overlap alike; nothing is saved.
func TestBadRulesAnswer400WithLineAndColumn(t *testing.T) {
	f := newIngestFixture(t, 0)
	for _, tc := range []struct {
		name, rule string
		line, col  int
		messageHas []string
	}{
		{"unknown function", "city == \"上海\" &&\n  bougth(\"低GI大米\") >= 1", 2, 3, []string{"bougth"}},
		{"wrong type", "did(\"video_complete\", 30) >= 2 &&\n  city_tier == \"一线\"", 2, 13, []string{"mismatched types"}},
		{"unbounded chat search", "ltv > 300 &&\n  (tag(\"控糖\") || chat(\"血糖\"))", 2, 17,
			[]string{`chat("血糖") reads every WeCom message ever recorded`, `chat("血糖", 90)`}},
		{"window over the maximum", `did("video_play", 3650) >= 1`, 1, 19, []string{"at most 365 days", `did("video_play", 365)`}},
		{"per-customer check over everyone", `ltv / orders_total > 150`, 1, 1, []string{"would run over every customer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(what string, code int, e api.Error, field string) {
				t.Helper()
				if code != 400 || e.Code != "invalid_rule" || e.Field != field || e.Line != tc.line || e.Column != tc.col {
					t.Errorf("%s: %d %+v, want 400 invalid_rule field %s at %d:%d", what, code, e, field, tc.line, tc.col)
				}
				for _, s := range tc.messageHas {
					if !strings.Contains(e.Message, s) {
						t.Errorf("%s: message %q lacks %q", what, e.Message, s)
					}
				}
			}
			var e api.Error
			rec := f.do("POST", "/api/v1/segments/estimate", adminToken, map[string]any{"rule": tc.rule}, &e)
			check("estimate", rec.Code, e, "rule")

			e = api.Error{}
			rec = f.do("POST", "/api/v1/segments", adminToken, map[string]any{"name": tc.name, "rule": tc.rule}, &e)
			check("create", rec.Code, e, "rule")

			e = api.Error{}
			rec = f.do("POST", "/api/v1/segments/overlap", adminToken, map[string]any{"a": `tag("控糖")`, "b": tc.rule}, &e)
			check("overlap", rec.Code, e, "b")
		})
	}
	var list struct{ Items []any }
	if rec := f.do("GET", "/api/v1/segments", adminToken, nil, &list); rec.Code != 200 || len(list.Items) != 0 {
		t.Errorf("segments after refusals: %d %v", rec.Code, list.Items)
	}
	// The bounded rewrite of the chat rule is accepted.
	if rec := f.do("POST", "/api/v1/segments/estimate", adminToken, map[string]any{"rule": "ltv > 300 &&\n  (tag(\"控糖\") || chat(\"血糖\", 90))"}, nil); rec.Code != 200 {
		t.Errorf("bounded rule: %d %s", rec.Code, rec.Body)
	}
}
