package segments

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"github.com/expr-lang/expr/vm"
)

// The leaves that are not SQL: traits (from the trait snapshot), random
// buckets and other segments.

var ordersKinds = []string{KindOrders}

// rangeLeaf: persons whose numeric trait is in r (in the trait's unit;
// whole days for days_since_last_order). Answered by the trait's BSI.
type rangeLeaf struct {
	trait string
	r     intRange
}

func (l *rangeLeaf) Kinds() []string { return ordersKinds }

func (l *rangeLeaf) String() string {
	scale := traitSpecs[l.trait].scale
	f := func(v int64) string { return strconv.FormatFloat(float64(v)/scale, 'f', -1, 64) }
	switch {
	case l.r.lo == l.r.hi:
		return l.trait + " == " + f(l.r.lo)
	case l.r.hi == maxInt:
		return l.trait + " >= " + f(l.r.lo)
	case l.r.lo == minInt:
		return l.trait + " <= " + f(l.r.hi)
	}
	return l.trait + " in " + f(l.r.lo) + ".." + f(l.r.hi)
}

func (l *rangeLeaf) eval(ev *evaluator) (*roaring.Bitmap, bool, error) {
	r := l.r
	if traitSpecs[l.trait].days {
		r = daysToTime(r, ev.now)
	}
	return ev.traits.numeric[traitSpecs[l.trait].column].between(r), true, nil
}

const dayMS = int64(24 * time.Hour / time.Millisecond)

// daysToTime converts a range of whole days since an instant t,
// d = floor((now - t) / 1 day), to the range of t in Unix milliseconds.
func daysToTime(r intRange, now time.Time) intRange {
	const limit = 1 << 20 // days: about 2,900 years
	n := now.UnixMilli()
	out := intRange{lo: minInt, hi: maxInt}
	if r.lo > limit || r.hi < -limit {
		return intRange{lo: 1, hi: 0}
	}
	if r.hi < limit {
		out.lo = n - (r.hi+1)*dayMS + 1
	}
	if r.lo > -limit {
		out.hi = n - r.lo*dayMS
	}
	return out
}

// knownLeaf: persons who have a value of a numeric trait.
type knownLeaf struct{ trait string }

func (l *knownLeaf) Kinds() []string { return ordersKinds }
func (l *knownLeaf) String() string  { return l.trait + " is known" }
func (l *knownLeaf) eval(ev *evaluator) (*roaring.Bitmap, bool, error) {
	return ev.traits.numeric[traitSpecs[l.trait].column].exists, false, nil
}

// vmProgram is a trait-only expression compiled for the expr VM.
type vmProgram struct {
	src  string
	prog *vm.Program
}

// run evaluates the program for one person's (or one value's) traits,
// within the memory budget of a VM from newVM (a new one when none is
// passed; a VM is not goroutine-safe). A run over the budget is
// ErrTooCostly.
func (p *vmProgram) run(env *Traits, machine ...*vm.VM) (bool, error) {
	m := newVM()
	if len(machine) > 0 {
		m = machine[0]
	}
	out, err := m.Run(p.prog, *env)
	if err != nil {
		return false, budgetError(p.src, err)
	}
	b, ok := out.(bool)
	return ok && b, nil
}

// categoryLeaf: persons whose categorical trait (city, province,
// city_tier) satisfies an expression. The VM runs once per distinct value,
// not per person; the result is the union of the matching values'
// bitmaps. Persons without the trait never match.
type categoryLeaf struct {
	trait string
	prog  *vmProgram
}

func (l *categoryLeaf) Kinds() []string { return ordersKinds }
func (l *categoryLeaf) String() string  { return l.prog.src }

func (l *categoryLeaf) eval(ev *evaluator) (*roaring.Bitmap, bool, error) {
	var match []*roaring.Bitmap
	var env Traits
	for _, c := range ev.traits.categories[l.trait] {
		setTrait(&env, l.trait, c.value)
		ok, err := l.prog.run(&env)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", l.prog.src, err)
		}
		if ok {
			match = append(match, c.members)
		}
	}
	if len(match) == 1 {
		return match[0], false, nil
	}
	return roaring.FastOr(match...), true, nil
}

// setTrait sets a categorical trait's field.
func setTrait(env *Traits, trait string, v any) {
	switch trait {
	case "city":
		env.City = v.(string)
	case "province":
		env.Province = v.(string)
	case "city_tier":
		env.CityTier = v.(int)
	default:
		panic("BUG: setTrait " + trait)
	}
}

// residualLeaf: a trait-only expression that is not a single range or
// category (ltv > 2 * aov, ltv / orders_total > 150). It is the one part
// of the language evaluated per candidate by the expr VM, over persons who
// have every trait it reads; in an And, only over what the other children
// leave.
type residualLeaf struct {
	traits []string
	prog   *vmProgram
	at     *RuleError // refusal when nothing narrows it (see unnarrowed)
}

func (l *residualLeaf) Kinds() []string { return ordersKinds }
func (l *residualLeaf) String() string  { return l.prog.src + " (per person)" }

func (l *residualLeaf) eval(ev *evaluator) (*roaring.Bitmap, bool, error) {
	bm, err := l.within(ev, ev.traits.universe)
	return bm, true, err
}

// within returns the candidates that satisfy the expression.
func (l *residualLeaf) within(ev *evaluator, candidates *roaring.Bitmap) (*roaring.Bitmap, error) {
	cands := candidates.Clone()
	for _, t := range l.traits {
		cands.And(ev.traits.known(t))
	}
	numeric := map[string]map[uint32]int64{}
	category := map[string]map[uint32]any{}
	for _, t := range l.traits {
		if err := ev.ctx.Err(); err != nil {
			return nil, err // reading values costs ~1 us a candidate too
		}
		if traitSpecs[t].categorical {
			category[t] = ev.traits.categoryOf(t, cands)
		} else {
			numeric[t] = ev.traits.numeric[traitSpecs[t].column].values(cands)
		}
	}
	out := roaring.New()
	var env Traits
	machine := newVM()
	var err error
	n := 0
	cands.Iterate(func(id uint32) bool {
		if n++; n%ctxCheckEvery == 1 {
			if err = ev.ctx.Err(); err != nil {
				return false
			}
		}
		for t, vals := range category {
			setTrait(&env, t, vals[id])
		}
		for t, vals := range numeric {
			setNumeric(&env, t, vals[id], ev.now)
		}
		var ok bool
		if ok, err = l.prog.run(&env, machine); err != nil {
			if !errors.Is(err, ErrTooCostly) { // that one names the condition
				err = fmt.Errorf("%s: %w", l.prog.src, err)
			}
			return false
		}
		if ok {
			out.Add(id)
		}
		return true
	})
	return out, err
}

// setNumeric sets a numeric trait's field from its stored value.
func setNumeric(env *Traits, trait string, v int64, now time.Time) {
	switch trait {
	case "ltv":
		env.LTV = float64(v) / 100
	case "aov":
		env.AOV = float64(v) / 100
	case "orders_total":
		env.OrdersTotal = int(v)
	case "days_since_last_order":
		env.DaysSinceLastOrder = int(floorDiv(now.UnixMilli()-v, dayMS))
	default:
		panic("BUG: setNumeric " + trait)
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// bucketLeaf: persons whose bucket(n, salt) is in r. The bucket of a
// person is fmix32(person_id XOR fnv1a32(salt)) mod n, where fmix32 is
// MurmurHash3's finaliser: stable across runs and machines, so a split
// (bucket(100) < 10) keeps the same persons.
type bucketLeaf struct {
	n    int
	salt string
	r    intRange
}

func (l *bucketLeaf) Kinds() []string { return nil }
func (l *bucketLeaf) String() string {
	return fmt.Sprintf("bucket(%d, %q) in %d..%d", l.n, l.salt, l.r.lo, l.r.hi)
}

func (l *bucketLeaf) eval(ev *evaluator) (*roaring.Bitmap, bool, error) {
	seed := saltHash(l.salt)
	ids := make([]uint32, 0, 1024)
	buf := make([]uint32, 1024)
	it := ev.traits.universe.ManyIterator()
	for n := it.NextMany(buf); n > 0; n = it.NextMany(buf) {
		for _, id := range buf[:n] {
			if b := int64(bucketOf(id, seed, l.n)); b >= l.r.lo && b <= l.r.hi {
				ids = append(ids, id)
			}
		}
	}
	out := roaring.New()
	out.AddMany(ids)
	return out, true, nil
}

// Bucket is bucket(n, salt) of a person, as rules see it (n >= 1).
func Bucket(id uint32, n int, salt string) int { return bucketOf(id, saltHash(salt), n) }

// bucketOf is fmix32(id ^ seed) % n.
func bucketOf(id, seed uint32, n int) int {
	h := id ^ seed
	h ^= h >> 16
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return int(h % uint32(n))
}

func saltHash(salt string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(salt))
	return h.Sum32()
}

// segmentLeaf: the members of another segment, from the SegmentResolver.
type segmentLeaf struct{ id string }

func (l *segmentLeaf) Kinds() []string { return nil }
func (l *segmentLeaf) String() string  { return "in_segment(" + strconv.Quote(l.id) + ")" }

func (l *segmentLeaf) eval(ev *evaluator) (*roaring.Bitmap, bool, error) {
	if ev.e.opts.Segments == nil {
		return nil, false, fmt.Errorf("in_segment(%q): %w", l.id, ErrNoResolver)
	}
	bm, err := ev.e.opts.Segments.SegmentMembers(ev.ctx, l.id)
	if err != nil {
		return nil, false, fmt.Errorf("in_segment(%q): %w", l.id, err)
	}
	// Members computed before a merge may name absorbed persons.
	return roaring.And(bm, ev.traits.universe), true, nil
}

func (l *sqlLeaf) eval(ev *evaluator) (*roaring.Bitmap, bool, error) {
	if bm := ev.sql[l.key]; bm != nil {
		return bm, false, nil
	}
	bm, err := ev.e.leaf(ev.ctx, l, ev.now, ev.stale)
	return bm, false, err
}
