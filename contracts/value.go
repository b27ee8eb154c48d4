package contracts

import (
	"fmt"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Lexical forms of XML Schema values (XSD 1.1 part 2, section 3).
var (
	reInteger  = regexp.MustCompile(`^[+-]?[0-9]+$`)
	reDecimal  = regexp.MustCompile(`^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$`)
	reFloat    = regexp.MustCompile(`^([+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([Ee][+-]?[0-9]+)?|[+-]?INF|NaN)$`)
	reDate     = regexp.MustCompile(`^(-?(?:[1-9][0-9]{3,}|0[0-9]{3}))-([0-9]{2})-([0-9]{2})(Z|[+-][0-9]{2}:[0-9]{2})?$`)
	reTime     = regexp.MustCompile(`^([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$`)
	reDateTime = regexp.MustCompile(`^(-?(?:[1-9][0-9]{3,}|0[0-9]{3}))-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})?$`)
)

// integerRange is the value range of a derived integer type; nil bounds are unbounded.
type integerRange struct{ min, max *big.Int }

func bigInt(s string) *big.Int {
	b, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic("contracts: bad integer constant " + s)
	}
	return b
}

// integerRanges holds the bounds of the built-in integer types (never written after init).
var integerRanges = map[string]integerRange{
	"long":               {bigInt("-9223372036854775808"), bigInt("9223372036854775807")},
	"int":                {bigInt("-2147483648"), bigInt("2147483647")},
	"short":              {bigInt("-32768"), bigInt("32767")},
	"byte":               {bigInt("-128"), bigInt("127")},
	"nonNegativeInteger": {bigInt("0"), nil},
	"positiveInteger":    {bigInt("1"), nil},
	"nonPositiveInteger": {nil, bigInt("0")},
	"negativeInteger":    {nil, bigInt("-1")},
	"unsignedLong":       {bigInt("0"), bigInt("18446744073709551615")},
	"unsignedInt":        {bigInt("0"), bigInt("4294967295")},
	"unsignedShort":      {bigInt("0"), bigInt("65535")},
	"unsignedByte":       {bigInt("0"), bigInt("255")},
}

// CheckValue validates the text of a simple property against its XSD type,
// enumeration and maxLength. Lexical forms follow XML Schema: booleans
// true/false/1/0; decimals; integers (with the range of derived types);
// xs:date YYYY-MM-DD with optional zone; xs:dateTime with optional fraction
// and zone; xs:time. It returns nil or an error with a human message such as
// `"abc" is not a valid xs:decimal` or `"X" is not one of: a, b, c`.
func (p *Property) CheckValue(s string) error {
	if p.Kind == KindComplex {
		return fmt.Errorf("property %q is complex and has no simple value", p.Name)
	}
	v := s
	if p.Kind != KindString {
		v = strings.Trim(s, " \t\r\n") // whiteSpace="collapse" for every non-string type
	}
	if !lexicalOK(p.Kind, p.XSDType, v) {
		return fmt.Errorf("%q is not a valid xs:%s", s, p.xsdName())
	}
	if p.Kind == KindString && p.MaxLength > 0 {
		if n := utf8.RuneCountInString(s); n > p.MaxLength {
			return fmt.Errorf("%q is %d characters long, more than the maximum of %d", s, n, p.MaxLength)
		}
	}
	if p.Enum != nil {
		for _, e := range p.Enum {
			if e == v {
				return nil
			}
		}
		return fmt.Errorf("%q is not one of: %s", s, strings.Join(p.Enum, ", "))
	}
	return nil
}

func (p *Property) xsdName() string {
	if p.XSDType != "" {
		return p.XSDType
	}
	return p.Kind.String()
}

// lexicalOK reports whether v is in the lexical space of the kind / built-in type.
func lexicalOK(k ValueKind, xsdType, v string) bool {
	switch k {
	case KindString:
		return true
	case KindBoolean:
		return v == "true" || v == "false" || v == "1" || v == "0"
	case KindInteger:
		if !reInteger.MatchString(v) {
			return false
		}
		r, ok := integerRanges[xsdType]
		if !ok {
			return true
		}
		n, ok := new(big.Int).SetString(strings.TrimPrefix(v, "+"), 10)
		return ok && (r.min == nil || n.Cmp(r.min) >= 0) && (r.max == nil || n.Cmp(r.max) <= 0)
	case KindDecimal:
		if xsdType == "double" || xsdType == "float" {
			return reFloat.MatchString(v)
		}
		return reDecimal.MatchString(v)
	case KindDate:
		m := reDate.FindStringSubmatch(v)
		return m != nil && dateOK(m[1], m[2], m[3]) && zoneOK(m[4])
	case KindTime:
		m := reTime.FindStringSubmatch(v)
		return m != nil && timeOK(m[1], m[2], m[3], m[4]) && zoneOK(m[5])
	case KindDateTime:
		m := reDateTime.FindStringSubmatch(v)
		return m != nil && dateOK(m[1], m[2], m[3]) && timeOK(m[4], m[5], m[6], m[7]) && zoneOK(m[8])
	}
	return false
}

// dateOK checks month and day ranges, with leap years (proleptic Gregorian, year 0 is a leap year).
func dateOK(year, month, day string) bool {
	m, _ := strconv.Atoi(month)
	d, _ := strconv.Atoi(day)
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	days := [...]int{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[m-1]
	if m == 2 {
		y, ok := new(big.Int).SetString(year, 10)
		if !ok {
			return false
		}
		mod := func(n int64) int64 { return new(big.Int).Mod(y, big.NewInt(n)).Int64() }
		if mod(4) == 0 && (mod(100) != 0 || mod(400) == 0) {
			days = 29
		}
	}
	return d <= days
}

// timeOK checks hh:mm:ss(.fff); 24:00:00 is allowed (end of day) only with zero fraction.
func timeOK(hh, mm, ss, frac string) bool {
	h, _ := strconv.Atoi(hh)
	m, _ := strconv.Atoi(mm)
	s, _ := strconv.Atoi(ss)
	if h == 24 {
		return m == 0 && s == 0 && strings.Trim(frac, ".0") == ""
	}
	return h < 24 && m < 60 && s < 60
}

// zoneOK checks an optional time zone: Z or ±hh:mm with |offset| <= 14:00.
func zoneOK(z string) bool {
	if z == "" || z == "Z" {
		return true
	}
	h, _ := strconv.Atoi(z[1:3])
	m, _ := strconv.Atoi(z[4:6])
	return m < 60 && (h < 14 || h == 14 && m == 0)
}
