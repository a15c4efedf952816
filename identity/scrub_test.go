package identity

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestMaskMobilesFindsWholeTokenNumbersOnly(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// Mobile numbers in the forms people and SDKs write them.
		{"13812345678", "*******5678"},
		{"138 1234 5678", "*******5678"},
		{"138-1234-5678", "*******5678"},
		{"138.1234.5678", "*******5678"},
		{"138 - 1234 - 5678", "*******5678"},
		{"+86 138 1234 5678", "*******5678"},
		{"+8613812345678", "*******5678"},
		{"8613812345678", "*******5678"},
		{"0086-138-1234-5678", "*******5678"},
		{"(+86) 138-1234-5678", "(*******5678"},
		{"+86(138)1234-5678", "*******5678"},
		{"１３８１２３４５６７８", "*******5678"},
		{"１３８　１２３４　５６７８", "*******5678"},
		{"1 3 8 1 2 3 4 5 6 7 8", "*******5678"},
		{"电话13812345678，谢谢", "电话*******5678，谢谢"},
		{"我的手机是138 1234 5678。", "我的手机是*******5678。"},
		{"13812345678 / 13987654321", "*******5678 / *******4321"},
		{"13812345678.", "*******5678."},
		{"phone=13812345678&x=1", "phone=*******5678&x=1"},
		{"?tel=%2B86%20138%201234%205678", "?tel=*******5678"},
		{"tel_13812345678", "tel_*******5678"},
		{"房间 302 13812345678", "房间 302 *******5678"},
		{"房间 302 138 1234 5678", "房间 302 *******5678"},
		{"2026-11-20 13812345678", "2026-11-20 *******5678"},
		// Not mobile numbers: left alone.
		{"u13812345678", "u13812345678"},
		{"13812345678x", "13812345678x"},
		{"1732500000000", "1732500000000"},
		{"T202611201381234567890", "T202611201381234567890"},
		{"213812345678", "213812345678"},
		{"12812345678", "12812345678"},
		{"139.224.112.35", "139.224.112.35"},
		{"3.13812345678", "3.13812345678"},
		{"13812345678.5", "13812345678.5"},
		{"1381 2345 6789", "1381 2345 6789"},
		{"6222 0213 8123 4567 890", "6222 0213 8123 4567 890"},
		{"021-12345678", "021-12345678"},
		{"*******5678", "*******5678"},
		{"", ""},
	} {
		if got := MaskMobiles(tc.in); got != tc.want {
			t.Errorf("MaskMobiles(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func testProtector(t *testing.T) *Protector {
	p, err := NewProtector(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScrubTextWritesTheVaultTokenOnce(t *testing.T) {
	p := testProtector(t)
	var kept []Protected
	out := p.ScrubText("call 138-1234-5678 or 13812345678", func(pr Protected) { kept = append(kept, pr) })
	h := p.Hash("+8613812345678")
	tok := "[phone *******5678 " + h + "]"
	if out != "call "+tok+" or "+tok {
		t.Fatalf("scrubbed %q", out)
	}
	if len(kept) != 2 || kept[0].Hash != h || kept[0].Masked != "*******5678" {
		t.Fatalf("kept %+v", kept)
	}
	if plain, err := p.Decrypt(kept[0].Ciphertext); err != nil || plain != "+8613812345678" {
		t.Fatalf("vault ciphertext %q %v", plain, err)
	}
	if again := p.ScrubText(out, nil); again != out {
		t.Fatalf("a token is scrubbed again: %q", again)
	}
}

func TestScrubJSONReachesEveryStringKeyAndNumber(t *testing.T) {
	p := testProtector(t)
	in := `{"a":{"b":["x 138 1234 5678",13812345678]},"13987654321":"k","esc":"\u0031\u0033\u0038\u0031\u0032\u0033\u0034\u0035\u0036\u0037\u0038",` +
		`"nested":"{\"tel\":\"+86 139-8765-4321\"}","keep":{"order":"T2026112013800001111","ts":1732500000000,"p":1.5,"html":"<b>&</b>"}}`
	out := string(p.ScrubJSON([]byte(in), nil))
	for _, leak := range []string{"13812345678", "1234 5678", "13987654321", "8765-4321", `\u0031`} {
		if strings.Contains(out, leak) {
			t.Errorf("%q left in %s", leak, out)
		}
	}
	for _, kept := range []string{"T2026112013800001111", "1732500000000", "1.5", "<b>&</b>"} {
		if !strings.Contains(out, kept) {
			t.Errorf("%q changed in %s", kept, out)
		}
	}
	clean := `{"b":1, "c":"d"}`
	if got := string(p.ScrubJSON([]byte(clean), nil)); got != clean {
		t.Errorf("a document without numbers was rewritten: %s", got)
	}
}

func TestScrubPayloadMasksTheRestButKeepsTokens(t *testing.T) {
	p := testProtector(t)
	out := p.ScrubPayload(`{"phone":"13812345678 / 13987654321","id":"110101199003071234","esc":"\u00313812345678"}`)
	for _, leak := range []string{"13812345678", "13987654321", "199003071", `"110`} {
		if strings.Contains(out, leak) {
			t.Errorf("%q left in %s", leak, out)
		}
	}
	if !strings.Contains(out, p.Hash("+8613812345678")) || !strings.Contains(out, p.Hash("+8613987654321")) {
		t.Errorf("tokens lost: %s", out)
	}
}

// TestMaskDigitRunsKeepsAtMostTheLastFour: long digit runs that are not
// mobile numbers (ID card numbers, landlines) show their last four digits
// and nothing else, as every mask does; short runs stay.
func TestMaskDigitRunsKeepsAtMostTheLastFour(t *testing.T) {
	for in, want := range map[string]string{
		"110101199003071234":             "**************1234",
		"身份证 11010119900307123X":         "身份证 *************7123X",
		"tel 021-62345678, 0571 8765432": "tel 021-****5678, 0571 ***5432",
		"订单 123456 共 2 件":                "订单 123456 共 2 件",
	} {
		if got := MaskDigitRuns(in); got != want {
			t.Errorf("MaskDigitRuns(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLogLinesNeverCarryAMobileNumber(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		var b bytes.Buffer
		opts := &slog.HandlerOptions{ReplaceAttr: MaskLogAttr}
		h := slog.Handler(slog.NewTextHandler(&b, opts))
		if format == "json" {
			h = slog.NewJSONHandler(&b, opts)
		}
		log := slog.New(h)
		log.Warn("refused 13812345678", "phone", "138 1234 5678", "err", errors.New(`phone "+8613812345678" refused`),
			"n", 13812345678, "u", uint64(13812345678), "list", []string{"138-1234-5678"}, "ok", "order T2026112013800001111")
		log.With("path", "/v1/x/13812345678").WithGroup("g").Info("x", "v", "１３８１２３４５６７８")
		out := b.String()
		if strings.Count(out, "*******5678") != 8 || !strings.Contains(out, "T2026112013800001111") {
			t.Errorf("%s log: %s", format, out)
		}
		for _, leak := range []string{"13812345678", "1234 5678", "1234-5678", "１２３４"} {
			if strings.Contains(out, leak) {
				t.Errorf("%s log holds %q: %s", format, leak, out)
			}
		}
	}
}

// BenchmarkScrubJSON times the scrubber on a typical analytics.js context
// (about 600 bytes): without a number (the common case: one scan, no
// decoding) and with one in the page URL (decode, scrub, re-encode).
func BenchmarkScrubJSON(b *testing.B) {
	p, _ := NewProtector(bytes.Repeat([]byte{3}, 32))
	ctx := `{"library":{"name":"analytics.js","version":"4.1.0"},"page":{"path":"/p/low-gi-rice","referrer":"https://www.douyin.com/video/7301234567890123456",` +
		`"search":"?utm_source=douyin&utm_campaign=kt2026","title":"低GI大米 2.5kg","url":"https://shop.example.cn/p/low-gi-rice?utm_source=douyin&utm_campaign=kt2026"},` +
		`"userAgent":"Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.44",` +
		`"locale":"zh-CN","timezone":"Asia/Shanghai","ip":"139.224.112.35","campaign":{"source":"douyin","name":"kt2026","medium":"video"},` +
		`"screen":{"width":390,"height":844,"density":3},"traits":{"city":"上海","member_level":"gold"},"externalIds":[{"id":"dy_openid_1","type":"douyin_openid"}]}`
	for _, tc := range []struct{ name, doc string }{
		{"clean", ctx},
		{"phone", strings.Replace(ctx, "utm_campaign=kt2026\",\"title", "utm_campaign=kt2026&tel=13812345678\",\"title", 1)},
	} {
		b.Run(tc.name, func(b *testing.B) {
			raw := []byte(tc.doc)
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				p.ScrubJSON(raw, func(Protected) {})
			}
		})
	}
}

// TestFewPhoneDigitsNeverHidesAMobile checks the byte-level shortcut of
// findMobiles against the full scan: on every string the shortcut answers
// "no mobile", the scan must find none, and it must answer so for strings
// of fewer than 11 digits. The strings are the cases above, each cut one
// digit short, and digit runs of every length up to 13 mixed with
// full-width digits, full-width punctuation and separators.
func TestFewPhoneDigitsNeverHidesAMobile(t *testing.T) {
	inputs := []string{
		"13812345678", "１３８１２３４５６７８", "１３８　１２３４　５６７８", "电话13812345678，谢谢",
		"+86 138 1234 5678", "?tel=%2B86%20138%201234%205678", "1 3 8 1 2 3 4 5 6 7 8",
		`{"topic":"控糖","completion_ratio":0.93,"video_id":"v1"}`, "（１３８）１２３４－５６７８",
	}
	digits := []string{"1", "3", "8", "１", "３", "８"}
	fillers := []string{"", " ", "，", "－", "（", "a"}
	for n := 1; n <= 13; n++ {
		for f, filler := range fillers {
			var b strings.Builder
			b.WriteString("1")
			for k := 1; k < n; k++ {
				b.WriteString(filler)
				b.WriteString(digits[(k+f)%len(digits)])
			}
			inputs = append(inputs, b.String())
		}
	}
	var cut []string
	for _, s := range inputs {
		// The same string with its last ASCII or full-width digit dropped.
		if i := strings.LastIndexAny(s, "0123456789０１２３４５６７８９"); i >= 0 {
			_, w := utf8DecodeAt(s, i)
			cut = append(cut, s[:i]+s[i+w:])
		}
	}
	for _, s := range append(inputs, cut...) {
		few := fewPhoneDigits(s)
		if few != fewPhoneDigits([]byte(s)) {
			t.Errorf("fewPhoneDigits(%q) differs between string and []byte", s)
		}
		if few && len(scanMobiles(s)) > 0 {
			t.Errorf("fewPhoneDigits(%q) = true, but the scan finds %v", s, scanMobiles(s))
		}
		if n := countPhoneDigits(s); few != (n < minMobileDigits) {
			t.Errorf("fewPhoneDigits(%q) = %v with %d phone digits", s, few, n)
		}
	}
}

func utf8DecodeAt(s string, i int) (rune, int) {
	for w := 1; w <= 4 && i+w <= len(s); w++ {
		if r := []rune(s[i : i+w]); len(r) == 1 && r[0] != '\uFFFD' {
			return r[0], w
		}
	}
	return '\uFFFD', 1
}

func countPhoneDigits(s string) int {
	n := 0
	for _, r := range s {
		if isPhoneDigitRune(r) {
			n++
		}
	}
	return n
}
