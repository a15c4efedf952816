package gen

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/granarycdp/cdp/schema"
)

// TestRespondMultipliesConversionAsDeclared: among reached persons of an
// audience converting naturally at p0, responses bring conversion to m·p0,
// inside the window, the same on every run; the truth says so.
func TestRespondMultipliesConversionAsDeclared(t *testing.T) {
	g := New(Config{Seed: 7, Households: 1})
	from := time.Date(2026, 10, 26, 10, 0, 0, 0, schema.Beijing)
	const n, p0 = 40_000, 0.08
	converted, responders := 0, 0
	for i := range n {
		natural := float64(i%100) < p0*100
		o, ok := g.Respond(LowGITrialEffect, fmt.Sprint("p", i), from, 14, natural, p0)
		if natural {
			converted++
		}
		if ok {
			responders++
			converted++
			if o.At.Before(from) || !o.At.Before(from.Add(14*24*time.Hour)) || o.Amount != 19.9 {
				t.Fatalf("response %+v", o)
			}
		}
		if again, ok2 := g.Respond(LowGITrialEffect, fmt.Sprint("p", i), from, 14, natural, p0); ok2 != ok || again != o {
			t.Fatal("a response differs between runs")
		}
	}
	if got := float64(converted) / n; math.Abs(got-3*p0) > 0.01 {
		t.Fatalf("reached persons convert at %.4f, want 3 × %.2f", got, p0)
	}
	truth := LowGITrialEffect.Truth(1250, 1000, 1000, p0, responders)
	if math.Abs(truth.ConversionEffect-2*p0) > 1e-12 || math.Abs(truth.RevenueEffect-2*p0*19.9) > 1e-9 {
		t.Fatalf("truth %+v", truth)
	}
	if _, ok := g.Respond(LowGITrialEffect, "x", from, 14, false, 0); ok {
		t.Fatal("a response without any natural conversion to multiply")
	}
	// The peanut-oil coupon lifts a realistic base rate by 30%.
	oil := PeanutOilCouponEffect.Truth(1000, 800, 800, 0.05, 0)
	if math.Abs(oil.ConversionEffect-0.015) > 1e-12 || math.Abs(oil.ReachedRelative-0.3) > 1e-12 {
		t.Fatalf("peanut-oil truth at a natural rate of 5%% %+v", oil)
	}
}
