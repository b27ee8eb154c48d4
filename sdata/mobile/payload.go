package mobile

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"

	"sdatasync/contracts"
	"sdatasync/feeds"
	"sdatasync/sdata/payload"
)

// Records and stored payloads: a device sees a resource's simple
// properties (its JSON props); what it writes replaces them in the stored
// payload, whose other parts (references, child lists) stay as they are.

// checkFields checks a device record against the kind: every field a
// simple property, each at most once, values valid. The message says what
// is wrong.
func checkFields(k *contracts.ResourceKind, r Record) error {
	seen := make(map[string]bool, len(r))
	for _, f := range r {
		p := k.Type.Property(f.Name)
		if p == nil || p.Kind == contracts.KindComplex || p.MaxOccurs != 1 {
			return fmt.Errorf("%s has no simple property %q", k.PluralName, f.Name)
		}
		if seen[f.Name] {
			return fmt.Errorf("field %q appears more than once", f.Name)
		}
		seen[f.Name] = true
		if f.Null {
			continue
		}
		if len(f.Value) > payload.MaxValue {
			return fmt.Errorf("field %q holds %d bytes; a value holds at most %d", f.Name, len(f.Value), payload.MaxValue)
		}
		v := f.Value
		if p.Kind != contracts.KindString {
			v = strings.TrimSpace(v)
		}
		if err := p.CheckValue(v); err != nil {
			return fmt.Errorf("field %q: %v", f.Name, err)
		}
	}
	return nil
}

// normalize rewrites the values of a checked record the way the store's
// props hold them (integers without leading zeros, date-times in UTC...),
// so that records compare by value.
func normalize(k *contracts.ResourceKind, r Record) Record {
	out := make(Record, len(r))
	for i, f := range r {
		out[i] = f
		if !f.Null {
			out[i].Value = propText(k.Type.Property(f.Name), f.Value)
		}
	}
	return out.sorted()
}

// propText is the text of the JSON props value of a simple property (see
// payload's canonical form).
func propText(p *contracts.Property, v string) string {
	if p == nil || p.Kind == contracts.KindString {
		return v
	}
	v = strings.TrimSpace(v)
	switch p.Kind {
	case contracts.KindInteger, contracts.KindDecimal:
		if n, err := strconv.ParseInt(strings.TrimPrefix(v, "+"), 10, 64); err == nil {
			return strconv.FormatInt(n, 10)
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			b, _ := json.Marshal(f) // as the props hold it
			return string(b)
		}
	case contracts.KindBoolean:
		return strconv.FormatBool(v == "true" || v == "1")
	case contracts.KindDateTime:
		if t, err := feeds.ParseTime(v); err == nil {
			return t.UTC().Format(time.RFC3339Nano)
		}
	case contracts.KindDate:
		if len(v) >= 10 {
			return v[:10]
		}
	}
	return v
}

// lookupValue is the value a row identifier's JSON props hold for text
// (int64 for integers, else the text), for FindByProps.
func lookupValue(p *contracts.Property, text string) any {
	if p.Kind == contracts.KindInteger {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return n
		}
	}
	return text
}

// build makes the stored payload of a resource whose simple properties are
// exactly rec, keeping the other parts of cur (nil for a new resource).
func build(c *contracts.Contract, k *contracts.ResourceKind, cur []byte, rec Record, key string) (stored, props []byte, title string, err error) {
	var el *etree.Element
	if cur != nil {
		if el, err = payload.ParseStored(cur); err != nil {
			return nil, nil, "", err
		}
	} else {
		el = etree.NewElement(k.Name)
		el.CreateAttr("xmlns", c.TargetNamespace)
	}
	for _, ch := range el.ChildElements() {
		if p := k.Type.Property(ch.Tag); p != nil && p.Kind != contracts.KindComplex && p.MaxOccurs == 1 {
			el.RemoveChild(ch)
		}
	}
	for _, f := range rec {
		p := k.Type.Property(f.Name)
		if p == nil || p.Kind == contracts.KindComplex {
			continue
		}
		if f.Null {
			if p.Nillable {
				el.CreateElement(f.Name).CreateAttr("xsi:nil", "true")
			}
			continue
		}
		el.CreateElement(f.Name).SetText(f.Value)
	}
	if err := payload.Validate(c, k, el, false); err != nil {
		return nil, nil, "", err
	}
	return payload.CanonicalInPlace(c, k, el, key)
}
