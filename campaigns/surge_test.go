package campaigns

import (
	"errors"
	"testing"
)

// TestDemandSurgeCampaignsAreValidated: a demand-surge campaign needs its
// segment and a class; a surge filter on another trigger is refused; the
// filter selects by class, then province and city when set; the region
// of a surge is its city, else its province, else everyone.
func TestDemandSurgeCampaignsAreValidated(t *testing.T) {
	base := Campaign{Name: "surge", OfferID: "off_1", SegmentID: "seg_1", Channel: "outbox", Template: "{{offer}}", Trigger: TriggerDemandSurge}
	for _, tc := range []struct {
		field string
		edit  func(*Campaign)
	}{
		{"surge.class", func(c *Campaign) {}},
		{"surge.class", func(c *Campaign) { c.Surge = &SurgeFilter{Class: "  ", City: "成都"} }},
		{"surge.city", func(c *Campaign) { c.Surge = &SurgeFilter{Class: "菜籽油", City: string(make([]rune, 65))} }},
		{"segment_id", func(c *Campaign) { c.Surge = &SurgeFilter{Class: "菜籽油"}; c.SegmentID = "" }},
		{"surge", func(c *Campaign) { c.Surge = &SurgeFilter{Class: "菜籽油"}; c.Trigger = TriggerSegmentEntry }},
		{"", func(c *Campaign) { c.Surge = &SurgeFilter{Class: " 菜籽油 ", Province: "四川"} }},
	} {
		c := base
		tc.edit(&c)
		err := c.validate(noChannels)
		var fe *FieldError
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("valid campaign refused: %v", err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Field != tc.field):
			t.Errorf("want a refusal naming %s, got %v", tc.field, err)
		case tc.field == "" && c.Surge.Class != "菜籽油":
			t.Errorf("class not trimmed: %q", c.Surge.Class)
		}
	}
	f := SurgeFilter{Class: "高油酸花生油", Province: "四川"}
	for s, want := range map[Surge]bool{
		{Class: "高油酸花生油", Province: "四川", City: "成都"}: true,
		{Class: "高油酸花生油", Province: "四川"}:             true,
		{Class: "高油酸花生油", Province: "北京", City: "北京"}: false,
		{Class: "菜籽油", Province: "四川", City: "成都"}:    false,
		{Class: "高油酸花生油"}:                             false,
	} {
		if f.Matches(s) != want {
			t.Errorf("%+v matches %+v: %v, want %v", f, s, !want, want)
		}
	}
	for s, want := range map[Surge]string{
		{City: "成都", Province: "四川"}: `city == "成都"`, {Province: "四川"}: `province == "四川"`, {}: "",
	} {
		if got := s.RegionRule(); got != want {
			t.Errorf("region of %+v: %q, want %q", s, got, want)
		}
	}
}
