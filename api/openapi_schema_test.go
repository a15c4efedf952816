package api

// The JSON Schema of Go types as encoding/json writes them, the shape
// comparison and annotation-keeping rewrite of openapi.json's schemas,
// and an order-keeping JSON object for reading and writing the document;
// used by openapi_test.go.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// The JSON Schema of Go types, as encoding/json writes them.

type schemaGen struct {
	components map[string]*obj
	types      map[string]reflect.Type
	order      []string
}

func newSchemaGen() *schemaGen {
	return &schemaGen{components: map[string]*obj{}, types: map[string]reflect.Type{}}
}

var (
	timeType = typ[time.Time]()
	rawType  = typ[json.RawMessage]()
)

// componentName is t's component, or "" when t is written inline.
func componentName(t reflect.Type) string {
	if n, ok := componentNames[t]; ok {
		return n
	}
	if t.Kind() == reflect.Struct && t != timeType && t.Name() != "" && ast.IsExported(t.Name()) && !strings.Contains(t.Name(), "[") {
		return t.Name()
	}
	return ""
}

// schema is t's schema. Answers (answer) list in required the fields the
// encoder always writes (no omitempty or omitzero); request bodies are
// decoded field by field, so which are required is the handler's rule and
// written by hand.
func (g *schemaGen) schema(t reflect.Type, answer bool) *obj {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if name := componentName(t); name != "" {
		if prev, ok := g.types[name]; ok && prev != t {
			panic(fmt.Sprintf("component %s: both %s and %s; name one in componentNames", name, prev, t))
		}
		if _, ok := g.types[name]; !ok {
			g.types[name] = t
			g.order = append(g.order, name)
			g.components[name] = g.inline(t, true)
		}
		return newObj("$ref", "#/components/schemas/"+name)
	}
	return g.inline(t, answer)
}

func (g *schemaGen) inline(t reflect.Type, answer bool) *obj {
	switch {
	case t == timeType:
		return newObj("type", "string", "format", "date-time")
	case t == rawType || t.Kind() == reflect.Interface:
		return newObj()
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8:
		return newObj("type", "string", "format", "byte")
	}
	switch t.Kind() {
	case reflect.Bool:
		return newObj("type", "boolean")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return newObj("type", "integer")
	case reflect.Float32, reflect.Float64:
		return newObj("type", "number")
	case reflect.String:
		return newObj("type", "string")
	case reflect.Slice:
		return newObj("type", "array", "items", g.schema(t.Elem(), answer))
	case reflect.Array:
		return newObj("type", "array", "items", g.schema(t.Elem(), answer), "minItems", json.Number(fmt.Sprint(t.Len())), "maxItems", json.Number(fmt.Sprint(t.Len())))
	case reflect.Map:
		return newObj("type", "object", "additionalProperties", g.schema(t.Elem(), answer))
	case reflect.Struct:
		props := &obj{}
		var required []any
		for _, f := range jsonFields(t) {
			s := g.schema(f.typ, answer)
			if f.asString {
				s = newObj("type", "string")
			}
			if f.typ.Kind() == reflect.Pointer && !f.omit {
				s = newObj("anyOf", []any{s, newObj("type", "null")}) // nil is written as null
			}
			props.set(f.name, s)
			if !f.omit {
				required = append(required, f.name)
			}
		}
		o := newObj("type", "object", "properties", props)
		if answer && len(required) > 0 {
			o.set("required", required)
		}
		return o
	}
	panic(fmt.Sprintf("no JSON schema for %s", t))
}

type jsonField struct {
	name     string
	typ      reflect.Type
	omit     bool // omitempty or omitzero: not always written
	asString bool // the ",string" option
}

// jsonFields lists a struct's fields as encoding/json writes them, in its
// order: the fields of an embedded struct at its place, a shallower field
// hiding a deeper one of the same name.
func jsonFields(t reflect.Type) []jsonField {
	type leveled struct {
		jsonField
		depth int
	}
	var all []leveled
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
				walk(ft, depth+1)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			o := strings.Split(opts, ",")
			all = append(all, leveled{jsonField{name: name, typ: f.Type, omit: slices.Contains(o, "omitempty") || slices.Contains(o, "omitzero"),
				asString: slices.Contains(o, "string")}, depth})
		}
	}
	walk(t, 0)
	shallowest := map[string]int{}
	for _, f := range all {
		if d, ok := shallowest[f.name]; !ok || f.depth < d {
			shallowest[f.name] = f.depth
		}
	}
	var out []jsonField
	for _, f := range all {
		if f.depth == shallowest[f.name] {
			out = append(out, f.jsonField)
			shallowest[f.name] = -1 // the first at that depth only
		}
	}
	return out
}

// shapeKeys are what the check compares: the types and field names.
// Everything else in a schema (description, enum, examples, pattern,
// default, the required of request bodies) is annotation.
// allOf, oneOf and anyOf are shapes the Go types never make: a document
// that has them differs.
var shapeKeys = []string{"$ref", "type", "format", "items", "minItems", "maxItems", "properties", "additionalProperties", "required", "allOf", "oneOf", "anyOf"}

// shape is s reduced to its shape keys, recursively, for comparison.
func shape(s *obj) any {
	if s == nil {
		return nil
	}
	out := map[string]any{}
	for _, k := range shapeKeys {
		v := s.get(k)
		if v == nil {
			continue
		}
		switch k {
		case "items", "additionalProperties":
			if o, ok := v.(*obj); ok {
				v = shape(o)
			}
		case "properties":
			props := map[string]any{}
			if o, ok := v.(*obj); ok {
				for _, name := range o.keys {
					props[name] = shape(o.obj(name))
				}
			}
			v = props
		case "allOf", "oneOf", "anyOf":
			var alts []any
			for _, a := range v.([]any) {
				o, _ := a.(*obj)
				alts = append(alts, shape(o))
			}
			v = alts
		case "required":
			var names []string
			for _, n := range v.([]any) {
				names = append(names, fmt.Sprint(n))
			}
			sort.Strings(names)
			v = names
		case "minItems", "maxItems":
			v = fmt.Sprint(v)
		}
		out[k] = v
	}
	return out
}

// diffShape describes the first differences between two shapes; want
// without required (a request body) ignores have's.
func diffShape(want, have any, at string) string {
	w, _ := want.(map[string]any)
	h, _ := have.(map[string]any)
	if h == nil {
		return at + ": missing"
	}
	if _, ok := w["required"]; !ok {
		h = copyMap(h)
		delete(h, "required")
	}
	var out []string
	for _, k := range shapeKeys {
		switch k {
		case "properties":
			wp, _ := w[k].(map[string]any)
			hp, _ := h[k].(map[string]any)
			for name, ws := range wp {
				if _, ok := hp[name]; !ok {
					out = append(out, at+"."+name+": missing")
					continue
				}
				if d := diffShape(ws, hp[name], at+"."+name); d != "" {
					out = append(out, d)
				}
			}
			for name := range hp {
				if _, ok := wp[name]; !ok {
					out = append(out, at+"."+name+": no such field in Go")
				}
			}
		case "items", "additionalProperties":
			if w[k] == nil && h[k] == nil {
				continue
			}
			if d := diffShape(w[k], h[k], at+"."+k); d != "" {
				out = append(out, d)
			}
		default:
			if !reflect.DeepEqual(w[k], h[k]) {
				out = append(out, fmt.Sprintf("%s %s: Go has %v, the document %v", at, k, w[k], h[k]))
			}
		}
	}
	sort.Strings(out)
	if len(out) > 6 {
		out = append(out[:6], fmt.Sprintf("(and %d more)", len(out)-6))
	}
	return strings.Join(out, "; ")
}

func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// annotate is want with old's annotations: every key of old that is not a
// shape key (description, enum, ...), and for a request body (want without
// required) old's required; recursively through properties, items and
// additionalProperties.
func annotate(want, old *obj) *obj {
	if old == nil {
		return want
	}
	out := &obj{}
	for _, k := range []string{"$ref", "type", "format"} {
		if v := want.get(k); v != nil {
			out.set(k, v)
		}
	}
	for _, k := range old.keys {
		if !slices.Contains(shapeKeys, k) {
			out.set(k, old.get(k))
		}
	}
	for _, k := range shapeKeys[3:] {
		v := want.get(k)
		switch k {
		case "items", "additionalProperties":
			if o, ok := v.(*obj); ok {
				v = annotate(o, old.obj(k))
			}
		case "properties":
			if o, ok := v.(*obj); ok {
				props := &obj{}
				for _, name := range o.keys {
					var prev *obj
					if op := old.obj("properties"); op != nil {
						prev = op.obj(name)
					}
					props.set(name, annotate(o.obj(name), prev))
				}
				v = props
			}
		case "required":
			if v == nil && want.get("$ref") == nil && want.get("properties") != nil {
				v = old.get("required")
			}
		}
		if v != nil {
			out.set(k, v)
		}
	}
	return out
}

// An order-keeping JSON object, so that rewriting openapi.json keeps its
// order of paths, fields and keys.

type obj struct {
	keys []string
	vals map[string]any // *obj, []any, string, json.Number, bool, nil
}

func newObj(kv ...any) *obj {
	o := &obj{}
	for i := 0; i < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

func (o *obj) get(k string) any {
	if o == nil {
		return nil
	}
	return o.vals[k]
}

// obj is the object at k; with "create" as a second argument a missing one
// is added.
func (o *obj) obj(k string, create ...string) *obj {
	v, _ := o.get(k).(*obj)
	if v == nil && len(create) > 0 && o != nil {
		v = &obj{}
		o.set(k, v)
	}
	return v
}

// path is the object at the keys' path, or nil.
func (o *obj) path(keys ...string) *obj {
	for _, k := range keys {
		o = o.obj(k)
	}
	return o
}

func (o *obj) set(k string, v any) {
	if o.vals == nil {
		o.vals = map[string]any{}
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func (o *obj) del(k string) {
	if _, ok := o.vals[k]; ok {
		delete(o.vals, k)
		o.keys = slices.DeleteFunc(o.keys, func(s string) bool { return s == k })
	}
}

func decodeOrdered(raw []byte) (*obj, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	o, ok := v.(*obj)
	if !ok {
		return nil, fmt.Errorf("openapi.json is not an object")
	}
	return o, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &obj{}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			o.set(k.(string), v)
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token()
		return a, err
	}
	return tok, nil
}

// encodeOrdered writes v as json.MarshalIndent with two spaces would,
// keeping key order and not escaping <, > and &.
func encodeOrdered(v any) []byte {
	var b bytes.Buffer
	encodeValue(&b, v, "")
	b.WriteByte('\n')
	return b.Bytes()
}

func encodeValue(b *bytes.Buffer, v any, indent string) {
	switch v := v.(type) {
	case *obj:
		if len(v.keys) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{\n")
		for i, k := range v.keys {
			b.WriteString(indent + "  ")
			encodeValue(b, k, "")
			b.WriteString(": ")
			encodeValue(b, v.vals[k], indent+"  ")
			if i < len(v.keys)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if len(v) == 0 {
			b.WriteString("[]")
			return
		}
		b.WriteString("[\n")
		for i, e := range v {
			b.WriteString(indent + "  ")
			encodeValue(b, e, indent+"  ")
			if i < len(v)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		var s bytes.Buffer
		enc := json.NewEncoder(&s)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			panic(err)
		}
		b.Write(bytes.TrimSuffix(s.Bytes(), []byte("\n")))
	}
}
