package schema

// wecomTagSteps (migration 15) keep the customer tags read from WeCom and
// the record of the tags the platform writes back (wecomops): the corp tag
// library, the tags observed on each (staff member, customer) pair, the
// segment → corp tag syncs and, per pair, what the platform added or
// removed. WeCom sends no callback for API changes, so wecom_tag_marks is
// the only evidence of which tags are the platform's to remove.
var wecomTagSteps = []Step{
	CreateTable{
		Name:    "wecom_corp_tags",
		Comment: "The WeCom corp tag library (get_corp_tag_list); the latest row per tag wins.",
		Columns: []Column{
			{Name: "tag_id", Type: "String"},
			{Name: "tag_name", Type: "String"},
			{Name: "group_id", Type: "String"},
			{Name: "group_name", Type: "String"},
			{Name: "deleted", Type: "UInt8", Comment: "1 once the library no longer lists it"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')", Comment: "When the library was read"},
		},
		Engine:  "ReplacingMergeTree(ts)",
		OrderBy: "tag_id",
	},
	CreateTable{
		Name:    "wecom_customer_tags",
		Comment: "Tags seen on a (staff member, customer) pair in externalcontact/get; the latest row per pair and tag wins.",
		Columns: []Column{
			{Name: "external_userid", Type: "String"},
			{Name: "staff_userid", Type: "LowCardinality(String)"},
			{Name: "tag_id", Type: "String"},
			{Name: "tag_name", Type: "String"},
			{Name: "tag_type", Type: "UInt8", Comment: "1 corp tag, 2 personal tag, 3 rule-group tag"},
			{Name: "present", Type: "UInt8", Comment: "0 once a later read no longer shows it"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')", Comment: "When it was read"},
		},
		Engine:  "ReplacingMergeTree(ts)",
		OrderBy: "(external_userid, staff_userid, tag_id)",
	},
	CreateTable{
		Name:    "wecom_tag_syncs",
		Comment: "Segments synced to a WeCom corp tag; every change is a new row, the latest updated_at wins.",
		Columns: []Column{
			{Name: "sync_id", Type: "String"},
			{Name: "segment_id", Type: "String"},
			{Name: "tag_id", Type: "String", Comment: "The corp tag written (one sync per tag)"},
			{Name: "tag_name", Type: "String"},
			{Name: "status", Type: "LowCardinality(String)", Comment: "active, stopped (stopping removes what the sync added)"},
			{Name: "updated_at", Type: "DateTime64(3, 'UTC')"},
			{Name: "by", Type: "String", Comment: "API token id of who made the change"},
		},
		Engine:  "ReplacingMergeTree(updated_at)",
		OrderBy: "sync_id",
	},
	CreateTable{
		Name:    "wecom_tag_marks",
		Comment: "What the platform wrote with mark_tag, per corp tag and (staff member, customer) pair; the latest row wins. adding/removing are written before the call, added/removed after it.",
		Columns: []Column{
			{Name: "tag_id", Type: "String"},
			{Name: "external_userid", Type: "String"},
			{Name: "staff_userid", Type: "LowCardinality(String)"},
			{Name: "sync_id", Type: "String"},
			{Name: "person_id", Type: "UInt32", Comment: "The OneID the pair was tagged for"},
			{Name: "state", Type: "LowCardinality(String)", Comment: "adding, added, removing, removed, manual (a staff member's own tag: never touched)"},
			{Name: "entered_at", Type: "DateTime64(3, 'UTC')", Comment: "When the person's entry (or exit) that asked for this write was seen"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
		},
		Engine:  "ReplacingMergeTree(ts)",
		OrderBy: "(tag_id, external_userid, staff_userid)",
	},
	CreateTable{
		Name:    "wecom_ops_cursors",
		Comment: "How far each wecomops loop has read its input (e.g. the spool_seq of wecom_contact_events); the latest row per name wins.",
		Columns: []Column{
			{Name: "name", Type: "String"},
			{Name: "position", Type: "UInt64"},
			{Name: "ts", Type: "DateTime64(3, 'UTC')"},
		},
		Engine:  "ReplacingMergeTree(ts)",
		OrderBy: "name",
	},
}
