package gen

import (
	"strconv"
	"time"

	"github.com/granarycdp/cdp/identity"
)

// Household is the ground truth about one household: who lives there and
// what a test may want to check the platform found out.
type Household struct {
	Index          int
	City, Province string
	Tier           int
	// Size is the number of persons (1-5), all eating at home; Infant a
	// baby besides.
	Size   int
	Infant bool
	// Interests: BloodSugar is 控糖, WeightLoss 减脂, LowGI 低GI (every
	// BloodSugar household and a few others), BabyFood 宝宝辅食 (with an
	// infant). Interests lists the ones that hold, in that order.
	BloodSugar, WeightLoss, LowGI, BabyFood bool
	Interests                               []string
	// OilDays and RiceDays are how many days 5 L of oil and 5 kg of
	// rice last the household (the consumption-cycle prior).
	OilDays, RiceDays float64
	// Buyer households buy the brand's oil or rice regularly.
	Buyer bool
	// Staff is the WeCom staff member serving the household.
	Staff string
	// SharedPhone and SharedDevice tell that two persons share a phone
	// number or a Douyin device (listed under both in Persons).
	SharedPhone, SharedDevice bool
	// Orders counts the orders placed in the period (any final status).
	Orders int
	// Trial is when the 低GI trial pack was ordered (zero: never).
	Trial time.Time
	// LowGIRice holds the ordered_at of every order with 低GI大米 2.5kg.
	LowGIRice []time.Time
	// Persons are the members who appear in the stream (a member who
	// never shops and uses neither Douyin nor WeCom leaves no trace).
	Persons []Person
}

// Person is the ground truth about one person: every identifier the
// stream carries for them, with raw values (phones as 11 digits, openids
// as "<appid>:<openid>", devices as the anonymousId). Placeholders are
// never listed.
type Person struct {
	// Key is unique in the data set: "h0000042.p1" is the second person
	// of household 42.
	Key       string
	Household int
	Name      string
	IDs       []identity.Identifier
	// Shared lists those of IDs that are also listed under another
	// person of the household (a family phone, a shared device).
	Shared []identity.Identifier
}

// Households calls fn with every household's facts, in order. The
// Household is fn's to keep. Each household is planned exactly as Each
// generates it (without encoding), so the cost is a fraction of Each's.
func (g *Generator) Households(fn func(*Household) error) error {
	p := newPlanner(g)
	for h := range g.cfg.Households {
		p.plan(h)
		if err := fn(p.facts()); err != nil {
			return err
		}
	}
	return nil
}

// Truth calls fn with every person who appears in the stream.
func (g *Generator) Truth(fn func(*Person) error) error {
	return g.Households(func(h *Household) error {
		for i := range h.Persons {
			if err := fn(&h.Persons[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// facts reads the planned household.
func (p *planner) facts() *Household {
	hh := &p.hh
	city := &cities[hh.city]
	h := &Household{
		Index: hh.idx, City: city.Name, Province: city.Province, Tier: city.Tier,
		Size: hh.size, Infant: hh.infant,
		BloodSugar: hh.sugar, WeightLoss: hh.slim, LowGI: hh.lowGI, BabyFood: hh.baby,
		OilDays: 5000 / hh.oilPerDay, RiceDays: 5000 / hh.ricePerDay,
		Buyer: hh.buyer, Staff: hh.staff, SharedPhone: hh.sharedPhone, SharedDevice: hh.sharedDevice,
		Orders: hh.orders,
	}
	for _, in := range []struct {
		ok   bool
		name string
	}{{hh.sugar, "控糖"}, {hh.slim, "减脂"}, {hh.lowGI, "低GI"}, {hh.baby, "宝宝辅食"}} {
		if in.ok {
			h.Interests = append(h.Interests, in.name)
		}
	}
	if hh.trialOrdered != 0 {
		h.Trial = time.UnixMilli(hh.trialOrdered).UTC()
	}
	for _, t := range hh.lowGIRice {
		h.LowGIRice = append(h.LowGIRice, time.UnixMilli(t).UTC())
	}
	for i := range hh.n {
		pr := &hh.persons[i]
		if pr.used == 0 {
			continue
		}
		per := Person{Key: personKey(hh.idx, i), Household: hh.idx, Name: pr.name}
		for k := range numIDKinds {
			if pr.used&(1<<k) == 0 {
				continue
			}
			id := identity.Identifier{Type: idTypes[k], Value: pr.id(k)}
			per.IDs = append(per.IDs, id)
			if p.usedByOther(i, k, id.Value) {
				per.Shared = append(per.Shared, id)
			}
		}
		h.Persons = append(h.Persons, per)
	}
	return h
}

// usedByOther tells whether another person of the household carries the
// value v of kind k in the stream.
func (p *planner) usedByOther(i int, k idKind, v string) bool {
	for j := range p.hh.n {
		if o := &p.hh.persons[j]; j != i && o.used&(1<<k) != 0 && o.id(k) == v {
			return true
		}
	}
	return false
}

func personKey(h, slot int) string {
	b := append(appendDigits([]byte{'h'}, int64(h), 7), ".p"...)
	return string(strconv.AppendInt(b, int64(slot), 10))
}

// Score is the pairwise precision and recall of a clustering of
// identifiers against the truth.
type Score struct {
	// Identifiers is how many identifiers were scored.
	Identifiers int64
	// TruePairs are pairs of scored identifiers of one person,
	// PredictedPairs pairs in one cluster, CorrectPairs both.
	TruePairs, PredictedPairs, CorrectPairs int64
	// Precision is CorrectPairs/PredictedPairs, Recall
	// CorrectPairs/TruePairs (1 when the denominator is zero).
	Precision, Recall float64
}

// Score compares a resolver's clustering with the truth. cluster returns
// the cluster (person id) an identifier was resolved to, or false for an
// identifier the resolver does not know (it is left out). Identifiers are
// passed with raw values; a resolver that keys phones by their keyed hash
// must hash them (identity.Protector) before looking them up. Shared
// identifiers have no single owner and are left out too: a resolver is
// judged by whether they made it merge two persons, which shows in
// precision. Memory grows with the number of clusters.
func (g *Generator) Score(cluster func(identity.Identifier) (string, bool)) (Score, error) {
	var s Score
	sizes := map[string]int64{}
	local := map[string]int64{}
	err := g.Truth(func(p *Person) error {
		clear(local)
		var k int64
	ids:
		for _, id := range p.IDs {
			for _, sh := range p.Shared {
				if sh == id {
					continue ids
				}
			}
			c, ok := cluster(id)
			if !ok {
				continue
			}
			k++
			local[c]++
			sizes[c]++
		}
		s.Identifiers += k
		s.TruePairs += k * (k - 1) / 2
		for _, n := range local {
			s.CorrectPairs += n * (n - 1) / 2
		}
		return nil
	})
	for _, n := range sizes {
		s.PredictedPairs += n * (n - 1) / 2
	}
	s.Precision, s.Recall = ratio(s.CorrectPairs, s.PredictedPairs), ratio(s.CorrectPairs, s.TruePairs)
	return s, err
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}
