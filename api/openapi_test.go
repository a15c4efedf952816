package api

// openapi.json is checked against the Go types here: every route the
// server registers has a row in apiRoutes saying which handler serves it,
// what it binds and what it renders; the document's request and response
// schemas must have exactly the JSON fields and types those Go types have.
// After changing a type, `go test ./api -run TestOpenAPI -update-openapi`
// rewrites the typed parts of openapi.json (descriptions, enums and other
// annotations are kept); then `cd web/console && npm run api-types`
// regenerates the console's TypeScript types from it.

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/granarycdp/cdp/analytics"
	"github.com/granarycdp/cdp/campaigns"
	"github.com/granarycdp/cdp/demand"
	"github.com/granarycdp/cdp/identity"
	"github.com/granarycdp/cdp/ingest"
	"github.com/granarycdp/cdp/journeys"
	"github.com/granarycdp/cdp/segments"
	"github.com/granarycdp/cdp/sidebar"
	"github.com/granarycdp/cdp/wecomops"
)

var updateOpenAPI = flag.Bool("update-openapi", false, "rewrite the typed schemas of api/openapi.json from the Go types")

// apiRoute is one route of the server and the Go types of its bodies.
type apiRoute struct {
	method, path string // as registered with gin (":id")
	handler      string // the Server method (or function) that serves it
	// req is what the handler decodes with bindJSON; nil when it binds
	// no JSON body.
	req reflect.Type
	// raw, when req is nil, is the media type of a body another package
	// parses (ingest): its schema is written by hand and must be typed.
	raw    string
	status int          // the success status
	resp   reflect.Type // what c.JSON renders on success; nil: no JSON answer
	// ginH: the handler renders resp as a gin.H literal, mirrored by a
	// type below; the literal's keys are checked against it.
	ginH bool
}

func typ[T any]() reflect.Type { return reflect.TypeFor[T]() }

// apiRoutes is the one table from route to Go types. When a handler moves
// or renders another type, change its row here.
var apiRoutes = []apiRoute{
	{method: "GET", path: "/healthz", handler: "healthz", status: 200, resp: typ[Health]()},
	{method: "GET", path: "/metrics", handler: "metrics", status: 200},
	{method: "GET", path: "/api/openapi.json", handler: "New", status: 200},

	// Ingest (write keys): the bodies are parsed by package ingest.
	{method: "POST", path: "/v1/track", handler: "segment", raw: "application/json", status: 200, resp: typ[ingestAnswer]()},
	{method: "POST", path: "/v1/identify", handler: "segment", raw: "application/json", status: 200, resp: typ[ingestAnswer]()},
	{method: "POST", path: "/v1/page", handler: "segment", raw: "application/json", status: 200, resp: typ[ingestAnswer]()},
	{method: "POST", path: "/v1/screen", handler: "segment", raw: "application/json", status: 200, resp: typ[ingestAnswer]()},
	{method: "POST", path: "/v1/group", handler: "segment", raw: "application/json", status: 200, resp: typ[ingestAnswer]()},
	{method: "POST", path: "/v1/alias", handler: "segment", raw: "application/json", status: 200, resp: typ[ingestAnswer]()},
	{method: "POST", path: "/v1/batch", handler: "segment", raw: "application/json", status: 200, resp: typ[ingestAnswer]()},
	{method: "POST", path: "/v1/orders", handler: "orders", raw: "application/json", status: 200, resp: typ[ingestAnswer]()},
	{method: "POST", path: "/v1/import/events", handler: "importFile", raw: "text/csv", status: 200, resp: typ[ImportAnswer]()},
	{method: "POST", path: "/v1/import/orders", handler: "importFile", raw: "text/csv", status: 200, resp: typ[ImportAnswer]()},
	{method: "POST", path: "/v1/import/wecom-archive", handler: "importFile", raw: "application/x-ndjson", status: 200, resp: typ[ImportAnswer]()},
	{method: "POST", path: "/v1/import/preview", handler: "importPreview", raw: "text/csv", status: 200, resp: typ[ingest.Preview]()},
	{method: "GET", path: "/wecom/callback", handler: "wecomVerify", status: 200},
	{method: "POST", path: "/wecom/callback", handler: "wecomCallback", raw: "text/xml", status: 200},

	{method: "GET", path: "/api/v1/whoami", handler: "whoami", status: 200, resp: typ[Principal]()},

	// Identity.
	{method: "GET", path: "/api/v1/profiles/lookup", handler: "profileLookup", status: 200, resp: typ[profileAnswer]()},
	{method: "GET", path: "/api/v1/profiles/:id", handler: "profile", status: 200, resp: typ[profileAnswer]()},
	{method: "GET", path: "/api/v1/profiles/:id/merges", handler: "personMerges", status: 200, resp: typ[mergesAnswer](), ginH: true},
	{method: "GET", path: "/api/v1/identity/rules", handler: "identityRules", status: 200, resp: typ[identityRulesAnswer](), ginH: true},
	{method: "POST", path: "/api/v1/merges/:id/unmerge", handler: "unmerge", status: 200, resp: typ[identity.UnmergeResult]()},
	{method: "DELETE", path: "/api/v1/profiles/:id", handler: "erase", status: 200, resp: typ[erasedAnswer](), ginH: true},
	{method: "POST", path: "/api/v1/profiles/:id/reveal-phone", handler: "revealPhone", req: typ[revealRequest](), status: 200, resp: typ[revealAnswer](), ginH: true},

	// Segments.
	{method: "POST", path: "/api/v1/segments/estimate", handler: "estimate", req: typ[estimateRequest](), status: 200, resp: typ[segments.Estimate]()},
	{method: "POST", path: "/api/v1/segments/overlap", handler: "overlap", req: typ[overlapRequest](), status: 200, resp: typ[segments.Overlap]()},
	{method: "GET", path: "/api/v1/segments", handler: "listSegments", status: 200, resp: typ[itemsOf[segments.Definition]](), ginH: true},
	{method: "POST", path: "/api/v1/segments", handler: "saveSegment", req: typ[segmentRequest](), status: 201, resp: typ[segments.Definition]()},
	{method: "GET", path: "/api/v1/segments/:id", handler: "getSegment", status: 200, resp: typ[segments.Definition]()},
	{method: "PUT", path: "/api/v1/segments/:id", handler: "saveSegment", req: typ[segmentRequest](), status: 200, resp: typ[segments.Definition]()},
	{method: "DELETE", path: "/api/v1/segments/:id", handler: "deleteSegment", status: 204},
	{method: "GET", path: "/api/v1/segments/:id/versions", handler: "segmentVersions", status: 200, resp: typ[itemsOf[segments.Definition]](), ginH: true},
	{method: "GET", path: "/api/v1/segments/:id/members", handler: "segmentMembers", status: 200, resp: typ[membersAnswer](), ginH: true},
	{method: "POST", path: "/api/v1/segments/:id/recompute", handler: "recomputeSegment", status: 200, resp: typ[segments.Definition]()},

	// Campaigns.
	{method: "GET", path: "/api/v1/offers", handler: "listOffers", status: 200, resp: typ[itemsOf[campaigns.Offer]](), ginH: true},
	{method: "POST", path: "/api/v1/offers", handler: "saveOffer", req: typ[campaigns.Offer](), status: 200, resp: typ[campaigns.Offer]()},
	{method: "PUT", path: "/api/v1/offers/:id", handler: "saveOffer", req: typ[campaigns.Offer](), status: 200, resp: typ[campaigns.Offer]()},
	{method: "GET", path: "/api/v1/campaigns", handler: "listCampaigns", status: 200, resp: typ[itemsOf[campaigns.Campaign]](), ginH: true},
	{method: "POST", path: "/api/v1/campaigns", handler: "saveCampaign", req: typ[campaigns.Campaign](), status: 200, resp: typ[campaigns.Campaign]()},
	{method: "GET", path: "/api/v1/campaigns/:id", handler: "getCampaign", status: 200, resp: typ[campaigns.Campaign]()},
	{method: "PUT", path: "/api/v1/campaigns/:id", handler: "saveCampaign", req: typ[campaigns.Campaign](), status: 200, resp: typ[campaigns.Campaign]()},
	{method: "POST", path: "/api/v1/campaigns/:id/preview", handler: "previewCampaign", status: 200, resp: typ[previewAnswer](), ginH: true},
	{method: "POST", path: "/api/v1/campaigns/:id/launch", handler: "launchCampaign", status: 200, resp: typ[launchAnswer](), ginH: true},
	{method: "GET", path: "/api/v1/campaigns/:id/results", handler: "campaignResults", status: 200, resp: typ[campaigns.Uplift]()},
	{method: "GET", path: "/api/v1/campaigns/:id/tasks", handler: "campaignTasks", status: 200, resp: typ[itemsOf[campaigns.Task]](), ginH: true},
	{method: "GET", path: "/api/v1/campaigns/:id/group-sends", handler: "campaignGroupSends", status: 200, resp: typ[itemsOf[campaigns.GroupSend]](), ginH: true},
	{method: "PUT", path: "/api/v1/profiles/:id/consent", handler: "setConsent", req: typ[consentRequest](), status: 204},

	// Journeys.
	{method: "GET", path: "/api/v1/journeys", handler: "listJourneys", status: 200, resp: typ[itemsOf[journeys.Journey]](), ginH: true},
	{method: "POST", path: "/api/v1/journeys", handler: "saveJourney", req: typ[journeys.Definition](), status: 201, resp: typ[journeys.Journey]()},
	{method: "GET", path: "/api/v1/journeys/:id", handler: "getJourney", status: 200, resp: typ[journeys.Journey]()},
	{method: "PUT", path: "/api/v1/journeys/:id", handler: "saveJourney", req: typ[journeys.Definition](), status: 200, resp: typ[journeys.Journey]()},
	{method: "GET", path: "/api/v1/journeys/:id/versions", handler: "journeyVersions", status: 200, resp: typ[itemsOf[journeys.Version]](), ginH: true},
	{method: "POST", path: "/api/v1/journeys/:id/launch", handler: "journeyStatus", status: 200, resp: typ[journeys.Journey]()},
	{method: "POST", path: "/api/v1/journeys/:id/pause", handler: "journeyStatus", status: 200, resp: typ[journeys.Journey]()},
	{method: "POST", path: "/api/v1/journeys/:id/stop", handler: "journeyStatus", status: 200, resp: typ[journeys.Journey]()},
	{method: "POST", path: "/api/v1/journeys/:id/migrate", handler: "migrateJourney", req: typ[journeys.Mapping](), status: 200, resp: typ[migrateAnswer](), ginH: true},
	{method: "POST", path: "/api/v1/journeys/:id/winner", handler: "journeyWinner", req: typ[winnerRequest](), status: 200, resp: typ[journeys.Journey]()},
	{method: "GET", path: "/api/v1/wecom/tags", handler: "listWeComTags", status: 200, resp: typ[itemsOf[wecomops.LibraryTag]](), ginH: true},
	{method: "GET", path: "/api/v1/wecom/groups", handler: "listWeComGroups", status: 200, resp: typ[itemsOf[wecomops.Group]](), ginH: true},
	{method: "GET", path: "/api/v1/wecom/tag-syncs", handler: "listTagSyncs", status: 200, resp: typ[itemsOf[wecomops.SyncReport]](), ginH: true},
	{method: "POST", path: "/api/v1/wecom/tag-syncs", handler: "createTagSync", req: typ[TagSyncRequest](), status: 201, resp: typ[wecomops.TagSync]()},
	{method: "GET", path: "/api/v1/wecom/tag-syncs/:id", handler: "getTagSync", status: 200, resp: typ[wecomops.TagSync]()},
	{method: "POST", path: "/api/v1/wecom/tag-syncs/:id/stop", handler: "stopTagSync", status: 200, resp: typ[wecomops.TagSync]()},
	{method: "GET", path: "/api/v1/wecom/contact-ways", handler: "listContactWays", status: 200, resp: typ[itemsOf[wecomops.ContactWay]](), ginH: true},
	{method: "POST", path: "/api/v1/wecom/contact-ways", handler: "createContactWay", req: typ[wecomops.ContactWayInput](), status: 201, resp: typ[wecomops.ContactWay]()},
	{method: "GET", path: "/api/v1/wecom/contact-ways/:state", handler: "getContactWay", status: 200, resp: typ[wecomops.ContactWay]()},
	{method: "PUT", path: "/api/v1/wecom/contact-ways/:state", handler: "updateContactWay", req: typ[wecomops.ContactWayInput](), status: 200, resp: typ[wecomops.ContactWay]()},
	{method: "DELETE", path: "/api/v1/wecom/contact-ways/:state", handler: "deleteContactWay", status: 200, resp: typ[wecomops.ContactWay]()},
	{method: "GET", path: "/api/v1/wecom/contact-ways/:state/qr.png", handler: "contactWayQR", status: 200},
	{method: "GET", path: "/api/v1/wecom/welcomes", handler: "listWelcomes", status: 200, resp: typ[itemsOf[wecomops.Welcome]](), ginH: true},
	{method: "PUT", path: "/api/v1/wecom/welcomes/:state", handler: "setWelcome", req: typ[WelcomeRequest](), status: 200, resp: typ[wecomops.Welcome]()},
	{method: "DELETE", path: "/api/v1/wecom/welcomes/:state", handler: "deleteWelcome", status: 204},
	{method: "GET", path: "/api/v1/wecom/welcome-journal", handler: "welcomeJournal", status: 200, resp: typ[itemsOf[wecomops.WelcomeEntry]](), ginH: true},
	{method: "GET", path: "/api/v1/wecom/lost-customers", handler: "lostCustomers", status: 200, resp: typ[itemsOf[wecomops.LostCustomer]](), ginH: true},
	{method: "GET", path: "/api/v1/wecom/transfers", handler: "listTransfers", status: 200, resp: typ[itemsOf[wecomops.CustomerTransfer]](), ginH: true},
	{method: "POST", path: "/api/v1/wecom/transfers", handler: "createTransfer", req: typ[TransferRequest](), status: 201, resp: typ[itemsOf[wecomops.CustomerTransfer]](), ginH: true},
	{method: "GET", path: "/api/v1/wecom/moments", handler: "listMoments", status: 200, resp: typ[itemsOf[wecomops.Moment]](), ginH: true},
	{method: "POST", path: "/api/v1/wecom/moments", handler: "createMoment", req: typ[wecomops.MomentInput](), status: 201, resp: typ[wecomops.Moment]()},
	{method: "GET", path: "/api/v1/wecom/moments/:id", handler: "getMoment", status: 200, resp: typ[wecomops.Moment]()},
	{method: "GET", path: "/api/v1/journeys/:id/results", handler: "journeyResults", status: 200, resp: typ[journeys.Results]()},
	{method: "GET", path: "/api/v1/profiles/:id/journeys", handler: "personJourneys", status: 200, resp: typ[itemsOf[journeys.Place]](), ginH: true},
	// Analytics.
	{method: "POST", path: "/api/v1/analytics/funnel", handler: "funnel", req: typ[analytics.Funnel](), status: 200, resp: typ[analytics.FunnelResult]()},
	{method: "POST", path: "/api/v1/analytics/funnel/segment", handler: "saveFunnelSegment", req: typ[FunnelSegmentRequest](), status: 201, resp: typ[segments.Definition]()},
	{method: "POST", path: "/api/v1/analytics/retention", handler: "retention", req: typ[analytics.Retention](), status: 200, resp: typ[analytics.CohortResult]()},
	{method: "POST", path: "/api/v1/analytics/repurchase", handler: "repurchase", req: typ[analytics.Repurchase](), status: 200, resp: typ[analytics.RepurchaseResult]()},
	{method: "POST", path: "/api/v1/analytics/ltv", handler: "ltv", req: typ[analytics.LTV](), status: 200, resp: typ[analytics.CohortResult]()},
	{method: "POST", path: "/api/v1/analytics/lifecycle", handler: "lifecycle", req: typ[analytics.Lifecycle](), status: 200, resp: typ[analytics.LifecycleResult]()},
	// Demand sensing.
	{method: "GET", path: "/api/v1/demand/terms", handler: "demandTerms", status: 200, resp: typ[DemandTerms]()},
	{method: "PUT", path: "/api/v1/demand/terms", handler: "setDemandTerms", req: typ[DemandTerms](), status: 200, resp: typ[DemandTerms]()},
	{method: "POST", path: "/api/v1/demand/series", handler: "demandSeries", req: typ[demand.SeriesQuery](), status: 200, resp: typ[DemandSeries]()},
	{method: "GET", path: "/api/v1/demand/alerts", handler: "demandAlerts", status: 200, resp: typ[DemandAlerts]()},
	{method: "GET", path: "/api/v1/demand/forecast", handler: "demandForecast", status: 200, resp: typ[DemandForecasts]()},
	{method: "GET", path: "/api/v1/demand/regressors", handler: "demandRegressors", status: 200, resp: typ[DemandRegressors]()},
	{method: "POST", path: "/api/v1/demand/regressors", handler: "importDemandRegressors", raw: "text/csv", status: 200, resp: typ[DemandRegressors]()},

	// The console's read models.
	{method: "GET", path: "/api/v1/overview", handler: "overview", status: 200, resp: typ[Overview]()},
	{method: "GET", path: "/api/v1/settings/wecom", handler: "weComSettings", status: 200, resp: typ[WeComSettings]()},
	{method: "GET", path: "/api/v1/settings/sensitive-tags", handler: "sensitiveTags", status: 200, resp: typ[sensitiveTagsAnswer](), ginH: true},
	{method: "POST", path: "/api/v1/profiles/summaries", handler: "personSummaries", req: typ[summariesRequest](), status: 200, resp: typ[itemsOf[*PersonSummary]](), ginH: true},
	{method: "GET", path: "/api/v1/campaigns/:id/results/daily", handler: "campaignResultsDaily", status: 200, resp: typ[campaigns.ResultsOverTime]()},
	{method: "GET", path: "/api/v1/settings/channels", handler: "channelSettings", status: 200, resp: typ[ChannelSettings]()},

	// Administration.
	{method: "GET", path: "/api/v1/tokens", handler: "listCredentials", status: 200, resp: typ[itemsOf[Principal]](), ginH: true},
	{method: "POST", path: "/api/v1/tokens", handler: "createToken", req: typ[createTokenRequest](), status: 201, resp: typ[createdCredential]()},
	{method: "DELETE", path: "/api/v1/tokens/:id", handler: "revokeCredential", status: 204},
	{method: "GET", path: "/api/v1/write-keys", handler: "listCredentials", status: 200, resp: typ[itemsOf[Principal]](), ginH: true},
	{method: "POST", path: "/api/v1/write-keys", handler: "createWriteKey", req: typ[createWriteKeyRequest](), status: 201, resp: typ[createdCredential]()},
	{method: "DELETE", path: "/api/v1/write-keys/:id", handler: "revokeCredential", status: 204},
	{method: "GET", path: "/api/v1/admin/audit", handler: "listAudit", status: 200, resp: typ[auditPage]()},

	{method: "POST", path: "/api/sidebar/session", handler: "openSidebarSession", req: typ[SidebarSessionRequest](), status: 201, resp: typ[sidebar.Session]()},
	{method: "POST", path: "/api/sidebar/signatures", handler: "sidebarSignatures", req: typ[SidebarSignRequest](), status: 200, resp: typ[sidebar.Signatures]()},
	{method: "GET", path: "/api/sidebar/customers/:external_userid", handler: "sidebarCard", status: 200, resp: typ[sidebar.Card]()},
}

// Answers the handlers write as gin.H literals. TestOpenAPIGinHAnswers
// checks each literal's keys against these; the field types are the
// types of the values the handlers put under those keys.
type (
	itemsOf[T any] struct {
		Items []T `json:"items"`
	}
	mergesAnswer struct {
		PersonID uint32           `json:"person_id"`
		Items    []identity.Merge `json:"items"`
	}
	identityRulesAnswer struct {
		Items       []identity.Rule `json:"items"`
		Persons     int             `json:"persons"`
		Identifiers int             `json:"identifiers"`
	}
	erasedAnswer struct {
		Erased []uint32 `json:"erased"`
	}
	revealAnswer struct {
		PersonID uint32   `json:"person_id"`
		Phones   []string `json:"phones"`
	}
	membersAnswer struct {
		Total  uint64   `json:"total"`
		Offset int      `json:"offset"`
		Items  []uint32 `json:"items"`
	}
	previewAnswer struct {
		Counts          map[string]int    `json:"counts"`
		Excluded        map[string]int    `json:"excluded"`
		HoldoutExcluded map[string]int    `json:"holdout_excluded"`
		Samples         []string          `json:"samples"`
		Sensitive       *segments.Finding `json:"sensitive"`
	}
	launchAnswer struct {
		Campaign        campaigns.Campaign `json:"campaign"`
		Counts          map[string]int     `json:"counts"`
		Excluded        map[string]int     `json:"excluded"`
		HoldoutExcluded map[string]int     `json:"holdout_excluded"`
	}
	migrateAnswer struct {
		Moved int `json:"moved"`
	}
	sensitiveTagsAnswer struct {
		Items       []SensitiveTag `json:"items"`
		ConsentKind string         `json:"consent_kind"`
	}
)

// componentNames names the components of types whose Go name is not the
// API's. Every other exported named struct type is a component under its
// own name; unexported ones (requests, gin.H mirrors) are written inline.
var componentNames = map[reflect.Type]string{
	typ[profileAnswer]():       "Profile",
	typ[createdCredential]():   "CreatedCredential",
	typ[ingestAnswer]():        "IngestResult",
	typ[ingest.Preview]():      "ImportPreview",
	typ[auditPage]():           "AuditPage",
	typ[segments.Definition](): "Segment",
	// The staff sidebar's types, apart from the console's.
	typ[sidebar.Session]():    "SidebarSession",
	typ[sidebar.Signatures](): "SidebarSignatures",
	typ[sidebar.Signed]():     "SidebarSigned",
	typ[sidebar.Card]():       "SidebarCard",
	typ[sidebar.Identifier](): "SidebarIdentifier",
	typ[sidebar.Prediction](): "SidebarPrediction",
	typ[sidebar.SegmentRef](): "SidebarSegment",
	typ[sidebar.Suggestion](): "SidebarOffer",
	// Journeys' types are named for what they are in a journey.
	typ[journeys.Definition]():     "JourneyDefinition",
	typ[journeys.Entry]():          "JourneyEntry",
	typ[journeys.Node]():           "JourneyNode",
	typ[journeys.Send]():           "JourneySend",
	typ[journeys.Wait]():           "JourneyWait",
	typ[journeys.WaitFor]():        "JourneyWaitFor",
	typ[journeys.Branch]():         "JourneyBranch",
	typ[journeys.Split]():          "JourneySplit",
	typ[journeys.SplitArm]():       "JourneySplitArm",
	typ[journeys.Schedule]():       "JourneySchedule",
	typ[journeys.Settings]():       "JourneySettings",
	typ[journeys.Version]():        "JourneyVersion",
	typ[journeys.Mapping]():        "JourneyMapping",
	typ[journeys.Results]():        "JourneyResults",
	typ[journeys.NodeCounts]():     "JourneyNodeCounts",
	typ[journeys.SplitResult]():    "JourneySplitResult",
	typ[journeys.EventFilter]():    "JourneyEventFilter",
	typ[journeys.OrderFilter]():    "JourneyOrderFilter",
	typ[journeys.PropertyFilter](): "JourneyPropertyFilter",
	typ[journeys.Place]():          "JourneyPlace",
}

// extraComponents are components no route renders on success: the error
// body every 4xx and 5xx answer has.
var extraComponents = []reflect.Type{typ[Error]()}

// handComponents are written by hand: the ingest request bodies, whose Go
// types are package ingest's own.
var handComponents = map[string]bool{"SegmentMessage": true, "SegmentBatch": true, "SegmentContext": true, "Order": true, "OrderLine": true, "OrderBatch": true}

const openAPIFile = "openapi.json"

// readOpenAPI reads openapi.json, as bytes and as an ordered document.
func readOpenAPI(t *testing.T) ([]byte, *obj) {
	t.Helper()
	raw, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := decodeOrdered(raw)
	if err != nil {
		t.Fatal(err)
	}
	return raw, doc
}

func TestOpenAPITypesMatchGo(t *testing.T) {
	raw, doc := readOpenAPI(t)
	g := newSchemaGen()
	var problems []string
	for _, r := range apiRoutes {
		op := doc.path("paths", openAPIPath(r.path), strings.ToLower(r.method))
		if op == nil {
			problems = append(problems, r.method+" "+r.path+": not in openapi.json")
			continue
		}
		problems = append(problems, checkRequest(g, op, r)...)
		problems = append(problems, checkResponse(g, op, r)...)
	}
	problems = append(problems, checkComponents(g, doc)...)
	if *updateOpenAPI {
		out := encodeOrdered(doc)
		if !bytes.Equal(out, raw) {
			if err := os.WriteFile(openAPIFile, out, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("rewrote %s; now run: cd web/console && npm run api-types", openAPIFile)
		}
		return
	}
	if len(problems) > 0 {
		t.Fatalf("openapi.json differs from the Go types (go test ./api -run TestOpenAPITypesMatchGo -update-openapi rewrites it):\n  %s",
			strings.Join(problems, "\n  "))
	}
}

// checkRequest compares (or, updating, rewrites) a route's request body.
func checkRequest(g *schemaGen, op *obj, r apiRoute) []string {
	where := r.method + " " + r.path + " request"
	body := op.obj("requestBody")
	switch {
	case r.req == nil && r.raw == "":
		if body != nil {
			return []string{where + ": documented, but the handler binds no body"}
		}
		return nil
	case body == nil:
		return []string{where + ": not documented"}
	case r.raw != "":
		var out []string
		for _, media := range body.obj("content").keys {
			s := body.obj("content").obj(media).obj("schema")
			if !typedSchema(s) {
				out = append(out, where+": "+media+" body has no typed schema")
			}
		}
		return out
	}
	media := body.obj("content").obj("application/json")
	if media == nil {
		return []string{where + ": no application/json body"}
	}
	return compareOrUpdate(g, media, where, g.schema(r.req, false))
}

// checkResponse compares (or rewrites) a route's success answer.
func checkResponse(g *schemaGen, op *obj, r apiRoute) []string {
	where := fmt.Sprintf("%s %s %d answer", r.method, r.path, r.status)
	res := op.obj("responses").obj(fmt.Sprint(r.status))
	if res == nil {
		return []string{where + ": not documented"}
	}
	media := res.obj("content").obj("application/json")
	if r.resp == nil {
		if media != nil {
			return []string{where + ": documented as JSON, but the handler renders none"}
		}
		return nil
	}
	if media == nil {
		if !*updateOpenAPI {
			return []string{where + ": no application/json schema"}
		}
		media = &obj{}
		res.obj("content", "create").set("application/json", media)
	}
	return compareOrUpdate(g, media, where, g.schema(r.resp, true))
}

// compareOrUpdate checks media's schema against want; updating, it
// replaces the schema by want with the old one's annotations.
func compareOrUpdate(g *schemaGen, media *obj, where string, want *obj) []string {
	have := media.obj("schema")
	if *updateOpenAPI {
		media.set("schema", annotate(want, have))
		return nil
	}
	if d := diffShape(shape(want), shape(have), ""); d != "" {
		return []string{where + ": " + d}
	}
	return nil
}

// checkComponents compares (or rewrites) components.schemas with the Go
// types the routes reached.
func checkComponents(g *schemaGen, doc *obj) []string {
	for _, t := range extraComponents {
		g.schema(t, true)
	}
	schemas := doc.obj("components").obj("schemas")
	var out []string
	for _, name := range g.order {
		want := g.components[name]
		have := schemas.obj(name)
		if *updateOpenAPI {
			schemas.set(name, annotate(want, have))
			continue
		}
		if have == nil {
			out = append(out, "components.schemas."+name+": missing")
			continue
		}
		if d := diffShape(shape(want), shape(have), ""); d != "" {
			out = append(out, "components.schemas."+name+": "+d)
		}
	}
	for _, name := range slices.Clone(schemas.keys) {
		if _, ok := g.components[name]; !ok && !handComponents[name] {
			if *updateOpenAPI {
				schemas.del(name)
				continue
			}
			out = append(out, "components.schemas."+name+": no Go type makes it (add it to componentNames or handComponents, or drop it)")
		}
	}
	return out
}

// TestOpenAPIRoutesTable keeps apiRoutes in step with the router and
// openapi.json: the same routes, each served by the handler its row names,
// and no operation documented that is not routed.
func TestOpenAPIRoutesTable(t *testing.T) {
	s := New(Options{Collector: &ingest.Collector{}, Identity: &identity.Service{}, Segments: &segments.Store{}, Campaigns: &campaigns.Service{}, Journeys: &journeys.Service{}, WeComOps: &wecomops.Service{}, Sidebar: &sidebar.Service{}})
	rows := map[string]apiRoute{}
	for _, r := range apiRoutes {
		k := r.method + " " + r.path
		if _, dup := rows[k]; dup {
			t.Errorf("apiRoutes: %s twice", k)
		}
		rows[k] = r
	}
	// A handler's name is its function's (api.(*Server).track-fm), or, for
	// a method value made inside a route group, the group's then the
	// method's (api.(*Server).adminRoutes.(*Server).listCredentials.func3):
	// the last (*Server) method named is the handler.
	fn := regexp.MustCompile(`^github\.com/granarycdp/cdp/api\.(?:.*\(\*Server\)\.)?(\w+)`)
	for _, ri := range s.Routes() {
		k := ri.Method + " " + ri.Path
		r, ok := rows[k]
		if !ok {
			t.Errorf("route %s has no row in apiRoutes", k)
			continue
		}
		delete(rows, k)
		m := fn.FindStringSubmatch(ri.Handler)
		if m == nil || m[1] != r.handler {
			t.Errorf("route %s is served by %s; its row says %s", k, ri.Handler, r.handler)
		}
	}
	for k := range rows {
		t.Errorf("apiRoutes row %s: no such route", k)
	}
	// And every operation openapi.json documents has a row.
	_, doc := readOpenAPI(t)
	documented := map[string]bool{}
	for _, r := range apiRoutes {
		documented[strings.ToLower(r.method)+" "+openAPIPath(r.path)] = true
	}
	paths := doc.obj("paths")
	for _, path := range paths.keys {
		for _, method := range paths.obj(path).keys {
			if !documented[method+" "+path] {
				t.Errorf("openapi.json documents %s %s, which no apiRoutes row (and no route) has", strings.ToUpper(method), path)
			}
		}
	}
}

// TestOpenAPIHandlersBindTheirRows reads the handlers' source: the value
// each passes to bindJSON is declared with its row's request type, and
// each gin.H it renders has exactly the keys of its row's mirror type.
func TestOpenAPIHandlersBindTheirRows(t *testing.T) {
	funcs := handlerSources(t)
	for _, r := range apiRoutes {
		where := r.method + " " + r.path + " (" + r.handler + ")"
		fd := funcs[r.handler]
		if fd == nil {
			t.Errorf("%s: no function %s in package api", where, r.handler)
			continue
		}
		bound := boundTypes(fd)
		switch {
		case r.req == nil && len(bound) > 0:
			t.Errorf("%s: binds %v; its row has no request type", where, bound)
		case r.req != nil && !slices.Equal(bound, []string{strings.TrimPrefix(r.req.String(), "api.")}):
			t.Errorf("%s: binds %v; its row says %s", where, bound, r.req)
		}
		lits := ginHAnswers(fd)
		if !r.ginH {
			if len(lits) > 0 {
				t.Errorf("%s: renders gin.H %v; its row names no mirror type (ginH)", where, lits)
			}
			continue
		}
		if len(lits) == 0 {
			t.Errorf("%s: its row says gin.H, but the handler renders none", where)
		}
		want := jsonFieldNames(r.resp)
		for _, keys := range lits {
			if !slices.Equal(keys, want) {
				t.Errorf("%s: renders gin.H with keys %v; its row's %s has %v", where, keys, r.resp, want)
			}
		}
	}
}

// handlerSources parses the package's non-test files: functions and
// Server methods by name.
func handlerSources(t *testing.T) map[string]*ast.FuncDecl {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string]*ast.FuncDecl{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				out[fd.Name.Name] = fd
			}
		}
	}
	return out
}

// boundTypes are the declared types of the variables fd passes to
// bindJSON, as written in the source (estimateRequest, campaigns.Offer).
func boundTypes(fd *ast.FuncDecl) []string {
	declared := map[string]string{}
	var out []string
	ast.Inspect(fd, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.ValueSpec:
			for _, name := range n.Names {
				if n.Type != nil {
					declared[name.Name] = exprString(n.Type)
				}
			}
		case *ast.CallExpr:
			if id, ok := n.Fun.(*ast.Ident); ok && id.Name == "bindJSON" && len(n.Args) == 2 {
				if u, ok := n.Args[1].(*ast.UnaryExpr); ok {
					if v, ok := u.X.(*ast.Ident); ok {
						out = append(out, declared[v.Name])
					}
				}
			}
		}
		return true
	})
	return out
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return exprString(e.X) + "." + e.Sel.Name
	case *ast.StarExpr:
		return "*" + exprString(e.X)
	}
	return fmt.Sprintf("%T", e)
}

// ginHAnswers are the sorted keys of each gin.H literal fd renders with
// c.JSON.
func ginHAnswers(fd *ast.FuncDecl) [][]string {
	var out [][]string
	ast.Inspect(fd, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) != 2 {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "JSON" {
			return true
		}
		lit, ok := call.Args[1].(*ast.CompositeLit)
		if !ok || exprString(lit.Type) != "gin.H" {
			return true
		}
		var keys []string
		for _, el := range lit.Elts {
			if kv, ok := el.(*ast.KeyValueExpr); ok {
				if k, ok := kv.Key.(*ast.BasicLit); ok {
					keys = append(keys, strings.Trim(k.Value, `"`))
				}
			}
		}
		sort.Strings(keys)
		out = append(out, keys)
		return true
	})
	return out
}

// jsonFieldNames are the sorted JSON names of a struct's fields.
func jsonFieldNames(t reflect.Type) []string {
	var out []string
	for _, f := range jsonFields(t) {
		out = append(out, f.name)
	}
	sort.Strings(out)
	return out
}

func openAPIPath(ginPath string) string {
	return regexp.MustCompile(`:(\w+)`).ReplaceAllString(ginPath, "{$1}")
}

// typedSchema tells whether a hand-written schema says more than "an
// object": a reference, properties, items or a scalar type.
func typedSchema(s *obj) bool {
	if s == nil {
		return false
	}
	if s.get("$ref") != nil || s.get("properties") != nil || s.get("items") != nil {
		return true
	}
	if alts, ok := s.get("oneOf").([]any); ok && len(alts) > 0 {
		for _, a := range alts {
			if o, ok := a.(*obj); !ok || !typedSchema(o) {
				return false
			}
		}
		return true
	}
	ty, _ := s.get("type").(string)
	return ty != "" && ty != "object"
}

// TestOpenAPIOrderedRoundTrip: reading and rewriting openapi.json without
// changes gives the same bytes, so -update-openapi changes only what the
// Go types changed.
func TestOpenAPIOrderedRoundTrip(t *testing.T) {
	raw, doc := readOpenAPI(t)
	if out := encodeOrdered(doc); !bytes.Equal(out, raw) {
		t.Fatal("openapi.json is not in the canonical form (two-space indent, one trailing newline): run go test ./api -run TestOpenAPITypesMatchGo -update-openapi")
	}
}
