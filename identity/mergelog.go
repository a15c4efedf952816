package identity

import (
	"fmt"
	"time"
)

// mergeLog holds the graph's merges by id, for Unmerge and MergesOf. A map
// of *Merge cost ~360 bytes a merge (a 192-byte object, the map's slot,
// the rule's text, the identifier types' own strings); here a merge is a
// 120-byte record in a slice indexed by its id (ids are dense: the graph
// numbers them from 1), its rule text is made when it is read, and what
// only some merges have (an undo, a rule text of an older version) is kept
// beside the records.
type mergeLog struct {
	recs   []mergeRec // by id; recs[0] unused
	n      int
	undos  map[uint64]undo   // undone merges, and loaded rows that name an undo
	rules  map[uint64]string // rule texts that are not ruleText's
	byType map[string]string // identifier types, each held once
}

// mergeRec is a Merge without its id, rule text and undo details.
type mergeRec struct {
	at                 time.Time
	survivor, absorbed uint32 // 0: no merge of this id
	undone             bool
	ref                string
	anchor, evidence   Identifier
}

type undo struct {
	at time.Time
	by string
}

func newMergeLog() mergeLog {
	return mergeLog{recs: make([]mergeRec, 1), undos: map[uint64]undo{}, rules: map[uint64]string{}, byType: map[string]string{}}
}

// ruleText is the rule a merge made by Resolve records.
func ruleText(anchorType, evidenceType string) string {
	return fmt.Sprintf("%s and %s on one record; both may join", anchorType, evidenceType)
}

func (l *mergeLog) len() int { return l.n }

// put stores m, replacing a merge of the same id.
func (l *mergeLog) put(m Merge) {
	if m.Survivor == 0 {
		panic("BUG: a merge into no person")
	}
	for uint64(len(l.recs)) <= m.ID {
		l.recs = append(l.recs, mergeRec{})
	}
	r := &l.recs[m.ID]
	if r.survivor == 0 {
		l.n++
	}
	*r = mergeRec{at: m.At, survivor: m.Survivor, absorbed: m.Absorbed, undone: m.Undone, ref: m.Ref,
		anchor: Identifier{l.typ(m.Anchor.Type), m.Anchor.Value}, evidence: Identifier{l.typ(m.Evidence.Type), m.Evidence.Value}}
	delete(l.undos, m.ID)
	if m.Undone || !m.UndoneAt.IsZero() || m.UndoneBy != "" {
		l.undos[m.ID] = undo{m.UndoneAt, m.UndoneBy}
	}
	delete(l.rules, m.ID)
	if m.Rule != ruleText(m.Anchor.Type, m.Evidence.Type) {
		l.rules[m.ID] = m.Rule
	}
}

// typ returns the log's copy of an identifier type, so that merges do not
// each keep the string their record carried.
func (l *mergeLog) typ(t string) string {
	if s, ok := l.byType[t]; ok {
		return s
	}
	l.byType[t] = t
	return t
}

// get returns the merge of an id.
func (l *mergeLog) get(id uint64) (Merge, bool) {
	if id == 0 || id >= uint64(len(l.recs)) || l.recs[id].survivor == 0 {
		return Merge{}, false
	}
	r := &l.recs[id]
	m := Merge{ID: id, At: r.at, Survivor: r.survivor, Absorbed: r.absorbed, Ref: r.ref, Anchor: r.anchor, Evidence: r.evidence,
		Undone: r.undone}
	rule, ok := l.rules[id]
	if !ok {
		rule = ruleText(r.anchor.Type, r.evidence.Type)
	}
	m.Rule = rule
	if u, ok := l.undos[id]; ok {
		m.UndoneAt, m.UndoneBy = u.at, u.by
	}
	return m, true
}

// each calls fn with the id, survivor and absorbed person of every merge,
// in id order.
func (l *mergeLog) each(fn func(id uint64, survivor, absorbed uint32)) {
	for id := 1; id < len(l.recs); id++ {
		if r := &l.recs[id]; r.survivor != 0 {
			fn(uint64(id), r.survivor, r.absorbed)
		}
	}
}

// del forgets a merge.
func (l *mergeLog) del(id uint64) {
	if id == 0 || id >= uint64(len(l.recs)) || l.recs[id].survivor == 0 {
		return
	}
	l.recs[id] = mergeRec{}
	delete(l.undos, id)
	delete(l.rules, id)
	l.n--
}

// maxMergeID bounds the merge ids Load accepts: the log is a slice indexed
// by id, and ids are numbered from 1 in the order merges happen.
const maxMergeID = 1 << 32
