package gen

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestCallbacksAreResentAfterAFailureAsWeComDoes: a request answered 500
// twice and then 200 is delivered when it may be sent again three times
// (a WeCom callback), and refused naming the status when it may not (an
// API post).
func TestCallbacksAreResentAfterAFailureAsWeComDoes(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, `{"code":"internal"}`, http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	tg := Target{BaseURL: srv.URL, Client: srv.Client()}
	build := func() (*http.Request, error) { return http.NewRequest("POST", srv.URL, nil) }
	if err := tg.send(context.Background(), "WeCom callback", callbackResends, build); err != nil || calls.Load() != 3 {
		t.Fatalf("a callback answered 500 twice: %v after %d sends, want delivered at the third", err, calls.Load())
	}
	calls.Store(0)
	if err := tg.send(context.Background(), "POST /v1/batch", 0, build); err == nil || calls.Load() != 1 {
		t.Fatalf("an API post answered 500: %v after %d sends, want refused at once", err, calls.Load())
	}
}
