package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/granarycdp/cdp/journeys"
)

// journeyRoutes are journeys: definitions and their versions, launch,
// pause and stop, moving runs between versions, split winners, results.
func (s *Server) journeyRoutes(v1 *gin.RouterGroup) {
	marketer := requireRole(RoleMarketer)
	v1.GET("/journeys", s.listJourneys)
	v1.POST("/journeys", marketer, s.saveJourney)
	v1.GET("/journeys/:id", s.getJourney)
	v1.PUT("/journeys/:id", marketer, s.saveJourney)
	v1.GET("/journeys/:id/versions", s.journeyVersions)
	v1.POST("/journeys/:id/launch", marketer, s.journeyStatus("launch"))
	v1.POST("/journeys/:id/pause", marketer, s.journeyStatus("pause"))
	v1.POST("/journeys/:id/stop", marketer, s.journeyStatus("stop"))
	v1.POST("/journeys/:id/migrate", marketer, s.migrateJourney)
	v1.POST("/journeys/:id/winner", marketer, s.journeyWinner)
	v1.GET("/journeys/:id/results", s.journeyResults)
	v1.GET("/profiles/:id/journeys", s.personJourneys)
}

// answerJourneyErr maps journey errors to HTTP (a definition problem is a
// 400 naming the node's field); it reports whether err was answered.
func (s *Server) answerJourneyErr(c *gin.Context, err error) bool {
	if errors.Is(err, journeys.ErrNotFound) {
		fail(c, http.StatusNotFound, CodeNotFound, "no such journey or version", "id")
		return true
	}
	return s.answerCampaignErr(c, err)
}

func (s *Server) listJourneys(c *gin.Context) {
	list, err := s.journeys.List(c.Request.Context())
	if s.answerJourneyErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
}

func (s *Server) saveJourney(c *gin.Context) {
	var d journeys.Definition
	if !bindJSON(c, &d) {
		return
	}
	id := c.Param("id")
	saved, err := s.journeys.Save(c.Request.Context(), id, d, principal(c).ID)
	if s.answerJourneyErr(c, err) {
		return
	}
	action, status := "journey.update", http.StatusOK
	if id == "" {
		action, status = "journey.create", http.StatusCreated
	}
	s.audit(c, action, "journey", saved.ID, gin.H{"version": saved.Version, "name": saved.Name})
	c.JSON(status, saved)
}

func (s *Server) getJourney(c *gin.Context) {
	j, err := s.journeys.Get(c.Request.Context(), c.Param("id"))
	if s.answerJourneyErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, j)
}

func (s *Server) journeyVersions(c *gin.Context) {
	list, err := s.journeys.Versions(c.Request.Context(), c.Param("id"))
	if s.answerJourneyErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
}

// journeyStatus launches, pauses or stops a journey.
func (s *Server) journeyStatus(action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		ctx, id, by := c.Request.Context(), c.Param("id"), principal(c).ID
		var j journeys.Journey
		var err error
		switch action {
		case "launch":
			j, err = s.journeys.Launch(ctx, id, by)
		case "pause":
			j, err = s.journeys.Pause(ctx, id, by)
		default:
			j, err = s.journeys.Stop(ctx, id, by)
		}
		if s.answerJourneyErr(c, err) {
			return
		}
		s.audit(c, "journey."+action, "journey", j.ID, gin.H{"version": j.Version, "status": j.Status})
		c.JSON(http.StatusOK, j)
	}
}

func (s *Server) migrateJourney(c *gin.Context) {
	var m journeys.Mapping
	if !bindJSON(c, &m) {
		return
	}
	moved, err := s.journeys.Migrate(c.Request.Context(), c.Param("id"), m, principal(c).ID)
	if s.answerJourneyErr(c, err) {
		return
	}
	s.audit(c, "journey.migrate", "journey", c.Param("id"), gin.H{"mapping": m, "moved": moved})
	c.JSON(http.StatusOK, gin.H{"moved": moved})
}

// winnerRequest names a split's winning arm.
type winnerRequest struct {
	Node string `json:"node"`
	Arm  string `json:"arm"`
}

func (s *Server) journeyWinner(c *gin.Context) {
	var req winnerRequest
	if !bindJSON(c, &req) {
		return
	}
	j, err := s.journeys.DeclareWinner(c.Request.Context(), c.Param("id"), req.Node, req.Arm, principal(c).ID)
	if s.answerJourneyErr(c, err) {
		return
	}
	s.audit(c, "journey.winner", "journey", j.ID, gin.H{"node": req.Node, "arm": req.Arm})
	c.JSON(http.StatusOK, j)
}

func (s *Server) journeyResults(c *gin.Context) {
	r, err := s.journeys.Results(c.Request.Context(), c.Param("id"))
	if s.answerJourneyErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, r)
}

// personJourneys lists a person's journey runs: where they are now, or
// how their runs ended.
func (s *Server) personJourneys(c *gin.Context) {
	p, ok := personParam(c)
	if !ok {
		return
	}
	list, err := s.journeys.PlacesOf(c.Request.Context(), p)
	if s.answerJourneyErr(c, err) {
		return
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
}
