package api_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/granarycdp/cdp/api"
)

// TestPhonesMaskedForEveryRoleAndRevealedOnlyAudited: the profile shows a
// phone masked even to an admin; an admin who states a reason gets it in
// full from reveal-phone, and the audit log records who, why and the
// masked number, never the number itself.
func TestPhonesMaskedForEveryRoleAndRevealedOnlyAudited(t *testing.T) {
	f := newIngestFixture(t, 0)
	f.ingestAll([]string{
		`{"type":"identify","messageId":"r1","userId":"reveal-user","traits":{"phone":"13912345678","name":"钱女士"}}`,
		`{"type":"identify","messageId":"r2","userId":"reveal-user","traits":{"phone":"+86 139 8765 4321"}}`,
	}, nil)
	pr := f.profileOf("user_id", "reveal-user")
	var mk struct{ Secret string }
	f.do("POST", "/api/v1/tokens", adminToken, map[string]string{"name": "客服", "role": "marketer"}, &mk)
	for _, tok := range []string{adminToken, mk.Secret} {
		rec := f.do("GET", fmt.Sprintf("/api/v1/profiles/%d", pr.PersonID), tok, nil, nil)
		if rec.Code != 200 || strings.Contains(rec.Body.String(), "12345678") || strings.Contains(rec.Body.String(), "87654321") ||
			!strings.Contains(rec.Body.String(), "*******5678") {
			t.Fatalf("profile: %d %s; want phones masked", rec.Code, rec.Body)
		}
	}
	path := fmt.Sprintf("/api/v1/profiles/%d/reveal-phone", pr.PersonID)
	var e api.Error
	if rec := f.do("POST", path, adminToken, map[string]string{}, &e); rec.Code != 400 || e.Field != "reason" {
		t.Fatalf("reveal without a reason: %d %+v", rec.Code, e)
	}
	if rec := f.do("POST", path, mk.Secret, map[string]string{"reason": "客户要求回电"}, &e); rec.Code != 403 {
		t.Fatalf("marketer reveal: %d", rec.Code)
	}
	var got struct {
		PersonID uint32   `json:"person_id"`
		Phones   []string `json:"phones"`
	}
	rec := f.do("POST", path, adminToken, map[string]string{"reason": "客户要求回电 #4711"}, &got)
	slices.Sort(got.Phones)
	if rec.Code != 200 || got.PersonID != pr.PersonID || len(got.Phones) != 2 || got.Phones[0] != "+8613912345678" || got.Phones[1] != "+8613987654321" {
		t.Fatalf("reveal: %d %s", rec.Code, rec.Body)
	}
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("reveal answer cacheable: %q", rec.Header().Get("Cache-Control"))
	}
	var audit struct{ Items []api.AuditEntry }
	f.do("GET", "/api/v1/admin/audit?action=person.reveal_phone", adminToken, nil, &audit)
	if len(audit.Items) != 1 || audit.Items[0].Actor != "tok_bootstrap" || audit.Items[0].ObjectID != fmt.Sprint(pr.PersonID) ||
		!strings.Contains(string(audit.Items[0].Detail), "客户要求回电 #4711") || !strings.Contains(string(audit.Items[0].Detail), "*******5678") {
		t.Fatalf("audit of the reveal: %+v", audit.Items)
	}
	var leaked uint64
	f.db.Conn.QueryRow(context.Background(), "SELECT count() FROM "+f.db.Table("audit_log")+" WHERE position(detail, '12345678') > 0 OR position(detail, '87654321') > 0").Scan(&leaked)
	if leaked != 0 {
		t.Fatal("the audit log holds a full phone number")
	}
	if rec := f.do("POST", "/api/v1/profiles/999999/reveal-phone", adminToken, map[string]string{"reason": "check"}, &e); rec.Code != 404 {
		t.Fatalf("unknown person: %d", rec.Code)
	}
}
