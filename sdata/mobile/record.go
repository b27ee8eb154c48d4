package mobile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Field is one field of a record (an mDataRow): a simple property of the
// component's resource kind and its value as text, or null.
type Field struct {
	Name  string
	Value string
	Null  bool
}

// Record is an mDataRow: fields in order, each name at most once.
type Record []Field

// Get returns the field called name.
func (r Record) Get(name string) (Field, bool) {
	for _, f := range r {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Equal reports whether two fields hold the same value.
func (f Field) Equal(g Field) bool { return f.Null == g.Null && (f.Null || f.Value == g.Value) }

// set replaces or appends a field.
func (r Record) set(f Field) Record {
	for i := range r {
		if r[i].Name == f.Name {
			r[i] = f
			return r
		}
	}
	return append(r, f)
}

// sorted returns the record's fields ordered by name.
func (r Record) sorted() Record {
	out := slices.Clone(r)
	slices.SortFunc(out, func(a, b Field) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// RecordFromProps reads a resource's JSON props (a flat object of simple
// values, as the store keeps them) as a record, fields by name.
func RecordFromProps(props []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(props))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("mobile: stored props unreadable: %w", err)
	}
	out := make(Record, 0, len(m))
	for k, v := range m {
		out = append(out, fieldOf(k, v))
	}
	return out.sorted(), nil
}

// fieldOf renders a JSON value as a field (objects and arrays as JSON).
func fieldOf(name string, v any) Field {
	switch x := v.(type) {
	case nil:
		return Field{Name: name, Null: true}
	case string:
		return Field{Name: name, Value: x}
	case json.Number:
		return Field{Name: name, Value: x.String()}
	case bool:
		if x {
			return Field{Name: name, Value: "true"}
		}
		return Field{Name: name, Value: "false"}
	}
	b, _ := json.Marshal(v)
	return Field{Name: name, Value: string(b)}
}

// MarshalJSON writes the record as a JSON object of string (or null)
// values, in field order.
func (r Record) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range r {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Name)
		b.Write(k)
		b.WriteByte(':')
		if f.Null {
			b.WriteString("null")
			continue
		}
		v, _ := json.Marshal(f.Value)
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a JSON object of simple values (strings, numbers,
// booleans, null) as a record, fields by name.
func (r *Record) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return err
	}
	out := make(Record, 0, len(m))
	for k, v := range m {
		switch v.(type) {
		case map[string]any, []any:
			return fmt.Errorf("field %q: a record holds simple values, not objects or lists", k)
		}
		out = append(out, fieldOf(k, v))
	}
	*r = out.sorted()
	return nil
}

// Filter is what a device downloads: for each filter key the values a
// row's property may hold (several keys: all must match; several values:
// any). The component's filter keys are all present.
type Filter map[string][]string

// canonical sorts and deduplicates the values of every key.
func (f Filter) canonical() Filter {
	out := make(Filter, len(f))
	for k, vs := range f {
		c := slices.Clone(vs)
		slices.Sort(c)
		out[k] = slices.Compact(c)
	}
	return out
}

// Equal reports whether two canonical filters are the same.
func (f Filter) Equal(g Filter) bool {
	if len(f) != len(g) {
		return false
	}
	for k, vs := range f {
		ws, ok := g[k]
		if !ok || !slices.Equal(vs, ws) {
			return false
		}
	}
	return true
}

// Matches reports whether a record passes the filter.
func (f Filter) Matches(r Record) bool {
	for k, vs := range f {
		fl, ok := r.Get(k)
		if !ok || fl.Null || !slices.Contains(vs, fl.Value) {
			return false
		}
	}
	return true
}
