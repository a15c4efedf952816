package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/granarycdp/cdp/identity"
)

// TestWebhookRefusesPlainHTTP: webhook posts carry decrypted phones, robot
// URLs the robot's key, WeCom API calls the corp secret. A plain-http URL
// for any of them is refused at start with an error naming the setting;
// plain http to this machine (a test receiver) needs
// CDP_ALLOW_LOOPBACK_HTTP=true, and never reaches another host.
func TestWebhookRefusesPlainHTTP(t *testing.T) {
	prot, err := identity.NewProtector(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	const secret = "|whsec-0123456789abcdef"
	for _, tc := range []struct {
		name          string
		cfg           config
		allowLoopback bool
		wantErr       string // "" for accepted
	}{
		{"https webhook", config{Webhooks: "sms=https://sms.example.com/hook" + secret}, false, ""},
		{"http webhook", config{Webhooks: "sms=http://sms.example.com/hook" + secret}, false, "CDP_WEBHOOKS"},
		{"http webhook, loopback allowed", config{Webhooks: "sms=http://sms.example.com/hook" + secret}, true, "CDP_WEBHOOKS"},
		{"http webhook on a private address", config{Webhooks: "sms=http://10.0.0.5/hook" + secret}, true, "CDP_WEBHOOKS"},
		{"http loopback webhook", config{Webhooks: "sms=http://127.0.0.1:8099/hook" + secret}, false, "CDP_ALLOW_LOOPBACK_HTTP"},
		{"http loopback webhook, allowed", config{Webhooks: "sms=http://127.0.0.1:8099/hook" + secret}, true, ""},
		{"http localhost webhook, allowed", config{Webhooks: "sms=http://localhost:8099/hook" + secret}, true, ""},
		{"http ::1 webhook, allowed", config{Webhooks: "sms=http://[::1]:8099/hook" + secret}, true, ""},
		{"ftp webhook", config{Webhooks: "sms=ftp://127.0.0.1/hook" + secret}, true, "CDP_WEBHOOKS"},
		{"https robot", config{WeComRobots: "团购1群=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"}, false, ""},
		{"http robot", config{WeComRobots: "团购1群=http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1"}, false, "CDP_WECOM_ROBOTS"},
		{"http loopback robot, allowed", config{WeComRobots: "团购1群=http://127.0.0.1:9/cgi-bin/webhook/send?key=k1"}, true, ""},
		{"http WeCom API", config{WeComCorpID: "ww1", WeComSecret: "s", WeComAPIURL: "http://qyapi.weixin.qq.com"}, true, "CDP_WECOM_API_URL"},
		{"http loopback WeCom API", config{WeComCorpID: "ww1", WeComSecret: "s", WeComAPIURL: "http://127.0.0.1:9"}, false, "CDP_ALLOW_LOOPBACK_HTTP"},
		{"http loopback WeCom API, allowed", config{WeComCorpID: "ww1", WeComSecret: "s", WeComAPIURL: "http://127.0.0.1:9"}, true, ""},
	} {
		tc.cfg.AllowLoopbackHTTP = tc.allowLoopback
		if tc.cfg.WeComAPIURL == "" {
			tc.cfg.WeComAPIURL = "https://qyapi.weixin.qq.com"
		}
		_, err := campaignChannels(tc.cfg, nil, prot)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.name, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.wantErr)
		case err != nil && strings.Contains(err.Error(), "key=k1"):
			t.Errorf("%s: the error shows the robot's key: %v", tc.name, err)
		}
	}
}
