package sdata_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"sdatasync/sdata/store"
)

// scrape GETs /metrics and parses it with Prometheus' own text parser.
func scrape(t *testing.T, base string, hdr ...string) map[string]*dto.MetricFamily {
	t.Helper()
	st, h, b := doWith(t, http.MethodGet, base+"/metrics", nil, hdr...)
	mustStatus(t, http.StatusOK, st, b)
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("/metrics Content-Type %q", ct)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parsing /metrics: %v\n%s", err, b)
	}
	return fams
}

// sample finds the value of the sample of family name whose labels include
// want (counter, gauge, or a histogram's count); ok is false when none.
func sample(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestMetrics scrapes /metrics after known traffic: requests are counted by
// route-table pattern (never the raw URL) and status, sync entries by kind
// and outcome as the audit log records them, and the job, store and device
// metrics exist with Prometheus names.
func TestMetrics(t *testing.T) {
	src, dst := newProvider(t, 3), newProvider(t, 5)
	const kind = "tradingAccounts"
	var keys []string
	for i := range 4 {
		keys = append(keys, src.create(kind, ta("Metric Ltd "+itoa(i), "M"+itoa(i))))
	}
	catchUp(t, src, dst, kind, 2, "metrics-1")
	// Concurrent edits of the same resources: conflicts at the target.
	for _, k := range keys[:2] {
		src.update(kind, k, ta("Source edit "+k, "S"+k))
		r, err := src.Store.Get(t.Context(), src.endpoint(kind), k)
		if err != nil {
			t.Fatal(err)
		}
		held, err := dst.Store.GetByUUID(t.Context(), dst.endpoint(kind), r.UUID)
		if err != nil {
			t.Fatal(err)
		}
		dst.update(kind, held.Key, ta("Target edit "+k, "T"+k))
	}
	catchUp(t, src, dst, kind, 10, "metrics-2")
	st, _, _ := do(t, http.MethodGet, dst.ResourceURL(kind, "no-such"), nil)
	mustStatus(t, http.StatusNotFound, st, nil)
	st, _, _ = do(t, http.MethodGet, dst.URL+"/nothing/here", nil)
	mustStatus(t, http.StatusNotFound, st, nil)

	fams := scrape(t, dst.URL)
	rows := map[string]bool{"unmatched": true}
	for _, rt := range dst.Server.Routes() {
		rows[rt.Pattern] = true
	}
	for name, f := range fams {
		if !strings.HasPrefix(name, "sdatasync_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") &&
			!strings.HasPrefix(name, "promhttp_") {
			t.Errorf("metric %s: not in the sdatasync namespace", name)
		}
		if f.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
		for _, m := range f.Metric {
			for _, l := range m.Label {
				if l.GetName() == "route" && !rows[l.GetValue()] {
					t.Errorf("%s: route label %q is a raw URL, not a route pattern", name, l.GetValue())
				}
			}
		}
	}
	// 2 updates at the target, by route pattern and status.
	if v, ok := sample(fams, "sdatasync_http_requests_total", map[string]string{"route": "/sdata/{app}/{contract}/{dataset}/{kind}('{key}')",
		"method": "PUT", "code": "200"}); !ok || v != 2 {
		t.Errorf("PUT one resource 200: %v %v, want 2", v, ok)
	}
	if v, ok := sample(fams, "sdatasync_http_requests_total", map[string]string{"route": "/sdata/{app}/{contract}/{dataset}/{kind}('{key}')",
		"method": "GET", "code": "404"}); !ok || v != 1 {
		t.Errorf("GET one resource 404: %v %v, want 1", v, ok)
	}
	if v, ok := sample(fams, "sdatasync_http_requests_total", map[string]string{"route": "unmatched", "code": "404"}); !ok || v != 1 {
		t.Errorf("unmatched 404: %v %v, want 1", v, ok)
	}
	// Pages applied at the target: 2 of the first pass, 1 of the second.
	if v, ok := sample(fams, "sdatasync_http_requests_total", map[string]string{"route": "/sdata/{app}/{contract}/{dataset}/{kind}/$syncTarget",
		"method": "POST", "code": "202"}); !ok || v != 3 {
		t.Errorf("POST $syncTarget 202: %v %v, want 3", v, ok)
	}
	if _, ok := sample(fams, "sdatasync_http_request_duration_seconds", map[string]string{"route": "/sdata/{app}/{contract}/{dataset}/{kind}/$syncTarget"}); !ok {
		t.Error("no latency histogram for $syncTarget")
	}
	// Entries by outcome: what the target's audit log says.
	recs, _, err := dst.Store.AuditLog(t.Context(), store.AuditQuery{Operation: "target.conflict"})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		t.Fatal("the second pass made no conflict")
	}
	if v, _ := sample(fams, "sdatasync_sync_entries_total", map[string]string{"kind": kind, "outcome": "conflicted"}); v != float64(len(recs)) {
		t.Errorf("conflicted entries %v, the audit log has %d conflicts", v, len(recs))
	}
	applied, _ := sample(fams, "sdatasync_sync_entries_total", map[string]string{"kind": kind, "outcome": "applied"})
	if applied < 4 {
		t.Errorf("applied entries %v, want at least the 4 of the first pass", applied)
	}
	if v, _ := sample(fams, "sdatasync_sync_job_duration_seconds", map[string]string{"type": "target", "kind": kind}); v != 3 {
		t.Errorf("target job durations observed %v, want 3 pages", v)
	}
	if v, _ := sample(fams, "sdatasync_store_write_duration_seconds", nil); v == 0 {
		t.Error("no store write observed")
	}
	if v, ok := sample(fams, "sdatasync_store_wal_size_bytes", nil); !ok || v <= 0 {
		t.Errorf("WAL size %v %v", v, ok)
	}
	if _, ok := sample(fams, "sdatasync_jobs_running", nil); !ok {
		t.Error("no jobs_running gauge")
	}
	if v, ok := sample(fams, "sdatasync_device_syncs_total", map[string]string{"status": "ok"}); !ok || v != 0 {
		t.Errorf("device syncs: %v %v, want a 0 sample", v, ok)
	}
	// The source selected twice.
	if v, _ := sample(scrape(t, src.URL), "sdatasync_sync_job_duration_seconds", map[string]string{"type": "source", "kind": kind}); v != 2 {
		t.Errorf("source selections observed %v, want 2", v)
	}
}

// TestMetricsRole: /metrics needs the auditor role and shows no secret.
func TestMetricsRole(t *testing.T) {
	p := securedProvider(t)
	for who, want := range map[string]int{"": 401, "reader": 403, "writer": 403, "auditor": 200, "admin": 200} {
		var hdr []string
		if who != "" {
			hdr = []string{"Authorization", "Bearer " + who}
		}
		st, _, b := doWith(t, http.MethodGet, p.URL+"/metrics", nil, hdr...)
		if st != want {
			t.Errorf("GET /metrics as %q: %d, want %d", who, st, want)
		}
		if st == 200 && bytes.Contains(b, []byte("Bearer")) {
			t.Error("a credential in /metrics")
		}
	}
}
