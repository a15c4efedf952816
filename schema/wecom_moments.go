package schema

// wecomMomentSteps (migration 20) keep the customer-moment tasks (客户朋友圈,
// add_moment_task) the platform created, journalled before WeCom is
// called, and what became of each: who of its senders published it, how
// many customers it was made visible to and how many it reached
// (wecomops, docs/wecom.md).
var wecomMomentSteps = []Step{
	CreateTable{
		Name:    "wecom_moments",
		Comment: "Customer-moment tasks (add_moment_task); every change is a new row, the latest ts wins. creating is written before each add_moment_task call, submitted with WeCom's jobid after it, created once the job gave a moment_id.",
		Columns: []Column{
			{Name: "id", Type: "String", Comment: "The platform's id of the task"},
			{Name: "text", Type: "String", Comment: "text.content (at most 2,000 characters, 4,000 bytes)"},
			{Name: "attachments", Type: "String", Comment: "The attachments as JSON: up to 9 images, one video or one link, by WeCom media id"},
			{Name: "senders", Type: "Array(String)", Comment: "The staff members asked to publish it (sender_list); empty: all in the app's visible range"},
			{Name: "tag_ids", Type: "Array(String)", Comment: "Corp tags whose customers see it (external_contact_list.tag_list); empty: every customer of the senders"},
			{Name: "status", Type: "LowCardinality(String)", Comment: "creating (a call may be under way or cut off), queued (WeCom refused for now: 45009 or busy), submitted (jobid known), created (moment_id known), failed"},
			{Name: "attempts", Type: "UInt16", Comment: "add_moment_task calls made (journalled before each)"},
			{Name: "jobid", Type: "String"},
			{Name: "moment_id", Type: "String"},
			{Name: "invalid_senders", Type: "Array(String)", Comment: "Senders WeCom could not use (invalid_sender_list)"},
			{Name: "invalid_tags", Type: "Array(String)", Comment: "Tags WeCom could not use (invalid_external_contact_list)"},
			{Name: "error", Type: "String"},
			{Name: "created_by", Type: "String", Comment: "API token id of who created it"},
			{Name: "created_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "attempt_at", Type: "DateTime64(3, 'UTC')", Comment: "When the latest add_moment_task call was journalled"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
		},
		Engine:  "ReplacingMergeTree(ts)",
		OrderBy: "id",
	},
	CreateTable{
		Name:    "wecom_moment_results",
		Comment: "What each sender did with a moment task, as last read (get_moment_task, get_moment_customer_list, get_moment_send_result); the latest ts wins.",
		Columns: []Column{
			{Name: "id", Type: "String", Comment: "The platform's id of the task"},
			{Name: "moment_id", Type: "String"},
			{Name: "sender", Type: "String", Comment: "The staff member's userid"},
			{Name: "published", Type: "UInt8", Comment: "1 once the sender published it (publish_status 1)"},
			{Name: "visible", Type: "UInt32", Comment: "Customers the sender made it visible to"},
			{Name: "reached", Type: "UInt32", Comment: "Customers it reached through the sender"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')", Comment: "When it was read"},
		},
		Engine:  "ReplacingMergeTree(ts)",
		OrderBy: "(id, sender)",
	},
}
