package wecomtest

import (
	"encoding/json"
	"fmt"
	"time"
)

// checkContent returns the errcode and errmsg refusing a task's text and
// attachments, or 0.
func checkContent(text string, attachments []json.RawMessage) (int, string) {
	switch {
	case text == "" && len(attachments) == 0:
		return errEmptyContent, "text content and attachments empty"
	case len(text) > MaxTextBytes:
		return errInvalidParam, fmt.Sprintf("text content exceed max size %d bytes", MaxTextBytes)
	case len(attachments) > MaxAttachments:
		return errInvalidParam, fmt.Sprintf("attachments exceed max size %d", MaxAttachments)
	}
	for _, a := range attachments {
		if code, msg := checkAttachment(a); code != 0 {
			return code, msg
		}
	}
	return 0, ""
}

// deliver settles one recipient (a customer, or a group) of a confirmed
// task: StatusNotFriend when it cannot be reached, StatusCapped when it
// already received DailyCap mass messages on day, else StatusSent,
// counted in Received. The caller holds s.mu.
func (s *Server) deliver(t *Task, id string, reachable bool, day string, now time.Time) {
	switch {
	case !reachable:
		t.Status[id] = StatusNotFriend
	case s.receivedOn(id, day) >= s.mass.dailyCap:
		t.Status[id] = StatusCapped
	default:
		t.Status[id] = StatusSent
		t.SendTime[id] = now
		s.mass.received[id] = append(s.mass.received[id], now)
	}
}
