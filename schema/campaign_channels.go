package schema

// campaignChannelSteps (migration 7) journal the tasks campaign channels
// create — a WeCom add_msg_template task per staff member and chunk, a
// robot post, a webhook batch — so that a crash between the call and its
// record never sends twice, and link each send to its task.
var campaignChannelSteps = []Step{
	CreateTable{
		Name:    "campaign_tasks",
		Comment: "Channel tasks of campaigns, journalled before the call: sending (called or about to be), created (the channel answered), failed, done (every recipient's outcome known).",
		Columns: []Column{
			{Name: "campaign_id", Type: "String"},
			{Name: "task_id", Type: "String", Comment: "channel:target:first person id, unique within the campaign"},
			{Name: "channel", Type: "LowCardinality(String)", Comment: "wecom, robot, webhook"},
			{Name: "target", Type: "String", Comment: "The WeCom staff member (sender), robot or webhook name"},
			{Name: "recipients", Type: "UInt32", Comment: "Persons the task carries (0 for a group post)"},
			{Name: "text", Type: "String", Comment: "The exact text sent: how an unanswered WeCom call is found again in get_groupmsg_list_v2"},
			{Name: "state", Type: "LowCardinality(String)", Comment: "sending, created, failed, done"},
			{Name: "ref", Type: "String", Comment: "The channel's id of the task: WeCom msgid, webhook idempotency key"},
			{Name: "detail", Type: "String", Comment: "Error or outcome counts"},
			{Name: "attempt_at", Type: "DateTime64(3, 'UTC')", Comment: "When the call was (first) made"},
			{Name: "updated_at", Type: "DateTime64(3, 'UTC')"},
		},
		Engine:  "ReplacingMergeTree(updated_at)",
		OrderBy: "(campaign_id, task_id)",
	},
	AddColumn{Table: "campaign_sends", After: "detail", Column: Column{
		Name: "task", Type: "String", Comment: "The channel task that carries the send (campaign_tasks.task_id)",
	}},
}
