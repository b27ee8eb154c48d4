package feeds

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestPrefixIndependence(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdataDir, "prefixes", "*.xml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("prefix variants missing: %v %v", files, err)
	}
	var first *Feed
	for _, name := range files {
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := ParseFeed(bytes.NewReader(src), Limits{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if first == nil {
			first = f
			// Spot-check the model so that equal-but-empty models cannot pass.
			e := f.Entries[0]
			if f.ID != "urn:feed:1" || f.SyncMode != "immediate" || f.TotalResults != 1 || f.Digest.Tick("http://ep.example/a") != 3 ||
				e.HTTPMethod != "PUT" || e.SyncState.Tick != 2 || len(e.Diagnoses) != 1 || PayloadUUID(e.Payload) != "u-1" ||
				!IsNil(e.Payload.SelectElement("price")) || e.Payload.FindElement("parts/part/qty").Text() != "1" {
				t.Fatalf("%s: unexpected model %s", name, dump(f))
			}
			continue
		}
		if !reflect.DeepEqual(first, f) {
			t.Errorf("%s parses differently from %s:\n%s\n%s", name, files[0], dump(first), dump(f))
		}
	}
}

func TestLimits(t *testing.T) {
	deep := "<feed xmlns='" + AtomNS + "'>" + strings.Repeat("<x>", 100) + strings.Repeat("</x>", 100) + "</feed>"
	entries := "<feed xmlns='" + AtomNS + "'>" + strings.Repeat("<entry/>", 11) + "</feed>"
	big := "<feed xmlns='" + AtomNS + "'><title>" + strings.Repeat("a", 5000) + "</title></feed>"
	tests := []struct {
		name  string
		doc   string
		lim   Limits
		limit string
	}{
		{"depth default", deep, Limits{}, "MaxDepth"},
		{"depth small", "<feed xmlns='" + AtomNS + "'><entry><sdata:payload xmlns:sdata='" + SDataNS + "'><a><b/></a></sdata:payload></entry></feed>", Limits{MaxDepth: 4}, "MaxDepth"},
		{"entries", entries, Limits{MaxEntries: 10}, "MaxEntries"},
		{"bytes", big, Limits{MaxBytes: 4096}, "MaxBytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFeed(strings.NewReader(tc.doc), tc.lim)
			var le *LimitError
			if !errors.As(err, &le) || le.Limit != tc.limit {
				t.Fatalf("err = %v, want LimitError %s", err, tc.limit)
			}
			if !strings.Contains(err.Error(), tc.limit) {
				t.Errorf("message %q does not name the limit", err)
			}
		})
	}
	// Exactly at the limits is fine.
	ok := []struct {
		doc string
		lim Limits
	}{
		{entries, Limits{MaxEntries: 11}},
		{big, Limits{MaxBytes: int64(len(big))}},
		{"<feed xmlns='" + AtomNS + "'><entry><sdata:payload xmlns:sdata='" + SDataNS + "'><a><b/></a></sdata:payload></entry></feed>", Limits{MaxDepth: 5}},
	}
	for i, tc := range ok {
		if _, err := ParseFeed(strings.NewReader(tc.doc), tc.lim); err != nil {
			t.Errorf("case %d at the limit: %v", i, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	atomNS := "xmlns='" + AtomNS + "'"
	syntax := []struct{ name, doc, msg string }{
		{"empty", "", "no root"},
		{"unclosed", "<feed " + atomNS + "><entry>\n</feed>", ""},
		{"truncated", "<feed " + atomNS + "><id>x</id>", "unexpected"},
		{"doctype", "<!DOCTYPE feed [<!ENTITY x 'y'>]><feed " + atomNS + ">&x;</feed>", "DOCTYPE"},
		{"entity", "<feed " + atomNS + "><title>&bogus;</title></feed>", ""},
		{"two roots", "<feed " + atomNS + "/><feed " + atomNS + "/>", "more than one root"},
		{"text before", "hello<feed " + atomNS + "/>", "before the root"},
		{"text after", "<feed " + atomNS + "/>trailing", "after the root"},
		{"bad utf8", "<feed " + atomNS + "><title>\xff</title></feed>", ""},
	}
	for _, tc := range syntax {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFeed(strings.NewReader(tc.doc), Limits{})
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("err = %v (%T), want *SyntaxError", err, err)
			}
			if se.Line < 1 || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q: want line >= 1 and mention of %q", err, tc.msg)
			}
		})
	}
	format := []struct{ name, doc, path, msg string }{
		{"wrong root", "<entry " + atomNS + "/>", "entry", "want atom:feed"},
		{"root without namespace", "<feed/>", "feed", "want atom:feed"},
		{"bad tick", "<feed " + atomNS + "><entry/><entry/><entry><syncState xmlns='" + SyncNS + "'><tick>five</tick></syncState></entry></feed>",
			"feed/entry[3]/syncState/tick", `"five" is not an integer`},
		{"bad digest tick", "<feed " + atomNS + "><digest xmlns='" + SyncNS + "'><digestEntry/><digestEntry><tick>1.5</tick></digestEntry></digest></feed>",
			"feed/digest/digestEntry[2]/tick", "integer"},
		{"bad updated", "<feed " + atomNS + "><updated>yesterday</updated></feed>", "feed/updated", "xs:dateTime"},
		{"bad status", "<feed " + atomNS + "><entry><httpStatus xmlns='" + HTTPNS + "'>OK</httpStatus></entry></feed>", "feed/entry[1]/httpStatus", "integer"},
		{"negative total", "<feed " + atomNS + "><totalResults xmlns='" + OpenSearchNS + "'>-3</totalResults></feed>", "feed/totalResults", "non-negative"},
		{"bad priority", "<feed " + atomNS + "><entry><payload xmlns='" + SDataNS + "'><digest xmlns='" + SyncNS + "'><digestEntry><conflictPriority>high</conflictPriority></digestEntry></digest></payload></entry></feed>",
			"feed/entry[1]/payload/digest/digestEntry[1]/conflictPriority", "integer"},
	}
	for _, tc := range format {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFeed(strings.NewReader(tc.doc), Limits{})
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v (%T), want *FormatError", err, err)
			}
			if fe.Path != tc.path || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q (path %q), want path %q and mention of %q", err, fe.Path, tc.path, tc.msg)
			}
		})
	}
}

func TestOtherDocumentRoots(t *testing.T) {
	var fe *FormatError
	if _, err := ParseDigest(strings.NewReader("<entry xmlns='"+AtomNS+"'><id>x</id></entry>"), Limits{}); !errors.As(err, &fe) || !strings.Contains(err.Error(), "sync:digest") {
		t.Errorf("ParseDigest on entry without digest: %v", err)
	}
	if _, err := ParseTracking(strings.NewReader("<tracking xmlns='urn:other'/>"), Limits{}); !errors.As(err, &fe) {
		t.Errorf("ParseTracking wrong namespace: %v", err)
	}
	if _, err := ParseDiagnoses(strings.NewReader("<diagnoses/>"), Limits{}); !errors.As(err, &fe) {
		t.Errorf("ParseDiagnoses without namespace: %v", err)
	}
	ds, err := ParseDiagnoses(strings.NewReader("<d:diagnosis xmlns:d='"+SDataNS+"'><d:severity> fatal </d:severity><d:sdataCode>BadUrlSyntax</d:sdataCode><d:message>bad &amp; worse</d:message></d:diagnosis>"), Limits{})
	if err != nil || len(ds) != 1 || ds[0] != (Diagnosis{Severity: "fatal", SDataCode: "BadUrlSyntax", Message: "bad & worse"}) {
		t.Errorf("single diagnosis = %+v, %v", ds, err)
	}
	tr, err := ParseTracking(strings.NewReader("<s:tracking xmlns:s='"+SDataNS+"'><s:progress>bad</s:progress></s:tracking>"), Limits{})
	if !errors.As(err, &fe) || fe.Path != "tracking/progress" {
		t.Errorf("bad progress: %v %v", tr, err)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

func TestReadErrorIsNotSyntaxError(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := ParseFeed(failingReader{boom}, Limits{})
	var se *SyntaxError
	if !errors.Is(err, boom) || errors.As(err, &se) {
		t.Fatalf("err = %v, want wrapped read error", err)
	}
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want string // RFC 3339 in UTC; "" = error
	}{
		{"2008-10-30T14:52:03.281Z", "2008-10-30T14:52:03.281Z"},
		{"2008-10-30T14:52:03Z", "2008-10-30T14:52:03Z"},
		{"2008-10-30T14:52:03", "2008-10-30T14:52:03Z"},
		{"2008-10-30T14:52:03.5", "2008-10-30T14:52:03.5Z"},
		{"2008-10-30T16:52:03+02:00", "2008-10-30T14:52:03Z"},
		{"2008-10-30T14:52:03.123456-00:30", "2008-10-30T15:22:03.123456Z"},
		{" 2008-10-30 ", "2008-10-30T00:00:00Z"},
		{"2008-10-30+01:00", "2008-10-29T23:00:00Z"},
		{"9999-12-31T23:59:59-01:00", ""}, // year 10000 in UTC
		{"2008-13-01T00:00:00Z", ""},
		{"2008-10-30T14:52", ""},
		{"30/10/2008", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, err := ParseTime(tc.in)
		if tc.want == "" {
			if err == nil {
				t.Errorf("ParseTime(%q) = %v, want error", tc.in, got)
			}
			continue
		}
		want, _ := time.Parse(time.RFC3339Nano, tc.want)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v in UTC", tc.in, got, err, want)
		}
	}
}

func TestFormatTime(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2008, 10, 30, 14, 52, 3, 281e6, time.UTC), "2008-10-30T14:52:03.281Z"},
		{time.Date(2008, 10, 30, 14, 52, 3, 0, time.UTC), "2008-10-30T14:52:03Z"},
		{time.Date(2008, 10, 30, 15, 52, 3, 500e6, cet), "2008-10-30T14:52:03.500Z"},
		{time.Date(2008, 10, 30, 14, 52, 3, 1500, time.UTC), "2008-10-30T14:52:03.0000015Z"},
	}
	for _, tc := range tests {
		got := FormatTime(tc.in)
		if got != tc.want {
			t.Errorf("FormatTime(%v) = %q, want %q", tc.in, got, tc.want)
		}
		back, err := ParseTime(got)
		if err != nil || !back.Equal(tc.in) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", got, back, err, tc.in)
		}
	}
}
