package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/demand"
)

// demandRoutes are the demand series and alerts (any role) and the
// demand dictionary (read by any role, replaced by an admin).
func (s *Server) demandRoutes(v1 *gin.RouterGroup) {
	s.demand = demand.New(s.db, nil)
	v1.GET("/demand/terms", s.demandTerms)
	v1.PUT("/demand/terms", requireRole(RoleAdmin), s.setDemandTerms)
	v1.POST("/demand/series", s.rateLimit("estimate"), s.demandSeries)
	v1.GET("/demand/alerts", s.demandAlerts)
	v1.GET("/demand/forecast", s.rateLimit("estimate"), s.demandForecast)
	v1.GET("/demand/regressors", s.demandRegressors)
	v1.POST("/demand/regressors", requireRole(RoleAdmin), s.importDemandRegressors)
}

// DemandRegressors are the loaded external regressors of the forecast,
// and after an import how many values it wrote.
type DemandRegressors struct {
	Imported   int                       `json:"imported,omitempty"`
	Regressors []demand.RegressorSummary `json:"regressors"`
}

func (s *Server) demandRegressors(c *gin.Context) {
	sums, err := s.demand.RegressorSummaries(c.Request.Context())
	if s.answerDemandErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, DemandRegressors{Regressors: sums})
}

// importDemandRegressors takes a regressor CSV (demand.ParseRegressorCSV)
// as the body or the file part of a multipart upload, as the imports do;
// the whole file is checked before anything is written (400 naming the
// line and column), then written in one insert.
func (s *Server) importDemandRegressors(c *gin.Context) {
	up, ok := readUpload(c)
	if !ok {
		return
	}
	values, err := demand.ParseRegressorCSV(up.file)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		uploadError(c, err)
		return
	}
	if s.answerDemandErr(c, err) {
		return
	}
	if s.answerDemandErr(c, s.demand.ImportRegressors(c.Request.Context(), values, principal(c).ID)) {
		return
	}
	names := map[string]int{}
	for _, v := range values {
		names[v.Name]++
	}
	s.audit(c, "import", "demand_regressors", "", names)
	sums, err := s.demand.RegressorSummaries(c.Request.Context())
	if s.answerDemandErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, DemandRegressors{Imported: len(values), Regressors: sums})
}

// DemandTerms is the demand dictionary, read or replaced whole.
type DemandTerms struct {
	Terms []demand.Term `json:"terms"`
}

// DemandSeries is one demand series' points.
type DemandSeries struct {
	Points []demand.Point `json:"points"`
}

// DemandAlerts are recorded surge alerts, latest first.
type DemandAlerts struct {
	Alerts []demand.Alert `json:"alerts"`
}

func (s *Server) demandTerms(c *gin.Context) {
	terms, err := s.demand.Terms(c.Request.Context())
	if s.answerDemandErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, DemandTerms{Terms: nonNil(terms)})
}

func (s *Server) setDemandTerms(c *gin.Context) {
	var in DemandTerms
	if !bindJSON(c, &in) {
		return
	}
	if s.answerDemandErr(c, s.demand.SetTerms(c.Request.Context(), in.Terms)) {
		return
	}
	s.demandTerms(c)
}

func (s *Server) demandSeries(c *gin.Context) {
	var q demand.SeriesQuery
	if !bindJSON(c, &q) {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.opts.AnalyticsTimeout)
	defer cancel()
	points, err := s.demand.Series(ctx, q)
	if s.answerDemandErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, DemandSeries{Points: nonNil(points)})
}

// demandAlerts answers the alerts of the last ?days (1-90, default 7), at
// most ?limit (1-1000, default 200).
func (s *Server) demandAlerts(c *gin.Context) {
	days, limit := 7, 200
	for _, p := range []struct {
		name     string
		v        *int
		min, max int
	}{{"days", &days, 1, 90}, {"limit", &limit, 1, 1000}} {
		if raw := c.Query(p.name); raw != "" {
			n, err := strconv.Atoi(raw)
			if err != nil || n < p.min || n > p.max {
				fail(c, http.StatusBadRequest, CodeInvalid, p.name+" must be a whole number from "+strconv.Itoa(p.min)+" to "+strconv.Itoa(p.max), p.name)
				return
			}
			*p.v = n
		}
	}
	alerts, err := s.demand.Alerts(c.Request.Context(), time.Now().AddDate(0, 0, -days), limit)
	if s.answerDemandErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, DemandAlerts{Alerts: alerts})
}

// DemandForecasts are 14-day forecasts of units ordered.
type DemandForecasts struct {
	Forecasts []demand.Forecast `json:"forecasts"`
}

// demandForecast answers the forecasts from today of every class and
// region of ?level (city, the default; province; nation), narrowed by
// ?class, ?province and ?city: the pull API of replenishment systems.
func (s *Server) demandForecast(c *gin.Context) {
	level := c.DefaultQuery("level", demand.LevelCity)
	if level != demand.LevelCity && level != demand.LevelProvince && level != demand.LevelNation {
		fail(c, http.StatusBadRequest, CodeInvalid, "must be city, province or nation", "level")
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), s.opts.AnalyticsTimeout)
	defer cancel()
	all, err := s.demand.ForecastAt(ctx, time.Now(), demand.DefaultDetectOptions())
	if s.answerDemandErr(c, err) {
		return
	}
	out := []demand.Forecast{}
	for _, f := range all {
		if f.Key.Level() == level && match(c.Query("class"), f.Key.Class) && match(c.Query("province"), f.Key.Province) && match(c.Query("city"), f.Key.City) {
			out = append(out, f)
		}
	}
	c.JSON(http.StatusOK, DemandForecasts{Forecasts: out})
}

// match: an empty filter matches anything.
func match(filter, v string) bool { return filter == "" || filter == v }

// answerDemandErr answers a refused input (400 naming the field) or
// another error (500); it reports whether err was answered.
func (s *Server) answerDemandErr(c *gin.Context, err error) bool {
	var ie *demand.InvalidError
	switch {
	case err == nil:
		return false
	case errors.As(err, &ie):
		fail(c, http.StatusBadRequest, CodeInvalid, ie.Message, ie.Field)
	default:
		s.internal(c, err)
	}
	return true
}

func nonNil[T any](xs []T) []T {
	if xs == nil {
		return []T{}
	}
	return xs
}
