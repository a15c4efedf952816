package demand

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestOnePassMatchAgreesWithPlainMatching checks the demand views' match
// (a keyword or chat searched for all text terms at once, 255 terms a
// call; a topic mapped by transform: migration 27) against the plain
// per-entry match of migration 16 (positionCaseInsensitiveUTF8 for each
// text term, equality for topics) over the same raw rows, with a
// dictionary of more text terms than one call takes and case folds that
// differ between scripts.
func TestOnePassMatchAgreesWithPlainMatching(t *testing.T) {
	db := storetest.Migrated(t)
	ctx := context.Background()
	s := New(db, nil)
	terms, err := s.Terms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 700 {
		terms = append(terms, Term{Term: fmt.Sprintf("填充词%03d", i), Match: "text", Class: fmt.Sprintf("填充%d", i/255)})
	}
	// After the fillers, so that they sit past the first calls' 255 terms
	// in any order the engine gathers them.
	for _, x := range []Term{
		{Term: "Gi米", Match: "text", Class: "X1"}, {Term: "straße", Match: "text", Class: "X2"}, {Term: "ΣΟΦΙΑ", Match: "text", Class: "X3"}, {Term: "ＧＩ", Match: "text", Class: "X4"},
		{Term: "İstanbul", Match: "text", Class: "X5"}, {Term: "Café", Match: "topic", Class: "X6"}, {Term: "ǅ", Match: "text", Class: "X7"},
	} {
		terms = append(terms, x)
	}
	if err := s.SetTerms(ctx, terms); err != nil {
		t.Fatal(err)
	}
	keywords := []string{"gI米好吃", "GI米", "STRASSE", "Straße", "strasse", "σοφια", "σοφιας", "ｇｉ", "ＧＩ大米", "istanbul",
		"İSTANBUL", "i̇stanbul", "填充词677 和 低gi大米", "填充词000填充词699", "填充词254填充词255填充词510", "", "ǆ", "Ǆ", "大米怎么选"}
	topics := []string{"Café", "café", "CAFÉ", "控糖", "减脂", "", "家常菜"}
	var events, msgs [][]any
	for i, k := range keywords {
		events = append(events, []any{fmt.Sprintf("s%d", i), "track", "search", t0, t0, "douyin", uint32(1 + i),
			fmt.Sprintf(`{"keyword":%q}`, k), `{"location":{"region":"四川","city":"成都"}}`})
		ext := fmt.Sprintf("wm%d", i)
		msgs = append(msgs, []any{fmt.Sprintf("m%d", i), "send", ext, []string{"staff"}, "", t0, "text", k, ext, "staff", uint32(1 + i), t0})
	}
	for i, tp := range topics {
		events = append(events, []any{fmt.Sprintf("v%d", i), "track", "video_play", t0, t0, "douyin", uint32(100 + i),
			fmt.Sprintf(`{"topic":%q}`, tp), `{}`})
	}
	insert(t, db, "events", eventCols, events...)
	insert(t, db, "wecom_messages", msgCols, msgs...)

	got := classCounts(t, db, "SELECT class, source, sum(signals) FROM "+db.Table("demand_signals_hourly")+" GROUP BY class, source")
	dict := "(SELECT * FROM " + db.Table("demand_terms") + " FINAL WHERE deleted = 0)"
	want := classCounts(t, db, `SELECT class, source, count() FROM (
  SELECT DISTINCT e.message_id, d.class AS class, if(e.event = 'search', 'search', 'view') AS source
  FROM `+db.Table("events")+` AS e CROSS JOIN `+dict+` AS d
  WHERE (e.event = 'search' AND d.match = 'text' AND positionCaseInsensitiveUTF8(e.keyword, d.term) > 0)
     OR (e.event = 'video_play' AND d.match = 'topic' AND toString(e.topic) = d.term)
  UNION ALL
  SELECT DISTINCT m.msgid, d.class, 'chat'
  FROM `+db.Table("wecom_messages")+` AS m CROSS JOIN `+dict+` AS d
  WHERE m.action = 'send' AND m.from = m.external_userid AND d.match = 'text' AND positionCaseInsensitiveUTF8(m.content, d.term) > 0)
GROUP BY class, source`)
	if len(want) == 0 {
		t.Fatal("the plain match found nothing")
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: the view counted %d, the plain match %d", k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: the view counted %d, the plain match none", k, n)
		}
	}
	// The terms past the first calls were matched at all.
	for _, k := range []string{"X1|search", "填充2|search", "填充2|chat", "X6|view"} {
		if want[k] == 0 {
			t.Errorf("%s: no signal, so the test does not reach the terms it is about", k)
		}
	}
}

func classCounts(t *testing.T, db *store.DB, q string) map[string]uint64 {
	t.Helper()
	rows, err := db.Conn.Query(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]uint64{}
	for rows.Next() {
		var class, source string
		var n uint64
		if err := rows.Scan(&class, &source, &n); err != nil {
			t.Fatal(err)
		}
		out[class+"|"+source] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A term with both its term and its class empty is always told about the
// term first (the check once ranged over a map, so the field was random).
func TestValidateTermsNamesTheSameFieldEveryTime(t *testing.T) {
	for i := 0; i < 64; i++ {
		err := ValidateTerms([]Term{{Term: " ", Class: "", Match: "text"}})
		var inv *InvalidError
		if !errors.As(err, &inv) || inv.Field != "terms[0].term" {
			t.Fatalf("try %d: %v, want terms[0].term", i, err)
		}
	}
	err := ValidateTerms([]Term{{Term: "低GI", Class: "", Match: "text"}})
	var inv *InvalidError
	if !errors.As(err, &inv) || inv.Field != "terms[0].class" {
		t.Fatalf("%v, want terms[0].class", err)
	}
}
