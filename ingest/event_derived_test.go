package ingest

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store"
	"github.com/granarycdp/cdp/store/storetest"
)

// derivedSeeds are properties of every shape the derived columns meet:
// the demo's, escapes, nesting, repeated keys, numbers as strings, missing
// keys, invalid documents.
var derivedSeeds = []string{
	`{"topic":"控糖","keyword":"低GI大米","completion_ratio":0.97}`,
	`{"video_id":"v1","topic":"减脂","completion_ratio":1,"duration_s":31}`,
	`{"keyword":"高油酸花生油","results":12}`,
	`{}`, ` { "topic" : "a" , "keyword" : "b" } `, `{"a":{"topic":"nested","completion_ratio":1}}`, `{"Topic":"case"}`,
	`{"topic":"a","topic":"b","keyword":"k","keyword":"l","completion_ratio":0.5,"completion_ratio":0.25}`,
	`{"topic":"a","topic":"b","keyword":"k","keyword":2,"completion_ratio":0.5,"completion_ratio":"x"}`,
	`{"topic":1}`, `{"topic":true}`, `{"topic":null}`, `{"topic":{"x":1}}`, `{"topic":["a"]}`, `{"keyword":-1.50}`,
	`{"top\u0069c":"esc"}`, `{"topic":"\u00e9\ud83d\ude00\n\"\\\/\t\b\f\r"}`, `{"topic":"\ud800"}`, `{"topic":"x","k":"\udc00"}`,
	`{"topic":"a\u0000b","keyword":"\u4f4eGI"}`, `{"keyword":"[phone *******5678 h:3f91]"}`,
	`{"topic":"a"} x`, `{"topic":"a",}`, `[{"topic":"a"}]`, `"x"`, `null`, ``, `1`,
	"{\"topic\":\"\xff\"}", "{\"topic\":\"a\",\"z\":\"\xff\"}", "{\"topic\":\"a\x01\"}",
	`{"completion_ratio":"0.97"}`, `{"completion_ratio":"+0.5"}`, `{"completion_ratio":" 0.5"}`, `{"completion_ratio":".5"}`,
	`{"completion_ratio":"inf"}`, `{"completion_ratio":"nan"}`, `{"completion_ratio":"0x10"}`, `{"completion_ratio":""}`,
	`{"completion_ratio":true}`, `{"completion_ratio":false}`, `{"completion_ratio":null}`, `{"completion_ratio":[1]}`, `{"completion_ratio":{"a":1}}`,
	`{"completion_ratio":1e400}`, `{"completion_ratio":-1e400}`, `{"completion_ratio":1e-400}`, `{"completion_ratio":1e-310}`, `{"completion_ratio":0.0e-999}`,
	`{"completion_ratio":123456789012345678901234567890}`, `{"completion_ratio":-9223372036854775809}`, `{"completion_ratio":-9223372036854775808}`,
	`{"completion_ratio":18446744073709551615}`, `{"completion_ratio":18446744073709551616}`, `{"completion_ratio":16777217}`,
	`{"completion_ratio":0.1}`, `{"completion_ratio":-0}`, `{"completion_ratio":-0.0}`, `{"completion_ratio":3.4028235e38}`, `{"completion_ratio":3.4028236e38}`,
	`{"completion_ratio":3.4028235e39}`, `{"completion_ratio":1.00000005960464477539}`, `{"completion_ratio":2.5E-3}`, `{"completion_ratio":01}`,
	`{"completion_ratio":0.9999999999999999999999999}`,
}

// The columns the pipeline computes from properties are exactly what the
// engine's DEFAULT expressions compute: each seed and every one-byte
// mutation of it is inserted into the events table twice, once leaving
// topic, keyword and completion to the engine and once with the values of
// derivedColumns when it takes the shape, and the stored rows must agree.
// The common shapes must be taken (else the gain is gone unnoticed).
func TestDerivedColumnsMatchTheEngine(t *testing.T) {
	db := storetest.Migrated(t)
	var inputs []string
	for _, s := range derivedSeeds {
		for _, m := range mutations([]byte(s)) {
			inputs = append(inputs, string(m))
		}
	}
	w := store.NewWriter(db, store.WriterOptions{Logger: storetest.Logger()})
	defer w.Close(context.Background())
	engine := w.Table("events", eventColumns...).Keyed("spool_seq")
	derived := engine.WithColumns(append(eventColumns[:len(eventColumns):len(eventColumns)], derivedEventColumns...)...)
	var byEngine, byGo eventCols
	byEngine.reset(len(inputs))
	byGo.reset(len(inputs))
	taken := map[int]bool{}
	ts := time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)
	for i, in := range inputs {
		e := &Event{MessageID: fmt.Sprintf("e-%d", i), Type: "track", Event: "derived", TS: ts, ReceivedAt: ts, Source: "test", Properties: []byte(in)}
		byEngine.add(e, 0, uint64(2*i+1))
		if _, _, _, ok := derivedColumns([]byte(in)); ok {
			var one eventCols
			one.reset(1)
			g := *e
			g.MessageID = fmt.Sprintf("g-%d", i)
			one.add(&g, 0, uint64(2*i+2))
			byGo.add(&g, 0, uint64(2*i+2))
			byGo.topic = append(byGo.topic[:byGo.len()-1], one.topic[0])
			byGo.keyword = append(byGo.keyword[:byGo.len()-1], one.keyword[0])
			byGo.completion = append(byGo.completion[:byGo.len()-1], one.completion[0])
			taken[i] = true
		}
	}
	if !byEngine.engineDefaults || byGo.engineDefaults {
		t.Fatalf("BUG: engine defaults %v for the engine's batch and %v for Go's", byEngine.engineDefaults, byGo.engineDefaults)
	}
	ctx := context.Background()
	if err := engine.InsertColumns(ctx, "derived-engine", byEngine.columns()...); err != nil {
		t.Fatal(err)
	}
	if err := derived.InsertColumns(ctx, "derived-go", byGo.columns()...); err != nil {
		t.Fatal(err)
	}
	type row struct {
		topic, keyword string
		completion     float32
	}
	stored := map[string]row{}
	rows, err := db.Conn.Query(ctx, "SELECT message_id, toString(topic), keyword, completion FROM "+db.Table("events")+" WHERE event = 'derived'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var r row
		if err := rows.Scan(&id, &r.topic, &r.keyword, &r.completion); err != nil {
			t.Fatal(err)
		}
		stored[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for i, in := range inputs {
		want, ok := stored[fmt.Sprintf("e-%d", i)]
		if !ok {
			t.Fatalf("row e-%d (%q) not stored", i, in)
		}
		if !taken[i] {
			continue
		}
		got := stored[fmt.Sprintf("g-%d", i)]
		if got.topic != want.topic || got.keyword != want.keyword || math.Float32bits(got.completion) != math.Float32bits(want.completion) {
			t.Errorf("%q: pipeline stored %+v, the engine's DEFAULT %+v", in, got, want)
		}
	}
	for _, s := range derivedSeeds[:7] {
		if _, _, _, ok := derivedColumns([]byte(s)); !ok {
			t.Errorf("%q is a common shape the pipeline should compute itself", s)
		}
	}
	t.Logf("%d inputs, %d computed by the pipeline", len(inputs), len(taken))
}

// One row the pipeline is not sure of leaves the batch's derived columns
// to the engine, and the batch is inserted without them.
func TestOneUncertainRowLeavesTheDerivedColumnsToTheEngine(t *testing.T) {
	var c eventCols
	c.reset(2)
	c.add(&Event{MessageID: "a", Properties: []byte(`{"topic":"控糖"}`)}, 0, 1)
	if c.engineDefaults || len(c.columns()) != len(eventColumns)+len(derivedEventColumns) {
		t.Fatalf("a certain row: engine defaults %v, %d columns", c.engineDefaults, len(c.columns()))
	}
	c.add(&Event{MessageID: "b", Properties: []byte(`{"topic":7}`)}, 0, 2)
	c.add(&Event{MessageID: "c", Properties: []byte(`{"topic":"减脂"}`)}, 0, 3)
	if !c.engineDefaults || len(c.columns()) != len(eventColumns) || c.len() != 3 {
		t.Fatalf("an uncertain row: engine defaults %v, %d columns, %d rows", c.engineDefaults, len(c.columns()), c.len())
	}
}
