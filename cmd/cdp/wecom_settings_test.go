package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/ingest/wecom"
	"github.com/granarycdp/cdp/ingest/wecom/wecomtest"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/store/storetest"
)

// TestLossAlertSettings: a bad CDP_WECOM_LOSS_ROBOT or CDP_WECOM_MANAGERS
// refuses to start with an error naming the variable (and never showing
// the robot's key); good ones reach wecomops: a lost customer is posted
// to that robot, @-mentioning the staff member's manager.
func TestLossAlertSettings(t *testing.T) {
	fake := wecomtest.New("wwloss", "secret")
	t.Cleanup(fake.Close)
	fake.AddRobot("k1")
	robot := fake.URL + "/cgi-bin/webhook/send?key=k1"
	client, err := wecom.NewClient("wwloss", "secret", wecom.ClientOptions{BaseURL: fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	w := &ingest.WeCom{Client: client}
	for _, tc := range []struct{ robot, managers, want string }{
		{fake.URL + "/cgi-bin/webhook/send", "", "CDP_WECOM_LOSS_ROBOT"},
		{"http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k1", "", "CDP_WECOM_LOSS_ROBOT"},
		{robot, "zhangsan", "CDP_WECOM_MANAGERS"},
		{robot, "zhangsan=wangwu;zhangsan=zhaoliu", "CDP_WECOM_MANAGERS"},
		{robot, "zhang san=wangwu", "CDP_WECOM_MANAGERS"},
		{"", "zhangsan=wangwu", "CDP_WECOM_MANAGERS"},
	} {
		t.Setenv("CDP_WECOM_LOSS_ROBOT", tc.robot)
		t.Setenv("CDP_WECOM_MANAGERS", tc.managers)
		var c config
		if _, err := c.parse("serve", []string{"--allow-loopback-http"}, &bytes.Buffer{}); err != nil {
			t.Fatal(err)
		}
		_, err := newWeComOps(c, nil, w, nil, storetest.Logger())
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "key=k1") {
			t.Errorf("robot %q, managers %q: %v, want an error naming %s", tc.robot, tc.managers, err, tc.want)
		}
	}

	t.Setenv("CDP_WECOM_LOSS_ROBOT", robot)
	t.Setenv("CDP_WECOM_MANAGERS", "zhangsan=wangwu;*=zhaoliu")
	var c config
	if _, err := c.parse("serve", []string{"--allow-loopback-http"}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db := storetest.Migrated(t)
	segs, err := segments.NewStore(ctx, db, segments.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	ops, err := newWeComOps(c, db, w, segs, storetest.Logger())
	if err != nil {
		t.Fatal(err)
	}
	storetest.Insert(t, db, "events", "message_id, ts, event, properties, id_types, id_values, person_id, spool_seq",
		[]any{"lost-1", time.Now().UTC(), "contact_lost", `{"change_type":"del_follow_user","staff_userid":"zhangsan","by":"customer"}`,
			[]string{"wecom_external_userid"}, []string{"wmLOST"}, uint32(7), uint64(1)})
	if _, err := ops.AlertLosses(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := fake.RobotMessages("k1")
	if len(msgs) != 1 || strings.Join(msgs[0].MentionedList, ",") != "wangwu" {
		t.Fatalf("robot messages: %+v", msgs)
	}
}
