package wecom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// PathSendWelcomeMsg is send_welcome_msg (document/path/92137, 92599).
const PathSendWelcomeMsg = "/cgi-bin/externalcontact/send_welcome_msg"

// WelcomeCodeTTL is how long an add event's WelcomeCode may be used:
// send_welcome_msg must be called within 20 s of the event, once.
const WelcomeCodeTTL = 20 * time.Second

// ErrCodeWelcomeCodeUsed is errcode 41051 (externaluser has started
// chatting): the code was used already, by this app or another one that
// received it first (document/path/92599). Sending again cannot succeed.
const ErrCodeWelcomeCodeUsed = 41051

// WelcomeMessage is what send_welcome_msg sends: a text (at most
// MaxMsgTemplateTextBytes) and at most MaxMsgTemplateAttachments
// attachments, not both empty. WeCom shows the text and each attachment
// as separate messages.
type WelcomeMessage struct {
	Text        string
	Attachments []Attachment
}

// Validate checks WeCom's limits; errors wrap ErrMissingField,
// ErrOverLimit, ErrBadField or ErrInvalidUTF8.
func (m WelcomeMessage) Validate() error { return validateContent(m.Text, m.Attachments) }

// SendWelcomeMsg sends m to the customer of an add_external_contact event
// with its WelcomeCode (send_welcome_msg). WeCom takes a code once and
// within WelcomeCodeTTL of the event: a used code answers
// ErrCodeWelcomeCodeUsed, so a repeated call never shows the customer a
// second welcome. Nothing is retried here.
func (c *Client) SendWelcomeMsg(ctx context.Context, welcomeCode string, m WelcomeMessage) error {
	if welcomeCode == "" {
		return fmt.Errorf("%w: welcome_code", ErrMissingField)
	}
	if err := m.Validate(); err != nil {
		return err
	}
	req := struct {
		WelcomeCode string           `json:"welcome_code"`
		Text        *textJSON        `json:"text,omitempty"`
		Attachments []attachmentJSON `json:"attachments,omitempty"`
	}{WelcomeCode: welcomeCode, Attachments: attachmentsJSON(m.Attachments)}
	if m.Text != "" {
		req.Text = &textJSON{Content: m.Text}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("wecom: send_welcome_msg: %w", err)
	}
	var resp status
	return c.callWith(ctx, http.MethodPost, PathSendWelcomeMsg, nil, body, nil, &resp)
}
