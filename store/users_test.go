package store_test

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/granarycdp/cdp/store"
)

func TestEngineUsersXMLKeepsOnlyAHashOfThePasswordAndGrantsOnlyItsDatabases(t *testing.T) {
	out, err := store.EngineUsersXML(store.BIUser{Name: "bi", Password: "correct horse battery", Databases: []string{"bi_cdp", "bi_test_*"}})
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
	if strings.Count(out, "GRANT") != 4 { // two databases and information_schema in both spellings
		t.Errorf("unexpected grants in\n%s", out)
	}
}

func TestBIUserValidation(t *testing.T) {
	for _, u := range []store.BIUser{
		{Name: "default", Password: "long enough password", Databases: []string{"bi_cdp"}},
		{Name: "bi;drop", Password: "long enough password", Databases: []string{"bi_cdp"}},
		{Name: "bi", Password: "short", Databases: []string{"bi_cdp"}},
		{Name: "bi", Password: "long enough password"},
		{Name: "bi", Password: "long enough password", Databases: []string{"bi`.*, *.*"}},
	} {
		if _, err := store.EngineUsersXML(u); err == nil {
			t.Errorf("%+v accepted", u)
		}
	}
}
