package ingest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/granarycdp/cdp/identity"
)

// TestScrubRecordCoversEveryStringField: every string a record type holds
// (fields, slices and maps of strings, nested structs, JSON documents) is
// filled with a mobile number, and none is left after scrubRecord. A
// string field added to a record type and forgotten by the scrubber fails
// here.
func TestScrubRecordCoversEveryStringField(t *testing.T) {
	const phone = "13812345678"
	c := &Collector{prot: fuzzProtector(t)}
	for _, rec := range []*Record{
		{Kind: KindEvent, Event: &Event{}},
		{Kind: KindOrder, Order: &Order{}},
		{Kind: KindContact, Contact: &Contact{}},
		{Kind: KindMessage, Message: &Message{}},
	} {
		payload := recordPayload(rec)
		filled := fillStrings(payload.Elem(), phone)
		if filled < 3 {
			t.Fatalf("%s: only %d strings filled", rec.Kind, filled)
		}
		c.scrubRecord(rec)
		var clear []string
		walkStrings(payload.Elem(), "", func(path, s string) {
			if identity.HasMobile(s) {
				clear = append(clear, path+"="+s)
			}
		})
		if len(clear) > 0 {
			t.Errorf("%s: a mobile number is left in clear after scrubbing in %v", rec.Kind, clear)
		}
		if len(rec.Vault) == 0 {
			t.Errorf("%s: the number was not kept in the vault", rec.Kind)
		}
	}
}

// recordPayload returns the pointer to the record's payload for its kind.
func recordPayload(rec *Record) reflect.Value {
	v := reflect.ValueOf(rec).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		if f.Kind() == reflect.Pointer && !f.IsNil() {
			return f
		}
	}
	panic("record without payload")
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

// fillStrings sets every string reachable from v (exported fields, slices
// and maps, grown to one element) to s, JSON documents to a JSON string
// holding s, and returns how many it set.
func fillStrings(v reflect.Value, s string) int {
	switch {
	case v.Type() == rawMessageType:
		b, _ := json.Marshal(map[string]string{"k": s})
		v.SetBytes(b)
		return 1
	case v.Kind() == reflect.String:
		v.SetString(s)
		return 1
	case v.Kind() == reflect.Struct:
		n := 0
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				n += fillStrings(v.Field(i), s)
			}
		}
		return n
	case v.Kind() == reflect.Slice:
		if v.Len() == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		}
		n := 0
		for i := 0; i < v.Len(); i++ {
			n += fillStrings(v.Index(i), s)
		}
		return n
	case v.Kind() == reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		n := fillStrings(k, s) + fillStrings(e, s)
		m.SetMapIndex(k, e)
		v.Set(m)
		return n
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return fillStrings(v.Elem(), s)
	}
	return 0
}

// walkStrings calls fn with every string reachable from v, JSON documents
// as their text.
func walkStrings(v reflect.Value, path string, fn func(path, s string)) {
	switch {
	case v.Type() == rawMessageType:
		fn(path, string(v.Bytes()))
	case v.Kind() == reflect.String:
		fn(path, v.String())
	case v.Kind() == reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				walkStrings(v.Field(i), path+"."+f.Name, fn)
			}
		}
	case v.Kind() == reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), path+"[]", fn)
		}
	case v.Kind() == reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			walkStrings(iter.Key(), path+"{key}", fn)
			walkStrings(iter.Value(), path+"{}", fn)
		}
	case v.Kind() == reflect.Pointer:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, fn)
		}
	}
}

// TestOrderCurrencyIsAnISOCode: currency is a three-letter code in
// capitals; anything else (free text, a phone number) is refused naming
// the field, and an absent currency is CNY.
func TestOrderCurrencyIsAnISOCode(t *testing.T) {
	c := &Collector{prot: fuzzProtector(t)}
	now := time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)
	order := func(currency string) string {
		return `{"channel":"tmall","order_id":"T1","status":"paid","ordered_at":"2026-11-11T00:00:00Z","amount":"9.9"` + currency + `}`
	}
	for _, cur := range []string{`"13812345678"`, `"cny"`, `"RMB¥"`, `"CNYX"`, `" "`, `"元"`} {
		rec, prob := c.parseOrder([]byte(order(`,"currency":`+cur)), "t", now)
		if prob == nil || prob.Field != "currency" || prob.Code != "invalid" {
			t.Errorf("currency %s: accepted (%+v) or refused without naming the field (%+v)", cur, rec, prob)
		}
	}
	for cur, want := range map[string]string{`,"currency":"USD"`: "USD", ``: "CNY", `,"currency":""`: "CNY"} {
		rec, prob := c.parseOrder([]byte(order(cur)), "t", now)
		if prob != nil || rec.Order.Currency != want {
			t.Errorf("currency %q: got %+v %+v, want %s", cur, rec, prob, want)
		}
	}
}
