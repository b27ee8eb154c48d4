package metrics

import (
	"encoding/json"

	"sdatasync/sdata/store"
)

// outcomeLabel maps an outcome name that target.applied audit records
// count (a digest.Outcome name) to the outcome label.
func outcomeLabel(name string) (string, bool) {
	switch name {
	case "Apply":
		return Applied, true
	case "Skip":
		return Skipped, true
	case "ConflictSource", "ConflictTarget":
		return Conflicted, true
	case "invalid":
		return Invalid, true
	}
	return "", false
}

// Audited derives sync metrics from the audit records the job runtime
// writes: a target.applied record counts the entries of a page by outcome
// and times the page, a source.selected record times a selection.
func (m *Metrics) Audited(recs ...store.AuditRecord) {
	for _, a := range recs {
		switch a.Operation {
		case "target.applied":
			var counts map[string]int
			if json.Unmarshal([]byte(a.Detail), &counts) == nil {
				for name, n := range counts {
					if l, ok := outcomeLabel(name); ok {
						m.SyncEntries(a.Dataset, a.Kind, l, n)
					}
				}
			}
			m.JobDone(store.JobTarget, a.Kind, a.Duration)
		case "source.selected":
			m.JobDone(store.JobSource, a.Kind, a.Duration)
		}
	}
}
