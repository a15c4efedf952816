package store_test

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/granarycdp/cdp/store"
)

func TestEngineUsersXMLKeepsOnlyAHashOfThePasswordAndGrantsOnlyItsDatabases(t *testing.T) {
	out, err := store.EngineUsersXML("platform password 1", store.BIUser{Name: "bi", Password: "correct horse battery", Databases: []string{"bi_cdp", "bi_test_*"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal([]byte(out), new(struct{})); err != nil {
		t.Fatalf("not XML: %v\n%s", err, out)
	}
	for _, want := range []string{
		// sha256("correct horse battery")
		"<password_sha256_hex>9028ea0d15decaa35b2da21c0290af3b1a5ba0a30a591906f89b5074e209ea72</password_sha256_hex>",
		"<query>GRANT SELECT ON `bi_cdp`.*</query>", "<query>GRANT SELECT ON bi_test_*.*</query>",
		"<readonly>1</readonly>", "<max_execution_time>60</max_execution_time>", "<max_result_rows>100000</max_result_rows>",
		"<queries>3600</queries>", "<execution_time>3600</execution_time>",
		"<max_execution_time><max>60</max><changeable_in_readonly/></max_execution_time>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
	if strings.Contains(out, "correct horse") {
		t.Error("the password itself is in the configuration")
	}
	if strings.Count(userXML(t, out, "bi"), "GRANT") != 4 { // two databases and information_schema in both spellings
		t.Errorf("unexpected grants in\n%s", out)
	}
}

// userXML is one user's element of a users configuration.
func userXML(t *testing.T, out, name string) string {
	t.Helper()
	start := strings.Index(out, "    <"+name+">\n      <password")
	if start < 0 {
		t.Fatalf("no user %s in\n%s", name, out)
	}
	end := strings.Index(out[start:], "    </"+name+">\n")
	if end < 0 {
		t.Fatalf("user %s not closed in\n%s", name, out)
	}
	return out[start : start+end]
}

// TestEngineUsersXMLLeavesDefaultOnlyItsStartupQuery: the built-in user
// may only open the listeners, once; the platform's user has a password
// (stored hashed) and no right to files, URLs, other servers or the
// engine's administration.
func TestEngineUsersXMLLeavesDefaultOnlyItsStartupQuery(t *testing.T) {
	out, err := store.EngineUsersXML("platform password 1", store.BIUser{})
	if err != nil {
		t.Fatal(err)
	}
	if err := xml.Unmarshal([]byte(out), new(struct{})); err != nil {
		t.Fatalf("not XML: %v\n%s", err, out)
	}
	def := userXML(t, out, "default")
	for _, want := range []string{"<query>GRANT SYSTEM LISTEN ON *.*</query>", "<profile>listen_only</profile>", "<quota>listen_once</quota>"} {
		if !strings.Contains(def, want) {
			t.Errorf("default lacks %s:\n%s", want, def)
		}
	}
	if strings.Count(def, "GRANT") != 1 {
		t.Errorf("default has more grants:\n%s", def)
	}
	for _, want := range []string{"<queries>1</queries>", "<max_ast_elements>1</max_ast_elements>", "<max_ast_elements><const/></max_ast_elements>"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
	platform := userXML(t, out, store.PlatformUser)
	if strings.Contains(out, "platform password 1") || !strings.Contains(platform, "<password_sha256_hex>") {
		t.Errorf("the platform's password is not (only) hashed:\n%s", platform)
	}
	for _, right := range []string{"ALL", "FILE", "URL", "SOURCES", "REMOTE", "SYSTEM", "DICTIONARY", "ACCESS", "TEMPORARY", "NAMED COLLECTION"} {
		if strings.Contains(platform, " "+right+" ") || strings.Contains(platform, " "+right+",") {
			t.Errorf("the platform's user has %s:\n%s", right, platform)
		}
	}
	if strings.Contains(out, "<bi>") {
		t.Errorf("a BI user without a name:\n%s", out)
	}
	if _, err := store.EngineUsersXML("short", store.BIUser{}); err == nil {
		t.Error("a short platform password was accepted")
	}
}

func TestBIUserValidation(t *testing.T) {
	for _, u := range []store.BIUser{
		{Name: "default", Password: "long enough password", Databases: []string{"bi_cdp"}},
		{Name: "bi;drop", Password: "long enough password", Databases: []string{"bi_cdp"}},
		{Name: "bi", Password: "short", Databases: []string{"bi_cdp"}},
		{Name: "bi", Password: "long enough password"},
		{Name: "bi", Password: "long enough password", Databases: []string{"bi`.*, *.*"}},
		{Name: store.PlatformUser, Password: "long enough password", Databases: []string{"bi_cdp"}},
	} {
		if _, err := store.EngineUsersXML("platform password 1", u); err == nil {
			t.Errorf("%+v accepted", u)
		}
	}
}
