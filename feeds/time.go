package feeds

import (
	"fmt"
	"time"
)

// ParseTime parses xs:dateTime / RFC 3339 with or without fraction and zone
// (no zone = UTC) and also a plain xs:date (optionally with a zone). The
// result is always in UTC, so that equal instants compare equal with ==.
func ParseTime(s string) (time.Time, error) {
	s = trimXMLSpace(s)
	layouts := [...]string{
		"2006-01-02T15:04:05Z07:00",
		"2006-01-02T15:04:05",
		"2006-01-02",
		"2006-01-02Z07:00",
	}
	for _, layout := range layouts {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		t = t.UTC()
		if y := t.Year(); y < 1 || y > 9999 {
			return time.Time{}, fmt.Errorf("time %q is out of range", s)
		}
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not an xs:dateTime or xs:date", s)
}

// FormatTime writes t in UTC as RFC 3339, with milliseconds only when the
// fraction is non-zero (2008-10-30T14:52:03.281Z or 2008-10-30T14:52:03Z).
// A fraction that is not a whole number of milliseconds is written with as
// many digits as it needs, so that ParseTime(FormatTime(t)) == t.UTC().
func FormatTime(t time.Time) string {
	var buf [40]byte
	return string(appendTime(buf[:0], t))
}

// appendTime appends FormatTime(t) to b.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	switch ns := t.Nanosecond(); {
	case ns == 0:
		return t.AppendFormat(b, "2006-01-02T15:04:05Z")
	case ns%int(time.Millisecond) == 0:
		return t.AppendFormat(b, "2006-01-02T15:04:05.000Z")
	default:
		return t.AppendFormat(b, "2006-01-02T15:04:05.999999999Z")
	}
}
