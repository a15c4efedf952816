package schema

import "testing"

// released are the checksums (single node, cluster "c") of migrations as
// they were released. A database records the checksum of each migration it
// applied and warns on every start when this build's differs, so a
// released migration must never change; add a migration instead. Append a
// version here when it is released.
var released = map[int][2]string{
	1:  {"d482b7dfad144109", "72bab6e5411d91ea"},
	2:  {"17235166735f2705", "241b9cd2e26274db"},
	3:  {"b4ce5c52e5c590bc", "1d6bf07abaa1c81d"},
	4:  {"06f95516282080bc", "2a1b7d7617b2021f"},
	5:  {"9b69cdb2dd09a3df", "3f846306d89a42de"},
	6:  {"cbdb2b22318a520f", "8c3fe15a68f1bef1"},
	7:  {"0fa6c539fe5be4c8", "e239aaa11ed5512a"},
	8:  {"fb53a62b8be275e9", "bd3e59478a76bf2e"},
	9:  {"ba3bd38094aed3ca", "e0b961e44748fe1a"},
	10: {"79670b088162dbdf", "405e778a488bb067"},
	11: {"5de6e878512bb67b", "9561dc03e3d5a3d9"},
}

func TestReleasedMigrationsAreUnchanged(t *testing.T) {
	for _, m := range All() {
		want, ok := released[m.Version]
		if !ok {
			continue
		}
		single, cluster := m.Checksum(Target{Database: "cdp"}), m.Checksum(Target{Database: "cdp", Cluster: "c"})
		if single != want[0] || cluster != want[1] {
			t.Errorf("migration %d %s: checksum %s/%s, released %s/%s: a released migration was edited", m.Version, m.Name, single, cluster, want[0], want[1])
		}
	}
}
