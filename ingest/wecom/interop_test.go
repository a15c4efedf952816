package wecom

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/xen0n/go-workwx"
)

type capturedMessages []*workwx.RxMessage

func (c *capturedMessages) OnIncomingMessage(m *workwx.RxMessage) error {
	*c = append(*c, m)
	return nil
}

// go-workwx is an independent implementation of the callback protocol: what
// EncryptedXML and Encrypt produce must pass its handler.
func TestGoWorkwxHandlerAcceptsOurPayloads(t *testing.T) {
	c := newTestCrypto(t)
	var got capturedMessages
	h, err := workwx.NewHTTPHandler(testToken, testKey, &got)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("URL verification", func(t *testing.T) {
		echo, sig, err := c.Encrypt([]byte("8394740196"), "1700000000", "abc")
		if err != nil {
			t.Fatal(err)
		}
		q := url.Values{"msg_signature": {sig}, "timestamp": {"1700000000"}, "nonce": {"abc"}, "echostr": {echo}}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/cb?"+q.Encode(), nil))
		if rec.Code != http.StatusOK || rec.Body.String() != "8394740196" {
			t.Fatalf("status %d body %q", rec.Code, rec.Body)
		}
	})

	t.Run("change_external_contact event", func(t *testing.T) {
		msg := []byte(addContactXML)
		body, sig, err := c.EncryptedXML(msg, "", "1700000001", "xyz")
		if err != nil {
			t.Fatal(err)
		}
		q := url.Values{"msg_signature": {sig}, "timestamp": {"1700000001"}, "nonce": {"xyz"}}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/cb?"+q.Encode(), bytes.NewReader(body)))
		if rec.Code != http.StatusOK || len(got) != 1 {
			t.Fatalf("status %d, %d messages", rec.Code, len(got))
		}
		ev, ok := got[0].EventAddExternalContact()
		if !ok || ev.GetUserID() != "zhangsan" || ev.GetExternalUserID() != "woAJ2GCAAAXtWyujaWJHDDGi0mACH71w" ||
			ev.GetState() != "qr-store-042" || ev.GetWelcomeCode() != "CALLBACKCODE" {
			t.Fatalf("go-workwx read %v", got[0])
		}
	})
}

const addContactXML = `<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>` +
	`<FromUserName><![CDATA[sys]]></FromUserName><CreateTime>1403610513</CreateTime>` +
	`<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>` +
	`<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>` +
	`<ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mACH71w]]></ExternalUserID>` +
	`<State><![CDATA[qr-store-042]]></State><WelcomeCode><![CDATA[CALLBACKCODE]]></WelcomeCode></xml>`
