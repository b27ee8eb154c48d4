package feeds

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"

	"sdatasync/digest"
)

// benchEntry builds a realistic sync feed entry: a trading account with 15
// properties, one of them a reference and one a child list.
func benchEntry(b testing.TB, i int) *Entry {
	b.Helper()
	doc := fmt.Sprintf(`<tradingAccount xmlns="http://schemas.sage.com/crmErp/2008" xmlns:sdata="%s" xmlns:xsi="%s" sdata:uuid="6f1e3b52-0d2a-4c1b-8e8e-%012d" sdata:key="ACC-%d">
  <active>true</active>
  <customerSupplierFlag>Customer</customerSupplierFlag>
  <companyPersonFlag>Company</companyPersonFlag>
  <name>Abbey Kitchens &amp; Baths %d</name>
  <reference>ABB%05d</reference>
  <reference2 xsi:nil="true"/>
  <openedDate>2019-05-01</openedDate>
  <currency>GBP</currency>
  <creditLimit>25000.00</creditLimit>
  <balance>1234.56</balance>
  <onHold>false</onHold>
  <taxReference>GB123456789</taxReference>
  <website>https://abbey.example.com</website>
  <invoiceTradingAccount sdata:uuid="9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"/>
  <postalAddresses sdata:deleteMissing="true">
    <postalAddress sdata:uuid="11111111-2222-4333-8444-%012d"><type>Billing</type><address1>1 High Street</address1><townCity>Newcastle</townCity><postcode>NE1 1AA</postcode></postalAddress>
  </postalAddresses>
</tradingAccount>`, SDataNS, XSINS, i, i, i, i, i)
	p, err := ParsePayload(bytes.NewReader([]byte(doc)), Limits{})
	if err != nil {
		b.Fatal(err)
	}
	stamp := time.Date(2024, 2, 29, 9, 0, 0, 125e6, time.UTC).Add(time.Duration(i) * time.Second)
	url := fmt.Sprintf("http://erp.example.com/sdata/erp/crmErp/-/tradingAccounts('ACC-%d')", i)
	return &Entry{
		ID: url, Title: "Abbey Kitchens & Baths", Updated: stamp,
		Links:      []Link{{Rel: "edit", Type: "application/atom+xml; type=entry", Href: url}},
		HTTPMethod: "PUT",
		SyncState:  &digest.SyncState{Endpoint: "http://erp.example.com/sdata/erp/crmErp/-/tradingAccounts", Tick: int64(i + 1), Stamp: stamp},
		Payload:    p,
	}
}

func benchFeed(b testing.TB, n int) *Feed {
	f := &Feed{ID: "urn:bench", Title: "bench", Updated: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC), TotalResults: n, SyncMode: "catchUp",
		Digest: &digest.Digest{Origin: "http://a.example/x", Entries: []digest.Entry{{Endpoint: "http://a.example/x", Tick: int64(n + 1), ConflictPriority: 1}}}}
	for i := range n {
		f.Entries = append(f.Entries, benchEntry(b, i))
	}
	return f
}

func BenchmarkEncodeEntry(b *testing.B) {
	e := benchEntry(b, 1)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteEntry(io.Discard, e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEntry(b *testing.B) {
	var buf bytes.Buffer
	if err := WriteEntry(&buf, benchEntry(b, 1)); err != nil {
		b.Fatal(err)
	}
	doc := buf.Bytes()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseEntry(bytes.NewReader(doc), Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeFeed1000(b *testing.B) {
	f := benchFeed(b, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteFeed(io.Discard, f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/entry")
}

// benchRead measures read on a written feed of 1000 bench entries; check
// says whether what it read is the whole feed.
func benchRead(b *testing.B, read func(io.Reader, Limits) (*Feed, error), check func(*Feed) bool) {
	var buf bytes.Buffer
	if err := WriteFeed(&buf, benchFeed(b, 1000)); err != nil {
		b.Fatal(err)
	}
	doc := buf.Bytes()
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		f, err := read(bytes.NewReader(doc), Limits{})
		if err != nil || !check(f) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/entry")
}

func BenchmarkDecodeFeed1000(b *testing.B) {
	benchRead(b, ParseFeed, func(f *Feed) bool { return len(f.Entries) == 1000 && f.Entries[999].Payload != nil })
}

// BenchmarkScanFeed1000 is what the engine and the result log pay per page:
// the feed checked and read without payload trees.
func BenchmarkScanFeed1000(b *testing.B) {
	benchRead(b, ScanFeed, func(f *Feed) bool { return len(f.Entries) == 1000 && f.Entries[999].UUID != "" })
}
