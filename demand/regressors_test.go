package demand

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/gen"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestRegressorCSVIsCheckedWhole: a bad line is refused naming its line
// and column, and a good file parses to its values.
func TestRegressorCSVIsCheckedWhole(t *testing.T) {
	good := "name,date,province,city,class,value\npromo,2026-12-12,四川,,高油酸花生油,1\nrain_mm,2026-12-12,四川,成都,,12.5\n"
	values, err := ParseRegressorCSV(strings.NewReader(good))
	if err != nil || len(values) != 2 || values[1].Value != 12.5 || values[1].City != "成都" || !values[0].Date.Equal(time.Date(2026, 12, 12, 0, 0, 0, 0, beijing)) {
		t.Fatalf("good file: %+v, %v", values, err)
	}
	for _, tc := range []struct{ name, csv, field string }{
		{"empty", "", "line 1"},
		{"no value column", "name,date,province\n", "line 1: value"},
		{"unknown column", "name,date,province,value,colour\n", "line 1: colour"},
		{"no rows", "name,date,province,value\n", "line 2"},
		{"bad name", "name,date,province,value\nPromo!,2026-12-12,,1\n", "line 2: name"},
		{"bad date", "name,date,province,value\npromo,2026-12-12,,1\npromo,12/13/2026,,1\n", "line 3: date"},
		{"bad value", "name,date,province,value\npromo,2026-12-12,,1\npromo,2026-12-13,,NaN\n", "line 3: value"},
		{"city without province", "name,date,province,city,value\npromo,2026-12-12,,成都,1\n", "line 2: province"},
		{"twice", "name,date,province,value\npromo,2026-12-12,四川,1\npromo,2026-12-12,四川,2\n", "line 3: date"},
		{"short line", "name,date,province,value\npromo,2026-12-12\n", "line 2"},
		{"quote", "name,date,province,value\npromo,2026-12-12,\"四川,1\n", "line 2"},
	} {
		_, err := ParseRegressorCSV(strings.NewReader(tc.csv))
		var ie *InvalidError
		if !errors.As(err, &ie) || ie.Field != tc.field {
			t.Errorf("%s: %v, want a refusal of %q", tc.name, err, tc.field)
		}
	}
}

// TestRegressorCSVRefusesAFileOverItsBound: a file of one value more than
// MaxRegressorRows (distinct names and days, each line valid) is refused
// at the line past the bound instead of held in memory and written.
func TestRegressorCSVRefusesAFileOverItsBound(t *testing.T) {
	var b strings.Builder
	b.WriteString("name,date,province,value\n")
	day := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i <= MaxRegressorRows; i++ {
		fmt.Fprintf(&b, "r%d,%s,四川,1\n", i/1000, day.AddDate(0, 0, i%1000).Format("2006-01-02"))
	}
	_, err := ParseRegressorCSV(strings.NewReader(b.String()))
	var ie *InvalidError
	if want := fmt.Sprintf("line %d", MaxRegressorRows+2); !errors.As(err, &ie) || ie.Field != want {
		t.Fatalf("%d values: %v, want a refusal of %q", MaxRegressorRows+1, err, want)
	}
}

// TestRegressorImportReplacesAndFeedsTheForecast: the generated world's
// regressor CSV imported twice holds each value once; the values read
// back equal those imported, so the forecast from the store's values is
// the forecast from the file's.
func TestRegressorImportReplacesAndFeedsTheForecast(t *testing.T) {
	ctx := context.Background()
	s := New(storetest.Migrated(t), nil)
	w := gen.GenerateDemand(gen.DemandConfig{Seed: 303, Start: simStart, Days: 500, Promotions: 40, Weather: true})
	values, err := ParseRegressorCSV(strings.NewReader(string(w.RegressorCSV())))
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := s.ImportRegressors(ctx, values, "tok_admin"); err != nil {
			t.Fatal(err)
		}
	}
	sums, err := s.RegressorSummaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]uint64{}
	for _, v := range values {
		rows[v.Name]++
	}
	if len(sums) != 2 || sums[0].Name != "promo" || sums[0].Rows != rows["promo"] || sums[1].Rows != rows["rain_mm"] ||
		sums[1].From != "2024-01-01" || sums[1].ImportedBy != "tok_admin" {
		t.Fatalf("summaries %+v, want promo %d and rain_mm %d rows from 2024-01-01", sums, rows["promo"], rows["rain_mm"])
	}
	stored, err := s.LoadRegressors(ctx, simStart, simStart.AddDate(0, 0, 500))
	if err != nil {
		t.Fatal(err)
	}
	d, o := unitsOf(w), DefaultDetectOptions()
	want, got := ForecastWith(d, 480, o, Inputs{Regressors: NewRegressors(values)}), ForecastWith(d, 480, o, Inputs{Regressors: stored})
	for i := range want {
		if len(want[i].Effects) == 0 || got[i].Days[3] != want[i].Days[3] {
			t.Fatalf("%v: from the store %+v %v, from the file %+v %v", want[i].Key, got[i].Days[3], got[i].Effects, want[i].Days[3], want[i].Effects)
		}
	}
}
