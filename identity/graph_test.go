package identity

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
	"unsafe"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func ids(pairs ...string) []Identifier {
	var out []Identifier
	for _, p := range pairs {
		typ, val, _ := strings.Cut(p, "=")
		out = append(out, Identifier{Type: typ, Value: val})
	}
	return out
}

type rec struct {
	ref string
	ids []Identifier
}

func resolveAll(g *Graph, recs []rec) {
	var ch Changes
	for i, r := range recs {
		g.Resolve(r.ref, r.ids, t0.Add(time.Duration(i)*time.Minute), &ch)
	}
}

// partition labels each known identifier with the smallest identifier of
// its person, so two graphs can be compared whatever their person ids.
func partition(g *Graph, recs []rec) map[string]string {
	groups := map[uint32][]string{}
	seen := map[string]bool{}
	for _, r := range recs {
		for _, id := range r.ids {
			k := id.Type + "=" + id.Value
			if seen[k] {
				continue
			}
			seen[k] = true
			if p, ok := g.Lookup(id); ok && !g.contested(id) {
				groups[p] = append(groups[p], k)
			} else if ok {
				groups[0] = append(groups[0], k) // contested: owned by nobody
			}
		}
	}
	out := map[string]string{}
	for p, members := range groups {
		sort.Strings(members)
		for _, m := range members {
			if p == 0 {
				out[m] = "contested"
			} else {
				out[m] = members[0]
			}
		}
	}
	return out
}

func (g *Graph) contested(id Identifier) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	v, _ := g.ids.get(g.key(id))
	return v&contestedBit != 0
}

func TestChainOfRecordsJoinsOnePerson(t *testing.T) {
	g := NewGraph(DefaultRules())
	recs := []rec{
		{"r1", ids("douyin_openid=d1")},
		{"r2", ids("douyin_openid=d1", "phone=h:p1")},
		{"r3", ids("tmall_ouid=t1", "phone=h:p1")},
		{"r4", ids("unionid=U1", "wecom_external_userid=wm1")},
		{"r5", ids("unionid=U1", "tmall_ouid=t1")}, // joins the two
	}
	resolveAll(g, recs)
	p, _ := g.Lookup(Identifier{"douyin_openid", "d1"})
	for _, r := range recs {
		for _, id := range r.ids {
			if q, ok := g.Lookup(id); !ok || q != p {
				t.Fatalf("%v is person %d, want %d", id, q, p)
			}
		}
	}
	if ms := g.MergesOf(p); len(ms) != 1 || ms[0].Ref != "r5" || ms[0].Rule == "" {
		t.Fatalf("merges %+v, want one with evidence r5", ms)
	}
}

func TestSharedFamilyPhoneDoesNotMergeIdentifiedPersons(t *testing.T) {
	recs := []rec{
		{"mum", ids("member_no=M1", "phone=h:family")},
		{"dad", ids("member_no=M2", "phone=h:family")},
	}
	for _, order := range [][]rec{recs, {recs[1], recs[0]}} {
		g := NewGraph(DefaultRules())
		var ch Changes
		a := g.Resolve(order[0].ref, order[0].ids, t0, &ch)
		b := g.Resolve(order[1].ref, order[1].ids, t0, &ch)
		if a == b || a == 0 || b == 0 {
			t.Fatalf("persons %d and %d: a family phone merged two members", a, b)
		}
		if !g.contested(Identifier{"phone", "h:family"}) {
			t.Fatal("the shared phone is not marked contested")
		}
		if len(ch.Conflicts) == 0 || !strings.Contains(ch.Conflicts[len(ch.Conflicts)-1].Reason, "phone") &&
			!strings.Contains(ch.Conflicts[len(ch.Conflicts)-1].Reason, "member_no") {
			t.Fatalf("no visible conflict: %+v", ch.Conflicts)
		}
		if got := partition(g, recs); got["member_no=M1"] == got["member_no=M2"] || got["phone=h:family"] != "contested" {
			t.Fatalf("partition %v", got)
		}
	}
}

func TestRecordWithOnlyAContestedIdentifierHasNoPerson(t *testing.T) {
	g := NewGraph(DefaultRules())
	var ch Changes
	g.Resolve("mum", ids("member_no=M1", "phone=h:family"), t0, &ch)
	g.Resolve("dad", ids("member_no=M2", "phone=h:family"), t0, &ch)
	if p := g.Resolve("order", ids("phone=h:family"), t0, &ch); p != 0 {
		t.Fatalf("an order with only the shared phone went to person %d", p)
	}
}

func TestSharedDeviceDoesNotMergeTwoPersons(t *testing.T) {
	g := NewGraph(DefaultRules())
	var ch Changes
	a := g.Resolve("a", ids("unionid=UA", "device_id=ipad"), t0, &ch)
	b := g.Resolve("b", ids("unionid=UB"), t0, &ch)
	c := g.Resolve("c", ids("unionid=UB", "device_id=ipad"), t0, &ch)
	if a == b || c != b {
		t.Fatalf("a=%d b=%d c=%d: a shared device joined two persons", a, b, c)
	}
	if !g.contested(Identifier{"device_id", "ipad"}) {
		t.Fatal("shared device not contested")
	}
}

func TestStrongIdentifiersMergeUnlessLimitsForbid(t *testing.T) {
	g := NewGraph(DefaultRules())
	var ch Changes
	a := g.Resolve("a", ids("member_no=M1"), t0, &ch)
	b := g.Resolve("b", ids("member_no=M2", "unionid=U2"), t0, &ch)
	if a == b {
		t.Fatal("two members are one person before any evidence")
	}
	// One member card per person: the unionid may not join M1's person
	// to M2's.
	g.Resolve("c", ids("member_no=M1", "unionid=U2"), t0, &ch)
	pa, _ := g.Lookup(Identifier{"member_no", "M1"})
	pb, _ := g.Lookup(Identifier{"member_no", "M2"})
	if pa == pb {
		t.Fatal("limit of one member_no per person was broken")
	}
	last := ch.Conflicts[len(ch.Conflicts)-1]
	if !strings.Contains(last.Reason, "member_no") || last.Ref != "c" {
		t.Fatalf("conflict %+v", last)
	}
}

func TestBlockedValuesNeverLink(t *testing.T) {
	g := NewGraph(DefaultRules())
	var ch Changes
	a := g.Resolve("a", ids("anonymous_id=0", "member_no=M1"), t0, &ch)
	b := g.Resolve("b", ids("anonymous_id=0", "member_no=M2"), t0, &ch)
	if a == b {
		t.Fatal("placeholder anonymousId 0 joined two persons")
	}
	if g.Resolve("c", ids("anonymous_id=null", "device_id=undefined"), t0, &ch) != 0 {
		t.Fatal("a record of placeholders got a person")
	}
}

func TestWindowedLimitDependsOnTime(t *testing.T) {
	g := NewGraph(DefaultRules())
	var ch Changes
	p := g.Resolve("seed", ids("member_no=M1"), t0, &ch)
	for i := range 25 {
		g.Resolve(fmt.Sprint("r", i), ids("member_no=M1", fmt.Sprintf("anonymous_id=a%d", i)), t0.Add(time.Duration(i)*time.Hour), &ch)
	}
	linked := 0
	for i := range 25 {
		if q, ok := g.Lookup(Identifier{"anonymous_id", fmt.Sprintf("a%d", i)}); ok && q == p {
			linked++
		}
	}
	if linked != 20 {
		t.Fatalf("%d anonymous ids linked within a week, want the limit 20", linked)
	}
	// A week later the window has room again.
	g.Resolve("later", ids("member_no=M1", "anonymous_id=late"), t0.Add(8*24*time.Hour), &ch)
	if q, _ := g.Lookup(Identifier{"anonymous_id", "late"}); q != p {
		t.Fatal("windowed limit did not free up after the window")
	}
}

// households makes conflict-free records: each household's identifiers
// that may join appear on records that together connect them; its phone
// and anonymous id each appear beside one of those.
func households(n int, seed uint64) ([]rec, map[string]int) {
	r := rand.New(rand.NewPCG(seed, 1))
	var recs []rec
	truth := map[string]int{}
	for h := range n {
		strong := []string{fmt.Sprintf("douyin_openid=d%d", h), fmt.Sprintf("unionid=U%d", h),
			fmt.Sprintf("wecom_external_userid=wm%d", h), fmt.Sprintf("tmall_ouid=t%d", h)}
		weak := []string{fmt.Sprintf("phone=h:p%d", h), fmt.Sprintf("anonymous_id=a%d", h)}
		for _, k := range append(strong, weak...) {
			truth[k] = h
		}
		for i := 1; i < len(strong); i++ {
			recs = append(recs, rec{fmt.Sprintf("h%d-%d", h, i), ids(strong[r.IntN(i)], strong[i])})
		}
		for i, w := range weak {
			recs = append(recs, rec{fmt.Sprintf("h%d-w%d", h, i), ids(strong[r.IntN(len(strong))], w)})
		}
	}
	return recs, truth
}

// TestArrivalOrderDoesNotChangePersons: where identifiers that may join
// connect the records, arrival order does not matter. (Where only a phone,
// device or anonymous id links two records, the first arrival decides:
// such identifiers attach but never join.)
func TestArrivalOrderDoesNotChangePersons(t *testing.T) {
	recs, truth := households(300, 7)
	g := NewGraph(DefaultRules())
	resolveAll(g, recs)
	want := partition(g, recs)
	for k, label := range want {
		if truth[k] != truth[label] {
			t.Fatalf("%s grouped with %s across households", k, label)
		}
	}
	r := rand.New(rand.NewPCG(3, 3))
	for round := range 5 {
		shuffled := append([]rec(nil), recs...)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		g := NewGraph(DefaultRules())
		resolveAll(g, shuffled)
		got := partition(g, recs)
		for k, v := range want {
			if got[k] != v {
				t.Fatalf("round %d: %s is with %s, in arrival order with %s", round, k, got[k], v)
			}
		}
		if g.Persons()-g.merges.len() != 300 {
			t.Fatalf("round %d: %d persons less %d merges, want 300 households", round, g.Persons(), g.merges.len())
		}
	}
}

func TestUnmergeRoundTrip(t *testing.T) {
	g := NewGraph(DefaultRules())
	var ch Changes
	a := g.Resolve("a", ids("member_no=M1", "phone=h:1"), t0, &ch)
	b := g.Resolve("b", ids("unionid=U9", "douyin_openid=d9"), t0, &ch)
	before := partition(g, []rec{{"", ids("member_no=M1", "phone=h:1", "unionid=U9", "douyin_openid=d9")}})
	c := g.Resolve("c", ids("member_no=M1", "douyin_openid=d9"), t0, &ch) // the (wrong) evidence
	// After the merge, a new identifier arrives with the absorbed side's id.
	g.Resolve("d", ids("douyin_openid=d9", "device_id=phone-9"), t0, &ch)
	if pa, _ := g.Lookup(Identifier{"unionid", "U9"}); pa != c || c != g.Canonical(b) || g.Canonical(a) != c {
		t.Fatalf("not merged: a=%d b=%d c=%d", a, b, c)
	}
	ms := g.MergesOf(c)
	if len(ms) != 1 {
		t.Fatalf("merges %+v", ms)
	}
	ch.Reset()
	tree, err := g.Unmerge(ms[0].ID, "tok_admin", t0, &ch)
	if err != nil {
		t.Fatal(err)
	}
	after := partition(g, []rec{{"", ids("member_no=M1", "phone=h:1", "unionid=U9", "douyin_openid=d9")}})
	for k, v := range before {
		if after[k] != v {
			t.Fatalf("after unmerge %s is with %s, before the merge with %s", k, after[k], v)
		}
	}
	dev, _ := g.Lookup(Identifier{"device_id", "phone-9"})
	d9, _ := g.Lookup(Identifier{"douyin_openid", "d9"})
	if dev != d9 {
		t.Fatal("the identifier linked through the absorbed side did not follow it")
	}
	if len(tree) != 1 || len(ch.Merges) != 1 || !ch.Merges[0].Undone {
		t.Fatalf("tree %v changes %+v", tree, ch.Merges)
	}
	if _, err := g.Unmerge(ms[0].ID, "x", t0, &ch); err != ErrMergeUndone {
		t.Fatalf("second unmerge: %v", err)
	}
}

func BenchmarkResolve(b *testing.B) {
	recs, _ := households(100_000, 1)
	g := NewGraph(DefaultRules())
	resolveAll(g, recs) // the graph knows everyone; records now repeat
	var ch Changes
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := recs[i%len(recs)]
		g.Resolve(r.ref, r.ids, t0, &ch)
		ch.Reset()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func TestParseRules(t *testing.T) {
	r, err := ParseRules([]byte(`[{"type":"phone","priority":1,"limit":1,"may_join":true},{"type":"device_id","priority":2,"limit":3,"window":"24h","blocked":["ios-simulator"]}]`))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Rule("device_id"); got.Window != 24*time.Hour || got.Limit != 3 || !r.blocked("device_id", "IOS-SIMULATOR") {
		t.Fatalf("device rule %+v", got)
	}
	for _, bad := range []string{`[{"type":"qq","priority":1}]`, `[{"type":"phone","priority":1},{"type":"email","priority":1}]`,
		`[{"type":"phone","priority":1,"window":"a week"}]`, `[{"type":"phone","priority":1,"colour":"red"}]`} {
		if _, err := ParseRules([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// A person counts its identifiers per rule type in a fixed array (16 bytes
// a person): it must have room for every known type.
func TestPersonStateCountsEveryType(t *testing.T) {
	if len(personState{}.own) < len(Types) {
		t.Fatalf("personState counts %d types, %d are known", len(personState{}.own), len(Types))
	}
	if s := unsafe.Sizeof(personState{}); s != 16 {
		t.Fatalf("personState is %d bytes, want 16", s)
	}
}
