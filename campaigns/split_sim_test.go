package campaigns

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestManyArmsStayQuietUnderPeeking simulates A/A/A/A/A splits: five arms
// with the same conversion rate, each later arm compared with the first
// after every 250 persons per arm, as a marketer refreshing the results
// would. The chance that any comparison is ever declared significant
// (the familywise error, over all peeks) must stay under α when each
// comparison is measured as one of four (MeasureOneOf); measured alone
// (Measure), the same comparisons raise false winners more often.
func TestManyArmsStayQuietUnderPeeking(t *testing.T) {
	const (
		arms, perArm, every, trials = 5, 8000, 250, 400
		rate                        = 0.06
	)
	rng := rand.New(rand.NewPCG(17, 23))
	falseWith := func(m int) func([]ArmSums) bool {
		return func(s []ArmSums) bool {
			for _, a := range s[1:] {
				if u := MeasureOneOf(a, s[0], perArm, m); u.Conversion != nil && u.Conversion.Significant {
					return true
				}
			}
			return false
		}
	}
	corrected, alone := falseWith(arms-1), falseWith(1)
	var fwCorrected, fwAlone int
	for range trials {
		sums := make([]ArmSums, arms)
		var hitC, hitA bool
		for n := 1; n <= perArm; n++ {
			for a := range sums {
				prior := float64(rng.IntN(4))
				conv := 0.0
				if rng.Float64() < rate*(1+prior/4) {
					conv = 1
				}
				sums[a].Add(conv, conv*(30+60*rng.Float64()), 1, [2]float64{prior, rng.Float64()})
			}
			if n%every == 0 {
				hitC = hitC || corrected(sums)
				hitA = hitA || alone(sums)
			}
		}
		if hitC {
			fwCorrected++
		}
		if hitA {
			fwAlone++
		}
	}
	rc, ra := float64(fwCorrected)/trials, float64(fwAlone)/trials
	t.Logf("familywise false winners over %d peeks: %.3f corrected, %.3f alone (%d trials)", perArm/every, rc, ra, trials)
	if margin := 3 * math.Sqrt(alpha*(1-alpha)/trials); rc > alpha+margin {
		t.Errorf("corrected familywise error %.3f over α=%.2f (+%.3f simulation margin)", rc, alpha, margin)
	}
	if fwAlone <= fwCorrected {
		t.Errorf("comparisons measured alone raised %d false winners, corrected %d: the correction does nothing", fwAlone, fwCorrected)
	}
}
