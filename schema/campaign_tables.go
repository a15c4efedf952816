package schema

// campaignTables are migration 5's: consents, offers, campaigns, their sends
// and the outbox.
var campaignTables = []Step{
	CreateTable{
		Name:    "consents",
		Comment: "Opt-outs per channel and separate consents for sensitive (health) targeting; the latest row per (person, channel, kind) wins.",
		Columns: []Column{
			{Name: "person_id", Type: "UInt32"},
			{Name: "channel", Type: "LowCardinality(String)", Comment: "wecom, sms, webhook, robot, or * for all"},
			{Name: "kind", Type: "LowCardinality(String)", Comment: "opt_out or sensitive_consent"},
			{Name: "granted", Type: "UInt8", Comment: "1: opted out / consent given; 0: withdrawn"},
			{Name: "source", Type: "LowCardinality(String)", Comment: "api, wecom_keyword, import"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
		},
		Engine:  "ReplacingMergeTree(ts)",
		OrderBy: "(kind, channel, person_id)",
	},
	CreateTable{
		Name:    "offers",
		Comment: "Offers (e.g. a low-GI rice trial pack); every edit is a new version.",
		Columns: []Column{
			{Name: "offer_id", Type: "String"},
			{Name: "version", Type: "UInt32"},
			{Name: "definition", Type: "String", Comment: "JSON: name, skus, categories, coupon codes, link, valid_from, valid_to"},
			{Name: "deleted", Type: "UInt8"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
		},
		Engine:  "ReplacingMergeTree(version)",
		OrderBy: "(offer_id, version)",
	},
	CreateTable{
		Name:    "campaigns",
		Comment: "Campaigns; every edit or state change is a new version.",
		Columns: []Column{
			{Name: "campaign_id", Type: "String"},
			{Name: "version", Type: "UInt32"},
			{Name: "definition", Type: "String", Comment: "JSON: name, offer, segment, channel, template, holdout, caps, quiet hours, schedule, send limit, attribution window"},
			{Name: "status", Type: "LowCardinality(String)", Comment: "draft, scheduled, running, finished, cancelled"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
			{Name: "by", Type: "String"},
		},
		Engine:  "ReplacingMergeTree(version)",
		OrderBy: "(campaign_id, version)",
	},
	CreateTable{
		Name:    "campaign_sends",
		Comment: "The send log: one row per (campaign, person), written as a plan before anything is sent; state moves planned -> sent -> delivered (or failed); excluded and holdout rows say why.",
		Columns: []Column{
			{Name: "campaign_id", Type: "String"},
			{Name: "person_id", Type: "UInt32"},
			{Name: "group", Type: "LowCardinality(String)", Comment: "treatment, holdout, excluded"},
			{Name: "reason", Type: "LowCardinality(String)", Comment: "Why excluded: opted_out, no_sensitive_consent, cap_reached, quiet_hours, no_channel_address, global_control, send_limit, suppressed"},
			{Name: "channel", Type: "LowCardinality(String)"},
			{Name: "address", Type: "String", Comment: "Where it goes: a WeCom external user id, a webhook target; never a phone number"},
			{Name: "sender", Type: "LowCardinality(String)", Comment: "The owning WeCom staff member"},
			{Name: "state", Type: "LowCardinality(String)", Comment: "planned, sent, delivered, failed, not_sent"},
			{Name: "detail", Type: "String"},
			{Name: "planned_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "updated_at", Type: "DateTime64(3, 'UTC')"},
		},
		Indexes: []string{"person_idx person_id TYPE bloom_filter GRANULARITY 4"},
		Engine:  "ReplacingMergeTree(updated_at)",
		OrderBy: "(campaign_id, person_id)",
	},
	CreateTable{
		Name:    "campaign_outbox",
		Comment: "Messages the outbox channel would send (demo and review); one row per (campaign, person).",
		Columns: []Column{
			{Name: "campaign_id", Type: "String"},
			{Name: "person_id", Type: "UInt32"},
			{Name: "address", Type: "String"},
			{Name: "message", Type: "String"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
		},
		Engine:  "ReplacingMergeTree(ts)",
		OrderBy: "(campaign_id, person_id)",
	},
}
