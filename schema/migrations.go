package schema

// all is every released migration, in order. Append; never edit.
var all = []Migration{
	{Version: 1, Name: "credentials_and_audit", Steps: []Step{
		CreateTable{
			Name:    "api_tokens",
			Comment: "API tokens for the console and the management API. Only a SHA-256 of each token is stored.",
			Columns: []Column{
				{Name: "id", Type: "String", Comment: "Token id (public, shown in the console)"},
				{Name: "name", Type: "String", Comment: "What the token is for"},
				{Name: "role", Type: "LowCardinality(String)", Comment: "admin, marketer or analyst"},
				{Name: "token_hash", Type: "FixedString(64)", Comment: "Hex SHA-256 of the secret token"},
				{Name: "created_at", Type: "DateTime64(3, 'UTC')"},
				{Name: "created_by", Type: "String"},
				{Name: "revoked", Type: "UInt8", Comment: "1 once revoked"},
				{Name: "version", Type: "UInt64", Comment: "Row version (nanoseconds); the latest wins"},
			},
			Engine:  "ReplacingMergeTree(version)",
			OrderBy: "id",
		},
		CreateTable{
			Name:    "write_keys",
			Comment: "Ingest write keys, one or more per source. Only a SHA-256 of each key is stored.",
			Columns: []Column{
				{Name: "id", Type: "String"},
				{Name: "name", Type: "String"},
				{Name: "source", Type: "LowCardinality(String)", Comment: "The source the key writes as, e.g. douyin, tmall, pos"},
				{Name: "key_hash", Type: "FixedString(64)", Comment: "Hex SHA-256 of the secret key"},
				{Name: "created_at", Type: "DateTime64(3, 'UTC')"},
				{Name: "created_by", Type: "String"},
				{Name: "revoked", Type: "UInt8"},
				{Name: "version", Type: "UInt64"},
			},
			Engine:  "ReplacingMergeTree(version)",
			OrderBy: "id",
		},
		CreateTable{
			Name:    "audit_log",
			Comment: "Management actions: who changed which segment, who launched which campaign.",
			Columns: []Column{
				{Name: "ts", Type: "DateTime64(3, 'UTC')"},
				{Name: "actor", Type: "String", Comment: "Token id of the caller"},
				{Name: "action", Type: "LowCardinality(String)"},
				{Name: "object_type", Type: "LowCardinality(String)"},
				{Name: "object_id", Type: "String"},
				{Name: "detail", Type: "String", Comment: "JSON"},
			},
			Engine:      "MergeTree",
			PartitionBy: "toYYYYMM(ts)",
			OrderBy:     "(ts, object_type, object_id)",
		},
	}},
}
