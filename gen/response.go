package gen

import (
	"hash/fnv"
	"math/rand/v2"
	"time"
)

// Offer effects: the causal response of persons to an offer, which the
// generator's orders otherwise lack (without one, every campaign's true
// effect is zero). The platform decides who is treated (its holdout is
// drawn at launch), so the response is applied afterwards: for each
// treated person the message reached, Respond says whether and how they
// respond, and the data's truth is what Truth computes beside it.

// Effect is an offer's true effect in its audience.
type Effect struct {
	// Offer names the offer (the truth's key, and the response's salt).
	Offer string
	// ConversionMultiplier: a reached person converts (buys the offer's
	// items within the window) this many times as often as without the
	// message (≥ 1). The response adds conversions among those who would
	// not have converted, at the rate that makes it so on average.
	ConversionMultiplier float64
	// SpendShift is yuan a responding person spends beyond the offer's
	// product (a basket add-on).
	SpendShift float64
	// SKU, Category and UnitPrice (yuan) are what a responder buys.
	SKU, Category string
	UnitPrice     float64
}

// Demo effects, as the seed reports them: the low-GI trial pack sent to
// the blood-sugar audience triples conversion; the peanut-oil coupon
// lifts repurchase modestly.
var (
	LowGITrialEffect = Effect{Offer: "低GI大米试用装 500g", ConversionMultiplier: 3, SpendShift: 10,
		SKU: products[skuLowGITrial].SKU, Category: products[skuLowGITrial].Category, UnitPrice: float64(products[skuLowGITrial].Price) / 100}
	PeanutOilCouponEffect = Effect{Offer: "高油酸花生油 5L 复购立减 20 元", ConversionMultiplier: 1.3, SpendShift: 0,
		SKU: products[skuHighOleic5].SKU, Category: products[skuHighOleic5].Category, UnitPrice: float64(products[skuHighOleic5].Price)/100 - 20}
)

// ResponseOrder is an order a reached person places because of the offer.
type ResponseOrder struct {
	At     time.Time
	Amount float64 // yuan: UnitPrice + SpendShift
}

// responseRate is the chance that a reached person who would not have
// converted does because of the offer, given the audience's natural
// conversion rate p0: with it, reached persons convert at m·p0 (capped
// at 1).
func (e Effect) responseRate(p0 float64) float64 {
	if p0 <= 0 || p0 >= 1 || e.ConversionMultiplier <= 1 {
		return 0
	}
	return min(1, (e.ConversionMultiplier-1)*p0/(1-p0))
}

// Respond decides the response of a reached person (key: a stable id of
// them) to the offer sent at from with an attribution window of days:
// converted tells whether they converted anyway, p0 is the audience's
// natural conversion rate. The answer depends only on the generator's
// seed, the offer and the key.
func (g *Generator) Respond(e Effect, key string, from time.Time, days int, converted bool, p0 float64) (ResponseOrder, bool) {
	h := fnv.New64a()
	h.Write([]byte(e.Offer + "\x00" + key))
	r := rand.New(rand.NewPCG(mix(g.cfg.Seed, h.Sum64()), h.Sum64()))
	u, at := r.Float64(), r.Float64()
	if converted || u >= e.responseRate(p0) {
		return ResponseOrder{}, false
	}
	// Within the window, sooner rather than later: the first days after
	// a message carry most of its effect.
	window := time.Duration(days) * 24 * time.Hour
	return ResponseOrder{At: from.Add(time.Duration(at * at * float64(window))), Amount: e.UnitPrice + e.SpendShift}, true
}

// EffectTruth is an offer's truth in one campaign, written beside the
// data for a newcomer (and the browser test) to check the measurement.
type EffectTruth struct {
	Effect
	// Persons are the campaign's persons in either arm, Treatment those
	// in treatment and Reached those of them the message reached.
	Persons, Treatment, Reached int
	// NaturalRate is the audience's conversion rate without the offer.
	NaturalRate float64
	// Responders placed a response order.
	Responders int
	// ConversionEffect is the true intention-to-treat effect on the
	// conversion rate (treatment minus holdout, in expectation):
	// reach · (m-1) · p0; RevenueEffect the same on revenue per person.
	ConversionEffect, RevenueEffect float64
	// ReachedRelative is the true relative lift among the reached (m-1,
	// less when capped; 0 when the natural rate is 0).
	ReachedRelative float64
}

// Truth computes an offer's truth in a campaign from its counts.
func (e Effect) Truth(persons, treatment, reached int, p0 float64, responders int) EffectTruth {
	t := EffectTruth{Effect: e, Persons: persons, Treatment: treatment, Reached: reached, NaturalRate: p0, Responders: responders}
	perReached := e.responseRate(p0) * (1 - p0) // = (m-1)·p0 unless capped
	if p0 > 0 {
		t.ReachedRelative = perReached / p0
	}
	if treatment > 0 {
		reach := float64(reached) / float64(treatment)
		t.ConversionEffect = reach * perReached
		t.RevenueEffect = reach * perReached * (e.UnitPrice + e.SpendShift)
	}
	return t
}
