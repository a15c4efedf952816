package journeys

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestHoldoutMeasuresTheKnownEffect enters 6,000 persons into a journey
// with a 20% holdout and lets the treatment convert at 30% and the holdout
// at 20% (a known effect of +10 points): the holdout's share is 20% within
// sampling error, the results' counts equal a hand count over the raw
// orders (intention to treat: a treatment person the send did not reach
// still counts), the estimate is the effect put in, and the 95% interval
// and confidence sequence cover it.
func TestHoldoutMeasuresTheKnownEffect(t *testing.T) {
	const n = 6000
	f := newFixture(t, n)
	d := f.segmentJourney(f.send("hello", "out"), exit("out"))
	d.Settings.HoldoutPercent = 20
	j := f.launch(d)
	f.round()
	rng := rand.New(rand.NewPCG(7, 18))
	group := map[uint32]string{}
	rows, err := f.db.Conn.Query(f.ctx, "SELECT person_id, group FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ?", j.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var p uint32
		var g string
		if err := rows.Scan(&p, &g); err != nil {
			t.Fatal(err)
		}
		group[p] = g
	}
	rows.Close()
	var orders, lines [][]any
	conv := map[string]int{}
	persons := map[string]int{}
	seen := map[string]int{}
	for p := uint32(1); p <= n; p++ {
		g := group[p]
		persons[g]++
		rate := 0.2
		if g == GroupTreatment {
			rate = 0.3
		}
		// Exactly rate of each group converts (spread evenly over it), so
		// the observed effect is the true one and the check below cannot
		// fail by chance: how often the intervals cover the truth over
		// repeated samples is the campaigns' simulation tests' job.
		k := float64(seen[g])
		seen[g]++
		if math.Floor((k+1)*rate) == math.Floor(k*rate) {
			continue
		}
		conv[g]++
		at := start.Add(time.Duration(1+rng.IntN(13*24)) * time.Hour)
		id := fmt.Sprintf("o%d", p)
		orders = append(orders, []any{"tmall", id, uint64(1), "paid", at, at, "19.90", "上海", p})
		lines = append(lines, []any{"tmall", id, uint16(1), uint64(1), "LGI-TRIAL", "低GI大米试用装", "1", "19.90", "19.90", at, p})
	}
	f.insert("orders", "channel, order_id, version, status, ordered_at, status_at, amount, city, person_id", orders)
	f.insert("order_lines", "channel, order_id, line_no, version, sku, category, quantity, unit_price, amount, ordered_at, person_id", lines)
	res, err := f.svc.Results(f.ctx, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	h := res.Holdout
	if sd := math.Sqrt(n * 0.2 * 0.8); math.Abs(float64(h.Holdout.Persons)-0.2*n) > 4*sd {
		t.Fatalf("holdout of %d persons, want 1200 ± %.0f", h.Holdout.Persons, 4*sd)
	}
	if h.Treatment.Persons != persons[GroupTreatment] || h.Holdout.Persons != persons[GroupHoldout] ||
		h.Treatment.Converted != conv[GroupTreatment] || h.Holdout.Converted != conv[GroupHoldout] {
		t.Fatalf("results %+v / %+v; hand count %v persons, %v converted", h.Treatment, h.Holdout, persons, conv)
	}
	if h.Treatment.Reached != persons[GroupTreatment] {
		t.Fatalf("%d treatment persons reached, want %d", h.Treatment.Reached, persons[GroupTreatment])
	}
	c := h.Conversion
	if c == nil || math.Abs(c.Estimate-0.1) > 0.002 || c.CI95[0] > 0.1 || c.CI95[1] < 0.1 || c.CS95[0] > 0.1 || c.CS95[1] < 0.1 {
		t.Fatalf("conversion effect %+v does not cover the true +0.10", c)
	}
	if !c.Significant {
		t.Fatalf("a +10 point effect on %d persons is not significant: %+v", n, c)
	}
	if res.Exited[ExitHoldout] != persons[GroupHoldout] {
		t.Fatalf("%d holdout exits, want %d", res.Exited[ExitHoldout], persons[GroupHoldout])
	}
}

// TestSplitWinnerOnlyByTheConfidenceSequence: a winner cannot be declared
// while the arms do not differ; once arm B's conversion is shown better by
// the anytime-valid test it can, and everyone reaching the split then
// takes arm B.
func TestSplitWinnerOnlyByTheConfidenceSequence(t *testing.T) {
	const n = 4000
	f := newFixture(t, n)
	d := f.segmentJourney(Node{ID: "ab", Type: NodeSplit, Split: &Split{Arms: []SplitArm{{Name: "A", Percent: 50, Next: "a"}, {Name: "B", Percent: 50, Next: "b"}}}},
		exit("a"), exit("b"))
	d.Entry.IncludeCurrent = false
	d.Settings.ReEntry = ReEntryAfterExit
	j := f.launch(d)
	var first []uint32
	for p := uint32(1); p <= 3000; p++ {
		first = append(first, p)
	}
	f.svc.SegmentChanged(segmentChange(f.seg, first...))
	f.round()
	if _, err := f.svc.DeclareWinner(f.ctx, j.ID, "ab", "B", "tok_test"); err == nil {
		t.Fatal("a winner was declared without any conversion")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var orders, lines [][]any
	for p := uint32(1); p <= 3000; p++ {
		rate := 0.1
		if pickArm(j.ID, &d.Nodes[0], p, "").Name == "B" {
			rate = 0.3
		}
		if rng.Float64() < rate {
			at, id := start.Add(time.Hour), fmt.Sprintf("o%d", p)
			orders = append(orders, []any{"tmall", id, uint64(1), "paid", at, at, "19.90", "上海", p})
			lines = append(lines, []any{"tmall", id, uint16(1), uint64(1), "LGI-TRIAL", "低GI大米试用装", "1", "19.90", "19.90", at, p})
		}
	}
	f.insert("orders", "channel, order_id, version, status, ordered_at, status_at, amount, city, person_id", orders)
	f.insert("order_lines", "channel, order_id, line_no, version, sku, category, quantity, unit_price, amount, ordered_at, person_id", lines)
	if _, err := f.svc.DeclareWinner(f.ctx, j.ID, "ab", "A", "tok_test"); err == nil {
		t.Fatal("the worse arm was declared the winner")
	}
	if _, err := f.svc.DeclareWinner(f.ctx, j.ID, "ab", "B", "tok_test"); err != nil {
		t.Fatal(err)
	}
	var later []uint32
	for p := uint32(3001); p <= n; p++ {
		later = append(later, p)
	}
	f.svc.SegmentChanged(segmentChange(f.seg, later...))
	f.advance(time.Minute)
	if a := f.count("SELECT count() FROM "+f.db.Table("journey_runs")+" FINAL WHERE journey_id = ? AND person_id > 3000 AND node = 'a'", j.ID); a != 0 {
		t.Fatalf("%d persons took arm A after B won", a)
	}
}
