package schema_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/schema"
	"github.com/granarycdp/cdp/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestDomainFragmentsMatchGolden pins what the domain fragments render to.
// Run with -update after changing one, then review the diff: every query
// that uses the fragment changes with it.
func TestDomainFragmentsMatchGolden(t *testing.T) {
	var b strings.Builder
	for _, f := range []struct{ name, sql string }{
		{"Canonical", schema.Canonical("{db}.persons", "")},
		{"Canonical narrowed", schema.Canonical("{db}.persons", "canonical IN ?")},
		{"ValidOrder", schema.ValidOrder},
		{"ValidOrderOf(o)", schema.ValidOrderOf("o")},
		{"InvalidOrder", schema.InvalidOrder},
		{"Vault", schema.Vault("{db}.pii_vault", "")},
		{"Vault narrowed", schema.Vault("{db}.pii_vault", "hash IN ?")},
		{"BeijingDate", schema.BeijingDate("o.ordered_at")},
	} {
		b.WriteString("-- " + f.name + "\n" + f.sql + "\n\n")
	}
	path := filepath.Join("testdata", "domain.sql")
	if *schema.UpdateGolden {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("domain fragments differ from %s (run go test ./schema -update and review):\n%s", path, b.String())
	}
}

// TestDomainFragmentsOnEngine runs each fragment on the engine over rows
// whose answer is known, and checks the SQL and Go forms of the valid-order
// rule agree on every status ingest accepts.
func TestDomainFragmentsOnEngine(t *testing.T) {
	db := storetest.Migrated(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	exec := func(q string) {
		t.Helper()
		if err := db.Conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	statuses := []string{"created", "paid", "shipped", "completed", "refunded", "cancelled"}
	for i, s := range statuses {
		exec("INSERT INTO " + db.Table("orders") + " (channel, order_id, version, status, person_id) VALUES ('pos', 'o" +
			string(rune('a'+i)) + "', 1, '" + s + "', 1)")
	}
	rows, err := db.Conn.Query(ctx, "SELECT status FROM "+db.Table("orders")+" FINAL WHERE "+schema.ValidOrder+" ORDER BY status")
	if err != nil {
		t.Fatal(err)
	}
	var sqlValid []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		sqlValid = append(sqlValid, s)
	}
	rows.Close()
	var goValid []string
	for _, s := range statuses {
		if schema.ValidOrderStatus(s) {
			goValid = append(goValid, s)
		}
	}
	slices.Sort(goValid)
	if !slices.Equal(sqlValid, goValid) || len(goValid) != 4 {
		t.Errorf("valid statuses: SQL %v, Go %v; want the same four", sqlValid, goValid)
	}

	// Person 3 was merged into 2, then 2 into 1; person 4 stands alone.
	// The older versions of 2 and 3 stay in unmerged parts.
	exec("INSERT INTO " + db.Table("persons") + " (person_id, parent, canonical, version) VALUES (1,1,1,1), (2,2,2,1), (3,3,3,1), (4,4,4,1)")
	exec("INSERT INTO " + db.Table("persons") + " (person_id, parent, canonical, version) VALUES (3,2,2,2)")
	exec("INSERT INTO " + db.Table("persons") + " (person_id, parent, canonical, version) VALUES (2,1,1,3), (3,2,1,3)")
	got := map[uint32]uint32{}
	crows, err := db.Conn.Query(ctx, "SELECT person_id, canonical FROM "+schema.Canonical(db.Table("persons"), ""))
	if err != nil {
		t.Fatal(err)
	}
	for crows.Next() {
		var p, c uint32
		if err := crows.Scan(&p, &c); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[p]; dup {
			t.Errorf("person %d mapped twice", p)
		}
		got[p] = c
	}
	crows.Close()
	want := map[uint32]uint32{1: 1, 2: 1, 3: 1, 4: 4}
	if len(got) != len(want) {
		t.Errorf("canonical mapping %v, want %v", got, want)
	}
	for p, c := range want {
		if got[p] != c {
			t.Errorf("person %d → %d, want %d", p, got[p], c)
		}
	}
	var narrowed uint64
	if err := db.Conn.QueryRow(ctx, "SELECT count() FROM "+schema.Canonical(db.Table("persons"), "canonical IN ?"), []uint32{4}).Scan(&narrowed); err != nil {
		t.Fatal(err)
	}
	if narrowed != 1 {
		t.Errorf("narrowed to canonical 4: %d rows, want 1", narrowed)
	}

	// The vault answers the latest mask and ciphertext of a hash even while
	// an older row (a mask from before masks kept four digits) is unmerged.
	exec("INSERT INTO " + db.Table("pii_vault") + " (hash, type, masked, ciphertext, updated_at) VALUES ('h1', 'phone', '+86 138****5678', 'old', '2026-01-01 00:00:00')")
	exec("INSERT INTO " + db.Table("pii_vault") + " (hash, type, masked, ciphertext, updated_at) VALUES ('h1', 'phone', '*******5678', 'new', '2026-06-01 00:00:00')")
	exec("INSERT INTO " + db.Table("pii_vault") + " (hash, type, masked, ciphertext, updated_at) VALUES ('h2', 'phone', '*******0000', 'other', '2026-06-01 00:00:00')")
	var masked, cipher string
	var n uint64
	if err := db.Conn.QueryRow(ctx, "SELECT any(masked), any(ciphertext), count() FROM "+schema.Vault(db.Table("pii_vault"), "hash IN ?"), []string{"h1"}).Scan(&masked, &cipher, &n); err != nil {
		t.Fatal(err)
	}
	if masked != "*******5678" || cipher != "new" || n != 1 {
		t.Errorf("vault read %q %q (%d rows), want the latest row only", masked, cipher, n)
	}
}
