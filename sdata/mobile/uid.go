package mobile

import (
	"errors"
	"strings"
)

// A uid names a row for devices: the values of the component's row
// identifiers, in order, joined by '~'. It is readable and reversible:
// '%', '~' and control characters (and DEL) are written %XX (upper-case
// hex), an empty value is written "%-", so any value survives. Each value
// has exactly one spelling, so a uid the server would not have issued
// (other escapes, lower-case hex, the wrong number of values) is refused.

// EncodeUID joins the row identifier values into a uid.
func EncodeUID(vals []string) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteByte('~')
		}
		if v == "" {
			b.WriteString("%-")
			continue
		}
		for j := 0; j < len(v); j++ {
			c := v[j]
			if c == '%' || c == '~' || c < 0x20 || c == 0x7f {
				const hex = "0123456789ABCDEF"
				b.WriteByte('%')
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&15])
				continue
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ErrBadUID says a uid is not one the server issues for the component.
var ErrBadUID = errors.New("not a uid of this component")

// DecodeUID splits a uid of n row identifier values back into the values.
// It refuses any uid that EncodeUID would not have written.
func DecodeUID(uid string, n int) ([]string, error) {
	if n <= 0 || uid == "" {
		return nil, ErrBadUID
	}
	parts := strings.Split(uid, "~")
	if len(parts) != n {
		return nil, ErrBadUID
	}
	out := make([]string, n)
	for i, p := range parts {
		if p == "%-" {
			continue
		}
		var b strings.Builder
		for j := 0; j < len(p); j++ {
			c := p[j]
			if c != '%' {
				if c < 0x20 || c == 0x7f {
					return nil, ErrBadUID
				}
				b.WriteByte(c)
				continue
			}
			if j+2 >= len(p) {
				return nil, ErrBadUID
			}
			hi, lo := unhex(p[j+1]), unhex(p[j+2])
			if hi < 0 || lo < 0 {
				return nil, ErrBadUID
			}
			d := byte(hi<<4 | lo)
			if d != '%' && d != '~' && d >= 0x20 && d != 0x7f {
				return nil, ErrBadUID // escaped without need: not issued
			}
			b.WriteByte(d)
			j += 2
		}
		if b.Len() == 0 {
			return nil, ErrBadUID // an empty value is written %-
		}
		out[i] = b.String()
	}
	return out, nil
}

// unhex is the value of an upper-case hex digit, -1 for anything else.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
