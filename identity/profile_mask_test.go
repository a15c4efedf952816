package identity

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestNestedPhoneTraitTokenShowsItsMask: ingest masks only top-level phone
// keys; a nested one (traits.address.phone) is stored as the scrubber's
// token, which the profile must show as its mask, not as the tail of the
// keyed hash.
func TestNestedPhoneTraitTokenShowsItsMask(t *testing.T) {
	p, err := NewProtector(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	tok := p.ScrubText("13812345678", nil)
	tok2 := p.ScrubText("13987654321", nil)
	if !strings.HasPrefix(tok, tokenPrefix) {
		t.Fatalf("not a token: %q", tok)
	}
	in := `{"address":{"phone":"` + tok + `","city":"上海"},"contacts":[{"mobile":"` + tok2 + ` / 13700002222"}],"member_no":"` + tok + `","note":"备用 ` + tok2 + `"}`
	for d, want := range map[Disclosure]string{
		MaskAll: `{"address":{"city":"上海","phone":"*******5678"},"contacts":[{"mobile":"*******4321 / *******2222"}],"member_no":"****5678","note":"备用 *******4321"}`,
		ShowIDs: `{"address":{"city":"上海","phone":"*******5678"},"contacts":[{"mobile":"*******4321 / *******2222"}],"member_no":"*******5678","note":"备用 *******4321"}`,
	} {
		if got := string(maskTraits([]byte(in), d)); got != want {
			t.Errorf("disclosure %d:\n got %s\nwant %s", d, got, want)
		}
	}
}

// TestChatNumbersMaskedInProfile: numbers typed into a chat in any form
// the scrubber knows (full-width digits, URL-escaped separators, dots)
// are masked in the profile's chats and timeline, as tokens are; a match
// inside a longer run of digits (an order number) is left alone.
func TestChatNumbersMaskedInProfile(t *testing.T) {
	p, err := NewProtector(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	tok := p.ScrubText("13600001111", nil)
	cases := map[string]string{
		"电话 １３８１２３４５６７８ 谢谢":     "电话 *******5678 谢谢",
		"tel=138%201234%205678": "tel=*******5678",
		"139.8765.4321":         "*******4321",
		"加我 +86 137 0000 2222":  "加我 *******2222",
		"已存 " + tok:             "已存 *******1111",
		"订单 2138123456789 已发货":  "订单 2138123456789 已发货",
		"u13812345678 不是号码":     "u13812345678 不是号码",
	}
	pr := &Profile{}
	var inputs []string
	for in := range cases {
		inputs = append(inputs, in)
		pr.Chats = append(pr.Chats, ChatItem{From: "zhangsan", Content: in})
		pr.Timeline = append(pr.Timeline, TimelineItem{Kind: "chat", Title: "zhangsan", Detail: in})
	}
	if err := (&Service{}).maskProfile(context.Background(), pr, MaskAll); err != nil {
		t.Fatal(err)
	}
	for i, in := range inputs {
		if got, want := pr.Chats[i].Content, cases[in]; got != want {
			t.Errorf("chat %q shows %q, want %q", in, got, want)
		}
		if got, want := pr.Timeline[i].Detail, cases[in]; got != want {
			t.Errorf("timeline %q shows %q, want %q", in, got, want)
		}
	}
}
