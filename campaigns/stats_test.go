package campaigns

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestConfidenceSequenceMultiplier: at tStar persons the sequence's
// half-width is 3.035 standard errors (α = 5%; Waudby-Smith et al. 2024,
// Theorem 2.2 with their optimal ρ), wider elsewhere, and always wider
// than the fixed-horizon interval's 1.96.
func TestConfidenceSequenceMultiplier(t *testing.T) {
	// nρ² = 2 log 20 + log(2 log 20 + 1) = 7.93612;
	// √(2 · 8.93612/7.93612 · log(√8.93612 / 0.05)) = 3.03524.
	if got := csMultiplier(5000, 5000, alpha); math.Abs(got-3.03524) > 1e-4 {
		t.Fatalf("multiplier at tStar %.5f, want 3.03524", got)
	}
	for _, n := range []float64{10, 500, 50_000, 5e6} {
		if got := csMultiplier(n, 5000, alpha); got <= 3.03524 || got <= z95 {
			t.Fatalf("multiplier at %v persons %.4f", n, got)
		}
	}
}

// TestCUPEDAndComplierEffect: with an outcome that depends on the
// pre-campaign spend, CUPED removes about corr² of the variance and keeps
// the estimate; the complier effect is the ITT effect over the delivery
// rate.
func TestCUPEDAndComplierEffect(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var tr, ho ArmSums
	for i := range 40_000 {
		orders := float64(r.IntN(4))
		spend := orders*30 + r.Float64()*10
		treated := i%5 != 0
		reached := 0.0
		if treated && r.Float64() < 0.8 {
			reached = 1
		}
		rev := spend*0.5 + r.NormFloat64()*10 + 5*reached // effect on the reached: 5
		if treated {
			tr.Add(0, rev, reached, [2]float64{orders, spend})
		} else {
			ho.Add(0, rev, 0, [2]float64{orders, spend})
		}
	}
	u := Measure(tr, ho, tr.N+ho.N)
	e := u.Revenue
	if e == nil || e.CUPED == nil || e.Complier == nil {
		t.Fatalf("effect %+v", e)
	}
	// Var(rev) = 0.25·Var(spend) + 100 + ..., Var(spend) ≈ 900·1.25 + 8.3:
	// corr² ≈ 284/(284+100) ≈ 0.74.
	if vr := e.CUPED.VarianceReduction; vr < 0.65 || vr > 0.8 {
		t.Fatalf("variance reduction %.3f, want about 0.74", vr)
	}
	if math.Abs(e.CUPED.Estimate-4) > 3*e.CUPED.SE || math.Abs(e.Complier.Estimate-5) > 4*e.Complier.SE {
		t.Fatalf("ITT %.3f (want 4), complier %.3f ± %.3f (want 5)", e.CUPED.Estimate, e.Complier.Estimate, e.Complier.SE)
	}
	if math.Abs(e.Complier.Estimate-e.Estimate/e.Complier.DeliveryRate) > 1e-12 || e.CS95[1]-e.CS95[0] <= e.CI95[1]-e.CI95[0] {
		t.Fatalf("complier %+v, sequence %v, interval %v", e.Complier, e.CS95, e.CI95)
	}
}
