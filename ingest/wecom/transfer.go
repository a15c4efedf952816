package wecom

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"
)

// Paths of the customer-transfer APIs: on-the-job inheritance (在职继承,
// document/path/92125) and departed staff's (离职继承, 94081, 94082).
const (
	PathTransferCustomer         = "/cgi-bin/externalcontact/transfer_customer"
	PathTransferResult           = "/cgi-bin/externalcontact/transfer_result"
	PathResignedTransferCustomer = "/cgi-bin/externalcontact/resigned/transfer_customer"
	PathResignedTransferResult   = "/cgi-bin/externalcontact/resigned/transfer_result"
)

// Limits of the transfer APIs.
const (
	// MaxTransferCustomers is the most customers one transfer call hands
	// over (external_userid 每次最多100个).
	MaxTransferCustomers = 100
	// MaxTransferMsgChars is the most characters of an on-the-job
	// transfer's message to the customers (transfer_success_msg, 200).
	MaxTransferMsgChars = 200
)

// TransferKind tells on-the-job inheritance from a departed staff
// member's.
type TransferKind string

// The two kinds of transfer.
const (
	TransferOnJob    TransferKind = "on_job"
	TransferResigned TransferKind = "resigned"
)

// Transfer hands customers from one staff member to another.
type Transfer struct {
	Kind           TransferKind
	HandoverUserID string
	TakeoverUserID string
	// ExternalUserIDs are 1 to MaxTransferCustomers customers.
	ExternalUserIDs []string
	// Message is shown to the customers of an on-the-job transfer (at most
	// MaxTransferMsgChars); "" takes WeCom's default. Not for resigned.
	Message string
}

// Validate checks WeCom's limits before a call is made.
func (t Transfer) Validate() error {
	switch {
	case t.Kind != TransferOnJob && t.Kind != TransferResigned:
		return fmt.Errorf("%w: kind %q (on_job or resigned)", ErrBadField, t.Kind)
	case t.HandoverUserID == "":
		return fmt.Errorf("%w: handover_userid", ErrMissingField)
	case t.TakeoverUserID == "":
		return fmt.Errorf("%w: takeover_userid", ErrMissingField)
	case t.HandoverUserID == t.TakeoverUserID:
		return fmt.Errorf("%w: takeover_userid is the handover_userid", ErrBadField)
	case len(t.ExternalUserIDs) == 0:
		return fmt.Errorf("%w: external_userid", ErrMissingField)
	case len(t.ExternalUserIDs) > MaxTransferCustomers:
		return fmt.Errorf("%w: %d customers, at most %d per transfer", ErrOverLimit, len(t.ExternalUserIDs), MaxTransferCustomers)
	case t.Kind == TransferResigned && t.Message != "":
		return fmt.Errorf("%w: a resigned transfer takes no message", ErrBadField)
	case utf8.RuneCountInString(t.Message) > MaxTransferMsgChars:
		return fmt.Errorf("%w: message over %d characters", ErrOverLimit, MaxTransferMsgChars)
	}
	for i, id := range t.ExternalUserIDs {
		if id == "" {
			return fmt.Errorf("%w: external_userid[%d]", ErrMissingField, i)
		}
	}
	return nil
}

// TransferCustomers asks WeCom to hand t's customers over
// (transfer_customer or resigned/transfer_customer) and returns each
// customer's errcode (0: accepted; WeCom then waits for the customer, 24
// hours, before the takeover). A repeated call for a customer already
// waiting is refused for that customer only.
func (c *Client) TransferCustomers(ctx context.Context, t Transfer) (map[string]int, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	req := map[string]any{
		"handover_userid": t.HandoverUserID, "takeover_userid": t.TakeoverUserID, "external_userid": t.ExternalUserIDs,
	}
	path := PathResignedTransferCustomer
	if t.Kind == TransferOnJob {
		path = PathTransferCustomer
		if t.Message != "" {
			req["transfer_success_msg"] = t.Message
		}
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("wecom: transfer_customer: %w", err)
	}
	var resp struct {
		status
		Customer []struct {
			ExternalUserID string `json:"external_userid"`
			ErrCode        int    `json:"errcode"`
		} `json:"customer"`
	}
	if err := c.callWith(ctx, http.MethodPost, path, nil, body, nil, &resp); err != nil {
		return nil, err
	}
	out := make(map[string]int, len(resp.Customer))
	for _, cu := range resp.Customer {
		out[cu.ExternalUserID] = cu.ErrCode
	}
	return out, nil
}

// TransferStatus is WeCom's state of one customer's transfer.
type TransferStatus struct {
	ExternalUserID string
	// Status is 1 taken over, 2 waiting, 3 refused by the customer, 4 the
	// takeover staff member's customer limit reached, 5 no such transfer.
	Status int
	// TakeoverTime is when it was taken over, or when it will be while
	// waiting; zero when refused.
	TakeoverTime time.Time
}

// TransferResults returns the state of every customer handed from
// handover to takeover (transfer_result or resigned/transfer_result,
// following next_cursor).
func (c *Client) TransferResults(ctx context.Context, kind TransferKind, handover, takeover string) ([]TransferStatus, error) {
	if handover == "" || takeover == "" {
		return nil, fmt.Errorf("%w: handover_userid and takeover_userid", ErrMissingField)
	}
	path := PathResignedTransferResult
	if kind == TransferOnJob {
		path = PathTransferResult
	}
	var out []TransferStatus
	cursor := ""
	for {
		body, _ := json.Marshal(map[string]string{"handover_userid": handover, "takeover_userid": takeover, "cursor": cursor})
		var resp struct {
			status
			Customer []struct {
				ExternalUserID string `json:"external_userid"`
				Status         int    `json:"status"`
				TakeoverTime   int64  `json:"takeover_time"`
			} `json:"customer"`
			NextCursor string `json:"next_cursor"`
		}
		if err := c.callWith(ctx, http.MethodPost, path, nil, body, nil, &resp); err != nil {
			return nil, err
		}
		for _, cu := range resp.Customer {
			st := TransferStatus{ExternalUserID: cu.ExternalUserID, Status: cu.Status}
			if cu.TakeoverTime > 0 {
				st.TakeoverTime = time.Unix(cu.TakeoverTime, 0).UTC()
			}
			out = append(out, st)
		}
		if resp.NextCursor == "" || resp.NextCursor == cursor {
			return out, nil
		}
		cursor = resp.NextCursor
	}
}
