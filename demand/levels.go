package demand

// Detection over the three levels of regions: every city, the sum of each
// province's cities and the nation's sum. A surge spread thinly over a
// province (every city ×1.6, too weak in any one city's count) stands out
// in the province's sum; one in a single city stands out there first.

// Aggregate sums the city series of d to level: LevelProvince (one series
// per class and province of two cities or more, City empty), LevelNation
// (one per class, Province and City empty) or LevelCity (d itself).
func Aggregate(d *Daily, level string) *Daily {
	if level == LevelCity {
		return d
	}
	out := &Daily{Start: d.Start, Days: d.Days, Series: map[Key][]float64{}, cal: d.cal}
	cities := map[Key]int{}
	for k := range d.Series {
		cities[Key{Class: k.Class, Province: k.Province}]++
	}
	for k, s := range d.Series {
		if level == LevelProvince && cities[Key{Class: k.Class, Province: k.Province}] < 2 {
			continue // a province of one city: its sum is the city's series
		}
		a := Key{Class: k.Class}
		if level == LevelProvince {
			a.Province = k.Province
		}
		sum := out.Series[a]
		if sum == nil {
			sum = make([]float64, len(s))
			out.Series[a] = sum
		}
		for i, x := range s {
			sum[i] += x
		}
	}
	return out
}

// Level names the level of a series' key.
func (k Key) Level() string {
	switch {
	case k.City != "":
		return LevelCity
	case k.Province != "":
		return LevelProvince
	}
	return LevelNation
}

// TestLevels tests day t of every city series of d and of their province
// and national sums. Each level is fitted on its own (its dispersion and
// drift pooled over its series: a sum of cities is less overdispersed
// than one city), except in a calendar window (春节, 双11, ...): there the
// baseline's calendar factor is the uncertain part, shared by a sum's
// cities instead of averaging out, so a sum's overdispersion is at least
// the cities'. The p-values of all levels are adjusted together
// (Benjamini-Hochberg over every test), so the false discovery rate holds
// across levels.
func TestLevels(d *Daily, t int, o DetectOptions) []Test {
	all, cityOver := testDay(d, t, o, nil)
	var floor map[string]float64
	if _, _, in := d.near(t); in {
		floor = cityOver
	}
	for _, level := range []string{LevelProvince, LevelNation} {
		tests, _ := testDay(Aggregate(d, level), t, o, floor)
		all = append(all, tests...)
	}
	benjaminiHochberg(all)
	return all
}
