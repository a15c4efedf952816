package analytics

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/granarycdp/cdp/store/storetest"
)

// TestFunnelAgreesWithAPlainComputation: random actions of 300 persons
// (three step events and noise, at whole minutes so that no two of a
// person's actions tie), funnels in ordered and any order computed by
// the service (windowFunnel; the array attempts) and by plain Go over the
// same rows: the persons at each level are the same.
func TestFunnelAgreesWithAPlainComputation(t *testing.T) {
	db := storetest.Migrated(t)
	r := rand.New(rand.NewPCG(20, 26))
	names := []string{"a", "b", "c", "noise"}
	from := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC) // Beijing 08:00
	type act struct {
		minute int
		step   int // 0..2, or 3 for noise
	}
	acts := map[uint32][]act{}
	var rows [][]any
	used := map[[2]int]bool{}
	for i := 0; i < 3000; i++ {
		p := uint32(1 + r.IntN(300))
		m := r.IntN(14 * 24 * 60) // 14 days of minutes from 2026-06-01 08:00 Beijing
		if used[[2]int{int(p), m}] {
			continue
		}
		used[[2]int{int(p), m}] = true
		st := r.IntN(4)
		acts[p] = append(acts[p], act{m, st})
		rows = append(rows, ev(p, names[st], "douyin", from.Add(time.Duration(m)*time.Minute), `{}`))
	}
	var persons [][]any
	for p := uint32(1); p <= 300; p++ {
		persons = append(persons, []any{p, p, p, uint64(1)})
	}
	insert(t, db, "persons", personCols, persons...)
	insert(t, db, "events", eventCols, rows...)
	s := New(Options{DB: db, Now: func() time.Time { return from.AddDate(0, 1, 0) }})
	const window = 48 * 60 // minutes
	// First steps on 2026-06-01..07 (Beijing): before 2026-06-08 00:00
	// Beijing, 6 days 16 hours after the first minute (08:00 Beijing).
	entryEnd := 6*24*60 + 16*60
	for _, order := range []string{OrderOrdered, OrderAny} {
		f := Funnel{Steps: []Step{{Kind: "event", Name: "a"}, {Kind: "event", Name: "b"}, {Kind: "event", Name: "c"}},
			WindowHours: window / 60, Order: order, From: "2026-06-01", To: "2026-06-07"}
		want := make([][]uint32, 4)
		for p := uint32(1); p <= 300; p++ {
			list := acts[p]
			slices.SortFunc(list, func(x, y act) int { return x.minute - y.minute })
			lvl := plainLevel(list, order, window, entryEnd, func(a act) (int, int) { return a.minute, a.step })
			for k := 1; k <= lvl; k++ {
				want[k] = append(want[k], p)
			}
		}
		for k := 1; k <= 3; k++ {
			bm, err := s.FunnelPeople(context.Background(), f, k, Converted, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := bm.ToArray(); !slices.Equal(got, want[k]) {
				t.Errorf("%s, level %d: service %d persons, plain %d: %v", order, k, len(got), len(want[k]), diff(got, want[k]))
			}
		}
		if len(want[3]) == 0 || len(want[3]) == len(want[1]) {
			t.Errorf("%s: weak data: %d, %d, %d", order, len(want[1]), len(want[2]), len(want[3]))
		}
	}
}

// plainLevel is a person's funnel level over their sorted actions: in
// order, the best greedy chain from a first step before entryEnd; in any
// order, the most distinct steps within the window from any action
// before entryEnd.
func plainLevel[A any](list []A, order string, window, entryEnd int, at func(A) (int, int)) int {
	best := 0
	for i, a := range list {
		m0, s0 := at(a)
		if m0 >= entryEnd || (order != OrderAny && s0 != 0) || s0 == 3 {
			continue
		}
		if order == OrderAny {
			seen := map[int]bool{}
			for _, b := range list[i:] {
				if m, s := at(b); m <= m0+window && s < 3 {
					seen[s] = true
				}
			}
			best = max(best, len(seen))
			continue
		}
		lvl := 1
		for _, b := range list[i+1:] {
			if m, s := at(b); m <= m0+window && s == lvl && lvl < 3 {
				lvl++
			}
		}
		best = max(best, lvl)
	}
	return best
}

func diff(a, b []uint32) string {
	var only []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			only = append(only, fmt.Sprintf("+%d", x))
		}
	}
	for _, x := range b {
		if !slices.Contains(a, x) {
			only = append(only, fmt.Sprintf("-%d", x))
		}
	}
	return fmt.Sprint(only)
}
