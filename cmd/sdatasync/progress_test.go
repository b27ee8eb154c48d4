package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"sdatasync/sdata/engine"
)

func TestProgressBarOf(t *testing.T) {
	for _, tc := range []struct {
		done, total, width int
		want               string
	}{
		{0, 100, 10, "[··········]   0%"},
		{50, 100, 10, "[#####·····]  50%"},
		{99, 100, 10, "[#########·]  99%"},
		{100, 100, 10, "[##########] 100%"},
		{150, 100, 10, "[##########] 100%"},
		{-3, 100, 4, "[····]   0%"},
		{5, -1, 4, "[····]    ?%"},
		{5, 0, 4, "[····]    ?%"},
	} {
		if got := progressBarOf(tc.done, tc.total, tc.width); got != tc.want {
			t.Errorf("progressBarOf(%d, %d, %d) = %q, want %q", tc.done, tc.total, tc.width, got, tc.want)
		}
	}
}

func TestProgressMode(t *testing.T) {
	for _, tc := range []struct {
		flag     string
		terminal bool
		want     string
		bad      bool
	}{
		{"", true, progressBar, false},
		{"", false, progressPlain, false},
		{"bar", false, progressBar, false},
		{"plain", true, progressPlain, false},
		{"none", true, progressNone, false},
		{"fancy", true, "", true},
	} {
		got, err := progressMode(tc.flag, tc.terminal)
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("progressMode(%q, %v) = %q, %v", tc.flag, tc.terminal, got, err)
		}
	}
}

// TestProgressPrinter: bar draws a live line with the bar, rate and ETA;
// plain writes a line per page; none writes nothing.
func TestProgressPrinter(t *testing.T) {
	page := engine.Progress{Source: "http://a:1/sdata/x/gcrm/crm/contacts", Target: "http://b:2/sdata/x/gcrm/erp/contacts", Kind: "contacts",
		Phase: "page", Page: 2, Entries: 500, Total: 1000, Elapsed: time.Second, Remaining: time.Second}
	for _, tc := range []struct {
		p    *progressPrinter
		want []string
	}{
		{&progressPrinter{live: true}, []string{"\r\033[K", "[##########··········]  50%", "500/1000 entries", "500/s", "ETA 1s"}},
		{&progressPrinter{}, []string{"pass: contacts a:1/crm -> b:2/erp: page 2, 500/1000 entries, 500 entries/s\n"}},
		{&progressPrinter{quiet: true}, nil},
	} {
		var buf bytes.Buffer
		tc.p.w = &buf
		tc.p.report(page)
		out := buf.String()
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("live=%v quiet=%v: %q lacks %q", tc.p.live, tc.p.quiet, out, w)
			}
		}
		if tc.want == nil && out != "" {
			t.Errorf("none printed %q", out)
		}
	}
}
