package contracts

import (
	"strings"
	"testing"
)

func TestCheckValue(t *testing.T) {
	str := &Property{Name: "s", XSDType: "string", Kind: KindString}
	short := &Property{Name: "s", XSDType: "normalizedString", Kind: KindString, MaxLength: 3}
	enum := &Property{Name: "e", XSDType: "string", Kind: KindString, Enum: []string{"a", "b", "c"}}
	intEnum := &Property{Name: "ie", XSDType: "int", Kind: KindInteger, Enum: []string{"1", "2"}}
	integer := &Property{Name: "i", XSDType: "integer", Kind: KindInteger}
	byteP := &Property{Name: "b", XSDType: "byte", Kind: KindInteger}
	unsignedLong := &Property{Name: "u", XSDType: "unsignedLong", Kind: KindInteger}
	positive := &Property{Name: "p", XSDType: "positiveInteger", Kind: KindInteger}
	decimal := &Property{Name: "d", XSDType: "decimal", Kind: KindDecimal}
	double := &Property{Name: "f", XSDType: "double", Kind: KindDecimal}
	boolean := &Property{Name: "b", XSDType: "boolean", Kind: KindBoolean}
	date := &Property{Name: "d", XSDType: "date", Kind: KindDate}
	dateTime := &Property{Name: "dt", XSDType: "dateTime", Kind: KindDateTime}
	timeP := &Property{Name: "t", XSDType: "time", Kind: KindTime}
	complexP := &Property{Name: "c", Kind: KindComplex, Complex: &ComplexType{Name: "x"}}

	tests := []struct {
		p    *Property
		in   string
		want string // "" = valid, else a substring of the error
	}{
		{str, "", ""},
		{str, "anything <at> all\n", ""},
		{short, "abc", ""},
		{short, "äöü", ""}, // characters, not bytes
		{short, "abcd", "more than the maximum of 3"},
		{enum, "b", ""},
		{enum, "X", `"X" is not one of: a, b, c`},
		{enum, "a ", "not one of"},
		{intEnum, " 2 ", ""},
		{intEnum, "3", "not one of: 1, 2"},
		{intEnum, "x", `"x" is not a valid xs:int`},

		{integer, "0", ""},
		{integer, "-12", ""},
		{integer, "+7", ""},
		{integer, "123456789012345678901234567890", ""},
		{integer, "1.0", `"1.0" is not a valid xs:integer`},
		{integer, "", "not a valid xs:integer"},
		{integer, "1e3", "not a valid"},
		{byteP, "127", ""},
		{byteP, "-128", ""},
		{byteP, "128", "not a valid xs:byte"},
		{unsignedLong, "18446744073709551615", ""},
		{unsignedLong, "18446744073709551616", "not a valid"},
		{unsignedLong, "-1", "not a valid"},
		{positive, "0", "not a valid xs:positiveInteger"},
		{positive, "1", ""},

		{decimal, "1", ""},
		{decimal, "-1.5", ""},
		{decimal, ".5", ""},
		{decimal, "5.", ""},
		{decimal, " 3.14 ", ""},
		{decimal, "abc", `"abc" is not a valid xs:decimal`},
		{decimal, "1e5", "not a valid xs:decimal"},
		{decimal, "1,5", "not a valid"},
		{decimal, ".", "not a valid"},
		{decimal, "NaN", "not a valid"},
		{double, "1e5", ""},
		{double, "-1.5E-3", ""},
		{double, "INF", ""},
		{double, "-INF", ""},
		{double, "NaN", ""},
		{double, "e5", "not a valid xs:double"},

		{boolean, "true", ""},
		{boolean, "false", ""},
		{boolean, "1", ""},
		{boolean, "0", ""},
		{boolean, "True", "not a valid xs:boolean"},
		{boolean, "yes", "not a valid"},

		{date, "2024-02-29", ""},
		{date, "2023-02-29", "not a valid xs:date"},
		{date, "2000-02-29", ""},
		{date, "1900-02-29", "not a valid"},
		{date, "2024-04-31", "not a valid"},
		{date, "2024-13-01", "not a valid"},
		{date, "2024-00-10", "not a valid"},
		{date, "2024-01-15Z", ""},
		{date, "2024-01-15+02:00", ""},
		{date, "2024-01-15+15:00", "not a valid"},
		{date, "-0044-03-15", ""},
		{date, "12024-01-01", ""},
		{date, "02024-01-01", "not a valid"},
		{date, "24-01-01", "not a valid"},
		{date, "2024-1-1", "not a valid"},
		{date, "2024-01-15T00:00:00", "not a valid"},

		{dateTime, "2024-01-15T10:20:30", ""},
		{dateTime, "2024-01-15T10:20:30Z", ""},
		{dateTime, "2024-01-15T10:20:30.123456-05:00", ""},
		{dateTime, "2024-01-15T24:00:00", ""},
		{dateTime, "2024-01-15T24:00:01", "not a valid xs:dateTime"},
		{dateTime, "2024-01-15T10:60:00", "not a valid"},
		{dateTime, "2024-01-15 10:20:30", "not a valid"},
		{dateTime, "2024-01-15T10:20", "not a valid"},
		{dateTime, "2024-01-15T10:20:30.", "not a valid"},
		{dateTime, "2024-02-30T10:20:30", "not a valid"},

		{timeP, "00:00:00", ""},
		{timeP, "23:59:59.999", ""},
		{timeP, "12:00:00+14:00", ""},
		{timeP, "12:00:00-14:01", "not a valid xs:time"},
		{timeP, "25:00:00", "not a valid"},
		{timeP, "12:00", "not a valid"},

		{complexP, "x", `property "c" is complex`},
	}
	for _, tt := range tests {
		err := tt.p.CheckValue(tt.in)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s %q: unexpected error %v", tt.p.Kind, tt.in, err)
		case tt.want != "" && err == nil:
			t.Errorf("%s %q: accepted, want error containing %q", tt.p.Kind, tt.in, tt.want)
		case tt.want != "" && !strings.Contains(err.Error(), tt.want):
			t.Errorf("%s %q: error %q, want it to contain %q", tt.p.Kind, tt.in, err, tt.want)
		}
	}
}

// TestCheckValueBuiltin validates values against the built-in contract's own properties.
func TestCheckValueBuiltin(t *testing.T) {
	c := mustBuiltin(t)
	sol := c.Kind("salesOrderLines").Type
	if err := sol.Property("number").CheckValue("3"); err != nil {
		t.Error(err)
	}
	if err := sol.Property("number").CheckValue("3.5"); err == nil {
		t.Error("3.5 accepted as xs:integer")
	}
	if err := sol.Property("type").CheckValue("Free Text"); err != nil {
		t.Error(err)
	}
	if err := c.Kind("contacts").Type.Property("dateOfBirth").CheckValue("1970-13-01"); err == nil {
		t.Error("month 13 accepted")
	}
}

func TestValueKindString(t *testing.T) {
	for k, want := range map[ValueKind]string{KindString: "string", KindInteger: "integer", KindDecimal: "decimal",
		KindBoolean: "boolean", KindDate: "date", KindDateTime: "dateTime", KindTime: "time", KindComplex: "complex", 99: "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}
