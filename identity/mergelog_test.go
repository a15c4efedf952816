package identity

import (
	"reflect"
	"testing"
	"time"
)

// TestMergeLogGivesBackEveryField stores merges with and without an undo
// and with a rule text of their own, and reads each back unchanged.
func TestMergeLogGivesBackEveryField(t *testing.T) {
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	merges := []Merge{
		{ID: 1, At: at, Survivor: 1, Absorbed: 2, Ref: "r1", Anchor: Identifier{UnionID, "U1"}, Evidence: Identifier{Phone, "h:1"},
			Rule: ruleText(UnionID, Phone)},
		{ID: 3, At: at, Survivor: 4, Absorbed: 5, Ref: "r3", Anchor: Identifier{MemberNo, "M1"}, Evidence: Identifier{TmallOUID, "t1"},
			Rule: "an older version's text", Undone: true, UndoneAt: at.Add(time.Hour), UndoneBy: "admin"},
		{ID: 4, At: at, Survivor: 4, Absorbed: 6, Anchor: Identifier{MemberNo, "M1"}, Evidence: Identifier{Email, "e"},
			Rule: ruleText(MemberNo, Email), UndoneBy: "a loaded row's leftover"},
	}
	l := newMergeLog()
	for _, m := range merges {
		l.put(m)
	}
	if l.len() != 3 {
		t.Fatalf("len = %d, want 3", l.len())
	}
	for _, m := range merges {
		if got, ok := l.get(m.ID); !ok || !reflect.DeepEqual(got, m) {
			t.Fatalf("get(%d) = %+v %v, want %+v", m.ID, got, ok, m)
		}
	}
	if _, ok := l.get(2); ok {
		t.Fatal("merge 2 was never stored")
	}
	undone := merges[0]
	undone.Undone, undone.UndoneAt, undone.UndoneBy = true, at, "ops"
	l.put(undone)
	l.del(3)
	var ids []uint64
	l.each(func(id uint64, _, _ uint32) { ids = append(ids, id) })
	if got, _ := l.get(1); !reflect.DeepEqual(got, undone) || !reflect.DeepEqual(ids, []uint64{1, 4}) || l.len() != 2 {
		t.Fatalf("after an undo and a delete: merge 1 %+v, ids %v, len %d", got, ids, l.len())
	}
}
