package identity

import "testing"

func TestMasksKeepAtMostTheLastFour(t *testing.T) {
	for _, tc := range []struct{ name, got, want string }{
		{"mainland E.164", MaskPhone("+8613812345678"), "*******5678"},
		{"earlier mask", MaskPhone("+86 138****5678"), "*******5678"},
		{"international", MaskPhone("+442071234567"), "+********4567"},
		{"too short", MaskPhone("+86123"), "***"},
		{"e-mail", MaskEmail("Sun.Li@Example.com"), "s***@example.com"},
		{"not an e-mail", MaskEmail("@example.com"), "***"},
		{"unionid", MaskID("oUnion0000abcd1234"), "****1234"},
		{"short id", MaskID("M-17"), "****"},
		{"analyst, member number", MaskValue(MemberNo, "M-20240001", MaskAll), "****0001"},
		{"marketer, member number", MaskValue(MemberNo, "M-20240001", ShowIDs), "M-20240001"},
		{"marketer, e-mail", MaskValue(Email, "a.b@qq.com", ShowIDs), "a***@qq.com"},
		{"marketer, phone", MaskValue(Phone, "+86 139****4321", ShowIDs), "*******4321"},
		{"phone hash", MaskValue(Phone, "h:6897da086f6c834349a05e85ddc6fdc2", ShowIDs), "***"},
		{"text", MaskPhonesInText("我的电话 13812345678，或 +86 139-8765-4321"), "我的电话 *******5678，或 *******4321"},
		{"text, adjacent", MaskPhonesInText("13812345678/13987654321"), "*******5678/*******4321"},
		{"text, order number", MaskPhonesInText("订单 2138123456789 已发货"), "订单 2138123456789 已发货"},
		{"text, none", MaskPhonesInText("低GI大米 5kg"), "低GI大米 5kg"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestPersonalTypes(t *testing.T) {
	for _, typ := range Types {
		want := typ != DeviceID && typ != AnonymousID
		if Personal(typ) != want {
			t.Errorf("Personal(%s) = %v", typ, !want)
		}
	}
	if Personal("ssn") {
		t.Error("an unknown type is personal")
	}
}

func TestTraitsMaskedAtEveryDepth(t *testing.T) {
	in := `{"name":"孙女士","phone":"+86 138****5678","email":"Sun.Li@Example.com","unionid":"oUnion0000abcd1234","age":61,` +
		`"address":{"tel":"13987654321","city":"上海"},"contacts":[{"mobile":13600001111},"备用 13700002222"],"note":"会员"}`
	for d, want := range map[Disclosure]string{
		MaskAll: `{"address":{"city":"上海","tel":"*******4321"},"age":61,"contacts":[{"mobile":"*******1111"},"备用 *******2222"],` +
			`"email":"s***@example.com","name":"孙女士","note":"会员","phone":"*******5678","unionid":"****1234"}`,
		ShowIDs: `{"address":{"city":"上海","tel":"*******4321"},"age":61,"contacts":[{"mobile":"*******1111"},"备用 *******2222"],` +
			`"email":"s***@example.com","name":"孙女士","note":"会员","phone":"*******5678","unionid":"oUnion0000abcd1234"}`,
	} {
		if got := string(maskTraits([]byte(in), d)); got != want {
			t.Errorf("disclosure %d:\n got %s\nwant %s", d, got, want)
		}
	}
	if got := string(maskTraits([]byte(`[1]`), MaskAll)); got != "{}" {
		t.Errorf("traits not an object: %s", got)
	}
}
