package schema

// consentEvidenceSteps (migration 8) keep with each consent change what
// PIPL's separate consent must be shown by: the evidence of a grant (the
// form, ticket or message it was given by), the reason an admin undid an
// opt-out, and who recorded it. Rows older than the migration read as
// empty texts.
var consentEvidenceSteps = []Step{
	AddColumn{Table: "consents", After: "source", Column: Column{
		Name: "evidence", Type: "String",
		Comment: "What shows the decision: a form or ticket number, a URL, the WeCom message id of the customer's 退订 or 订阅",
	}},
	AddColumn{Table: "consents", After: "evidence", Column: Column{
		Name: "reason", Type: "String", Comment: "Why an admin undid an opt-out",
	}},
	AddColumn{Table: "consents", After: "reason", Column: Column{
		Name: "actor", Type: "String", Comment: "API token id of who recorded it; empty when the platform did (chat keywords, demo, imports)",
	}},
}
