package schema

// wecomGroupSteps (migration 19) keep the WeCom customer groups (客户群)
// read by wecomops (groupchat/list, groupchat/get and the
// change_external_chat callbacks) with their members, and the record of
// the group mass messages (add_msg_template, chat_type group) a campaign
// sent: one row per (campaign task, group), written before the call and
// after it, which is also how the one-per-group-per-day limit is counted.
var wecomGroupSteps = []Step{
	CreateTable{
		Name:    "wecom_group_chats",
		Comment: "WeCom customer groups (groupchat/get); the latest read per group wins.",
		Columns: []Column{
			{Name: "chat_id", Type: "String"},
			{Name: "name", Type: "String", Comment: "The group's name; person tags wecom_group:<name>"},
			{Name: "owner", Type: "LowCardinality(String)", Comment: "The staff member who owns the group (群主): the sender of its mass messages"},
			{Name: "notice", Type: "String"},
			{Name: "created_at", Type: "DateTime64(3, 'UTC')", Comment: "When the group was created in WeCom"},
			{Name: "status", Type: "UInt8", Comment: "groupchat/list status: 0 owner normal, 1 owner resigned, 2 inheritance in progress, 3 inherited"},
			{Name: "members", Type: "UInt32", Comment: "Members at the read (staff and customers)"},
			{Name: "dismissed", Type: "UInt8", Comment: "1 once dismissed (callback) or no longer listed"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')", Comment: "When it was read"},
		},
		Engine:  "ReplacingMergeTree(ts)",
		OrderBy: "chat_id",
	},
	CreateTable{
		Name:    "wecom_group_members",
		Comment: "Members of WeCom customer groups per (group, member); the latest read wins, present = 0 once a read no longer shows them.",
		Columns: []Column{
			{Name: "chat_id", Type: "String"},
			{Name: "userid", Type: "String", Comment: "A staff userid (member_type 1) or a customer's external_userid (2)"},
			{Name: "member_type", Type: "UInt8", Comment: "1 staff member, 2 customer (external contact)"},
			{Name: "unionid", Type: "String", Comment: "The customer's WeChat unionid when WeCom gives it"},
			{Name: "join_time", Type: "DateTime64(3, 'UTC')"},
			{Name: "join_scene", Type: "UInt8", Comment: "1 invited directly, 2 invited by link, 3 scanned the group QR code"},
			{Name: "present", Type: "UInt8"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')", Comment: "When it was read"},
		},
		Engine:  "ReplacingMergeTree(ts)",
		OrderBy: "(chat_id, userid)",
	},
	CreateTable{
		Name:    "wecom_group_sends",
		Comment: "Group mass messages (add_msg_template chat_type group) per campaign task and group; the latest row wins. sending is written before the call.",
		Columns: []Column{
			{Name: "campaign_id", Type: "String"},
			{Name: "task_id", Type: "String"},
			{Name: "chat_id", Type: "String"},
			{Name: "owner", Type: "LowCardinality(String)", Comment: "The group owner the task went to"},
			{Name: "day", Type: "Date", Comment: "Beijing day of the attempt: WeCom's limit is one group mass message per group per day"},
			{Name: "state", Type: "LowCardinality(String)", Comment: "sending, sent (the owner's task created), delivered, not_sent, capped (WeCom's limit), skipped (our limit), failed"},
			{Name: "msgid", Type: "String"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
		},
		Engine:  "ReplacingMergeTree(ts)",
		OrderBy: "(campaign_id, task_id, chat_id)",
	},
}
