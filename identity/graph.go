package identity

import (
	"errors"
	"fmt"
	"hash/maphash"
	"sort"
	"sync"
	"time"
)

// Graph is the identity graph: every identifier belongs to one person (a
// dense uint32 id); persons joined by a merge form a tree whose root is the
// canonical person. Merges are never rewritten into the identifiers, so an
// unmerge simply cuts the tree again and every identifier goes back to the
// person its evidence gave it.
//
// Resolve is called by one goroutine (the ingest pipeline); lookups and
// Unmerge may run concurrently with it. Memory: ~17 bytes per identifier
// (96 bits of its keyed hash and its person in a sorted idTable), 16 bytes
// per person, ~120 bytes per merge (mergeLog) and ~23 bytes per person's
// device or anonymous id (linkTimes); on the generator's worlds ~40 bytes
// per identifier in all (docs/identity.md).
type Graph struct {
	rules        Rules
	seedA, seedB maphash.Seed

	mu        sync.RWMutex
	ids       *idTable      // identifier -> owning person; contestedBit marks shared ones
	persons   []personState // by person id; 0 is "no person"
	children  map[uint32][]uint32
	linkTimes linkTimes // windowed types: when each identifier was linked
	merges    mergeLog
	nextMerge uint64
}

// contestedBit marks an identifier found on two persons that it may not
// join: it stays listed on its first owner but no longer matches.
const contestedBit = 1 << 31

type idKey struct{ a, b uint64 }

type personState struct {
	parent uint32    // the survivor this person was merged into; itself when a root
	own    [11]uint8 // identifiers it owns, per rule type (saturating); rules hold known types only, len(Types)
	merged bool      // others were merged into it (see children)
}

// Changes collects what a resolution changed, for persistence in the same
// batch as the records that caused it.
type Changes struct {
	Links     []Link
	Persons   []PersonRow
	Merges    []Merge
	Conflicts []Conflict
}

// Reset empties c for reuse.
func (c *Changes) Reset() {
	c.Links, c.Persons, c.Merges, c.Conflicts = c.Links[:0], c.Persons[:0], c.Merges[:0], c.Conflicts[:0]
}

// Link is an identifier's current owner.
type Link struct {
	Identifier
	Person    uint32
	Contested bool
	LinkedAt  time.Time
	Ref       string // the record that linked it
}

// PersonRow is a person's place in the merge forest.
type PersonRow struct {
	Person, Parent, Canonical uint32
	CreatedAt                 time.Time
}

// Merge is one merge and its evidence.
type Merge struct {
	ID       uint64     `json:"id"`
	At       time.Time  `json:"at"`
	Survivor uint32     `json:"survivor"`
	Absorbed uint32     `json:"absorbed"`
	Ref      string     `json:"record"`
	Anchor   Identifier `json:"anchor"`     // found on the survivor
	Evidence Identifier `json:"identifier"` // found on the absorbed person
	Rule     string     `json:"rule"`
	Undone   bool       `json:"undone"`
	UndoneAt time.Time  `json:"undone_at,omitzero"`
	UndoneBy string     `json:"undone_by,omitempty"`
}

// Conflict is a link or merge the rules refused.
type Conflict struct {
	At         time.Time  `json:"at"`
	Ref        string     `json:"record"`
	Identifier Identifier `json:"identifier"`
	PersonA    uint32     `json:"person_a"`
	PersonB    uint32     `json:"person_b"`
	Reason     string     `json:"reason"`
}

// NewGraph returns an empty graph.
func NewGraph(rules Rules) *Graph {
	return &Graph{
		rules: rules, seedA: maphash.MakeSeed(), seedB: maphash.MakeSeed(),
		ids: newIDTable(), persons: make([]personState, 1), children: map[uint32][]uint32{},
		linkTimes: newLinkTimes(), merges: newMergeLog(), nextMerge: 1,
	}
}

// Rules returns the graph's rules.
func (g *Graph) Rules() Rules { return g.rules }

func (g *Graph) key(id Identifier) idKey {
	var h maphash.Hash
	h.SetSeed(g.seedA)
	h.WriteString(id.Type)
	h.WriteByte(0)
	h.WriteString(id.Value)
	a := h.Sum64()
	h.SetSeed(g.seedB)
	h.WriteString(id.Type)
	h.WriteByte(0)
	h.WriteString(id.Value)
	return idKey{a, h.Sum64()}
}

// root is the canonical person of p. The caller holds g.mu.
func (g *Graph) root(p uint32) uint32 {
	for g.persons[p].parent != p {
		p = g.persons[p].parent
	}
	return p
}

// Canonical returns the canonical person of p (p itself when unknown).
func (g *Graph) Canonical(p uint32) uint32 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if p == 0 || int(p) >= len(g.persons) {
		return p
	}
	return g.root(p)
}

// Lookup returns the canonical person owning an identifier.
func (g *Graph) Lookup(id Identifier) (uint32, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	v, ok := g.ids.get(g.key(id))
	if !ok {
		return 0, false
	}
	return g.root(v &^ contestedBit), true
}

// Cluster returns the persons merged into the canonical person p's tree,
// p first.
func (g *Graph) Cluster(p uint32) []uint32 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if p == 0 || int(p) >= len(g.persons) {
		return nil
	}
	return g.subtree(g.root(p), nil)
}

func (g *Graph) subtree(p uint32, out []uint32) []uint32 {
	out = append(out, p)
	if !g.persons[p].merged {
		return out
	}
	for _, c := range g.children[p] {
		out = g.subtree(c, out)
	}
	return out
}

// Persons is the number of person ids allocated.
func (g *Graph) Persons() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.persons) - 1
}

// Identifiers is the number of identifiers known.
func (g *Graph) Identifiers() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.ids.len()
}

// found is an identifier of a record that the graph knows.
type found struct {
	id    Identifier
	owner uint32 // original owner
	root  uint32
}

// Resolve links a record's identifiers under the rules and returns the
// canonical person the record belongs to (0 when it has no usable
// identifier, or only contested ones). What changed is appended to ch. Time matters only for
// windowed limits (at is the record's time); otherwise the outcome for a
// set of records does not depend on their order unless the rules refuse a
// link, in which case the first arrival keeps the identifier.
func (g *Graph) Resolve(ref string, ids []Identifier, at time.Time, ch *Changes) uint32 {
	cand := g.usable(ids)
	if len(cand) == 0 {
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()

	var matched []found
	var fresh []Identifier
	for _, id := range cand {
		v, ok := g.ids.get(g.key(id))
		switch {
		case !ok:
			fresh = append(fresh, id)
		case v&contestedBit == 0:
			matched = append(matched, found{id: id, owner: v, root: g.root(v)})
		}
	}
	var anchor found
	switch {
	case len(matched) > 0:
		anchor = matched[0] // strongest identifier the graph knows
	case len(fresh) == 0:
		// Only contested identifiers (a shared family phone alone): the
		// record cannot be told to belong to one person.
		return 0
	default:
		p := g.newPerson(at, ch)
		anchor = found{id: fresh[0], owner: p, root: p}
	}
	for _, m := range matched[min(1, len(matched)):] {
		if m.root != anchor.root {
			g.join(ref, at, anchor, m, ch)
		}
	}
	var refused []Identifier
	for _, id := range fresh {
		if !g.attach(ref, at, anchor, id, ch) {
			refused = append(refused, id)
		}
	}
	if len(refused) == 0 {
		return g.root(anchor.root)
	}
	// Identifiers the anchor's person could not take (it already holds as
	// many of their type as the rules allow) are another person's: they
	// found one together. The non-unique identifiers (phones, devices)
	// that pointed to the first person are now between two persons.
	p := g.newPerson(at, ch)
	split := found{id: refused[0], owner: p, root: p}
	for _, id := range refused {
		g.attach(ref, at, split, id, ch)
	}
	for _, m := range matched {
		if rule := g.rules.Rule(m.id.Type); rule.Limit != 1 || !rule.MayJoin {
			g.contest(ref, at, m, p, ch)
		}
	}
	if refused[0] == cand[0] {
		return p // the record's strongest identifier is the new person's
	}
	return g.root(anchor.root)
}

// contest marks an identifier shared by two persons it may not join.
func (g *Graph) contest(ref string, at time.Time, m found, other uint32, ch *Changes) {
	k := g.key(m.id)
	if v, _ := g.ids.get(k); v&contestedBit != 0 {
		return
	}
	g.ids.set(k, m.owner|contestedBit)
	ch.Links = append(ch.Links, Link{Identifier: m.id, Person: m.owner, Contested: true, LinkedAt: at, Ref: ref})
	ch.Conflicts = append(ch.Conflicts, Conflict{At: at, Ref: ref, Identifier: m.id, PersonA: m.root, PersonB: other,
		Reason: fmt.Sprintf("%s is shared by two persons and may not join them", m.id.Type)})
}

// usable drops blocked and duplicate identifiers and orders the rest by
// priority, then type and value, so resolution does not depend on the
// order a record lists them in.
func (g *Graph) usable(ids []Identifier) []Identifier {
	out := make([]Identifier, 0, len(ids))
	for _, id := range ids {
		if !KnownType(id.Type) || g.rules.blocked(id.Type, id.Value) {
			continue
		}
		dup := false
		for _, o := range out {
			if o == id {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		pi, pj := g.rules.Rule(out[i].Type).Priority, g.rules.Rule(out[j].Type).Priority
		if pi != pj {
			return pi < pj
		}
		if out[i].Type != out[j].Type {
			return out[i].Type < out[j].Type
		}
		return out[i].Value < out[j].Value
	})
	return out
}

func (g *Graph) newPerson(at time.Time, ch *Changes) uint32 {
	p := uint32(len(g.persons))
	if p >= contestedBit {
		panic("BUG: person ids exhausted")
	}
	g.persons = append(g.persons, personState{parent: p})
	ch.Persons = append(ch.Persons, PersonRow{Person: p, Parent: p, Canonical: p, CreatedAt: at})
	return p
}

// attach gives a new identifier to the anchor's owner if the cluster's
// limit for its type allows, and reports whether it did.
func (g *Graph) attach(ref string, at time.Time, anchor found, id Identifier, ch *Changes) bool {
	rule := g.rules.Rule(id.Type)
	ti, typed := g.rules.index[id.Type]
	if typed && rule.Limit > 0 && g.clusterCount(anchor.root, ti, rule.Window, at) >= rule.Limit {
		ch.Conflicts = append(ch.Conflicts, Conflict{At: at, Ref: ref, Identifier: id, PersonA: anchor.root,
			Reason: fmt.Sprintf("limit: a person holds at most %d %s%s", rule.Limit, id.Type, windowText(rule.Window))})
		return false
	}
	owner := anchor.owner
	g.ids.set(g.key(id), owner)
	if typed {
		if s := &g.persons[owner].own[ti]; *s < 255 {
			*s++
		}
		if rule.Window > 0 {
			g.linkTimes.add(timeKey{owner, ti}, at)
		}
	}
	ch.Links = append(ch.Links, Link{Identifier: id, Person: owner, LinkedAt: at, Ref: ref})
	return true
}

func windowText(w time.Duration) string {
	if w == 0 {
		return ""
	}
	return fmt.Sprintf(" within %s", w)
}

// clusterCount counts the identifiers of a type in p's tree, only those
// linked within window before at when window is set.
func (g *Graph) clusterCount(root uint32, ti uint8, window time.Duration, at time.Time) int {
	if window == 0 && !g.persons[root].merged {
		return int(g.persons[root].own[ti]) // the common case: never merged
	}
	n := 0
	for _, p := range g.subtree(root, nil) {
		if window == 0 {
			n += int(g.persons[p].own[ti])
			continue
		}
		n += g.linkTimes.within(timeKey{p, ti}, at, window)
	}
	return n
}

// join merges m's tree into the anchor's when both identifiers may join
// and no limit would be broken; otherwise it records a conflict, and an
// identifier that may not join is marked contested.
func (g *Graph) join(ref string, at time.Time, anchor, m found, ch *Changes) {
	ra, rm := g.rules.Rule(anchor.id.Type), g.rules.Rule(m.id.Type)
	reason := ""
	switch {
	case !rm.MayJoin:
		reason = fmt.Sprintf("%s may not join two persons", m.id.Type)
	case !ra.MayJoin:
		reason = fmt.Sprintf("%s may not join two persons", anchor.id.Type)
	default:
		for _, rule := range g.rules.byType {
			ti := g.rules.index[rule.Type]
			if rule.Limit > 0 && g.clusterCount(anchor.root, ti, rule.Window, at)+g.clusterCount(m.root, ti, rule.Window, at) > rule.Limit {
				reason = fmt.Sprintf("limit: together they would hold more than %d %s", rule.Limit, rule.Type)
				break
			}
		}
	}
	if reason != "" {
		switch {
		case !rm.MayJoin:
			g.contest(ref, at, m, anchor.root, ch)
		case !ra.MayJoin:
			g.contest(ref, at, anchor, m.root, ch)
		default:
			ch.Conflicts = append(ch.Conflicts, Conflict{At: at, Ref: ref, Identifier: m.id, PersonA: anchor.root, PersonB: m.root, Reason: reason})
		}
		return
	}
	g.persons[m.root].parent = anchor.root
	g.children[anchor.root] = append(g.children[anchor.root], m.root)
	g.persons[anchor.root].merged = true
	for _, p := range g.subtree(m.root, nil) {
		ch.Persons = append(ch.Persons, PersonRow{Person: p, Parent: g.persons[p].parent, Canonical: g.root(anchor.root)})
	}
	mg := Merge{ID: g.nextMerge, At: at, Survivor: anchor.root, Absorbed: m.root, Ref: ref, Anchor: anchor.id, Evidence: m.id,
		Rule: ruleText(anchor.id.Type, m.id.Type)}
	g.nextMerge++
	g.merges.put(mg)
	ch.Merges = append(ch.Merges, mg)
}

// Errors of Unmerge.
var (
	ErrNoSuchMerge  = errors.New("identity: no such merge")
	ErrMergeUndone  = errors.New("identity: merge already undone")
	ErrMergeChanged = errors.New("identity: the absorbed person is no longer under the survivor")
)

// Unmerge undoes a merge: the absorbed person's tree becomes a person of
// its own again, with the identifiers its evidence gave it. It returns the
// rows to persist and the persons of the split-off tree.
func (g *Graph) Unmerge(id uint64, by string, at time.Time, ch *Changes) ([]uint32, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, ok := g.merges.get(id)
	switch {
	case !ok:
		return nil, ErrNoSuchMerge
	case m.Undone:
		return nil, ErrMergeUndone
	case g.persons[m.Absorbed].parent != m.Survivor:
		return nil, ErrMergeChanged
	}
	g.persons[m.Absorbed].parent = m.Absorbed
	kids := g.children[m.Survivor]
	for i, c := range kids {
		if c == m.Absorbed {
			g.children[m.Survivor] = append(kids[:i:i], kids[i+1:]...)
			g.persons[m.Survivor].merged = len(g.children[m.Survivor]) > 0
			break
		}
	}
	tree := g.subtree(m.Absorbed, nil)
	for _, p := range tree {
		ch.Persons = append(ch.Persons, PersonRow{Person: p, Parent: g.persons[p].parent, Canonical: m.Absorbed})
	}
	m.Undone, m.UndoneAt, m.UndoneBy = true, at, by
	g.merges.put(m)
	ch.Merges = append(ch.Merges, m)
	return tree, nil
}

// MergesOf lists the merges inside p's current tree and those that were
// undone from it, oldest first.
func (g *Graph) MergesOf(p uint32) []Merge {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if p == 0 || int(p) >= len(g.persons) {
		return nil // no such person (an id from a URL)
	}
	in := map[uint32]bool{}
	for _, q := range g.subtree(g.root(p), nil) {
		in[q] = true
	}
	var out []Merge
	g.merges.each(func(id uint64, survivor, absorbed uint32) {
		if in[survivor] || in[absorbed] {
			m, _ := g.merges.get(id)
			out = append(out, m)
		}
	})
	return out // in id order
}
