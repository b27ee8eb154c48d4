package mobile

// The decision for one device row against the server's row: pure, so that
// every rule is tested table by table (decide_test.go).

// Action ids of rows (inputPayload actionId, outputPayload actionId).
const (
	ActInsert = 0
	ActDelete = 1
	ActUpdate = 2
)

// Row statuses (outputPayload rowStatus).
const (
	RowOK           = 0 // the action succeeded
	RowFailed       = 1 // it failed
	RowResolved     = 2 // a conflict, resolved by the component's rule; the resolved data is sent back
	RowUnresolvable = 3 // a conflict the information at hand cannot resolve: resubmit
)

// Situation is what is known when a device row arrives.
type Situation struct {
	Action int
	Device Record // the device's fields (insert, update)
	// Server is the server's row; ServerLive says it exists and is not a
	// tombstone.
	Server     Record
	ServerLive bool
	// Changed says the server's row changed since the version the device
	// last saw of it (from the held base, or else from its lastVersion).
	Changed bool
	// Base is the record the device last held (storeBusinessData), for a
	// field-level merge; HasBase says it is known.
	Base    Record
	HasBase bool
	// Backend: a backend notification, applied as authoritative.
	Backend        bool
	Rule, Fallback string
}

// Resolution is what to do and what to answer.
type Resolution struct {
	// Write says the row changes; Delete that it ends as a tombstone,
	// else with Result (the complete record of simple properties).
	Write  bool
	Delete bool
	Result Record
	// Status is the rowStatus; Winner names who won a conflict (device,
	// server, merge) and Lost is what lost (audited, never dropped
	// silently): the losing record, or for merge the losing field values.
	Status      int
	Winner      string
	Lost        Record
	LostDeleted bool
}

// get returns a field, missing fields reading as null.
func get(r Record, name string) Field {
	if f, ok := r.Get(name); ok {
		return f
	}
	return Field{Name: name, Null: true}
}

// overlay returns base with the fields of top set over it.
func overlay(base, top Record) Record {
	out := append(Record(nil), base...)
	for _, f := range top {
		out = out.set(f)
	}
	return out.sorted()
}

// contains reports whether every field of dev holds the same value in srv.
func contains(srv, dev Record) bool {
	for _, f := range dev {
		if !get(srv, f.Name).Equal(f) {
			return false
		}
	}
	return true
}

// Decide resolves one device row.
func Decide(s Situation) Resolution {
	// What the server's row already contains is neither applied again nor
	// a conflict: retries get the same outcome.
	switch s.Action {
	case ActDelete:
		if !s.ServerLive {
			return Resolution{Status: RowOK, Delete: true}
		}
	default:
		if s.ServerLive && contains(s.Server, s.Device) {
			return Resolution{Status: RowOK, Result: s.Server}
		}
	}
	deviceWins := func(conflict bool) Resolution {
		r := Resolution{Write: true, Status: RowOK}
		if s.Action == ActDelete {
			r.Delete = true
		} else if s.ServerLive && s.Action == ActUpdate || s.ServerLive && !conflict {
			r.Result = overlay(s.Server, s.Device)
		} else {
			r.Result = s.Device.sorted()
		}
		if conflict {
			r.Status, r.Winner = RowResolved, "device"
			r.Lost, r.LostDeleted = s.Server, !s.ServerLive
		}
		return r
	}
	if s.Backend || !s.Changed || s.Action == ActInsert && !s.ServerLive {
		return deviceWins(false)
	}
	serverWins := func() Resolution {
		r := Resolution{Status: RowResolved, Winner: "server", Delete: !s.ServerLive, Result: s.Server}
		if s.Action == ActDelete {
			r.LostDeleted = true
		} else {
			r.Lost = s.Device
		}
		return r
	}
	rule := s.Rule
	if rule == Merge {
		if !s.HasBase {
			return Resolution{Status: RowUnresolvable, Result: s.Server, Delete: !s.ServerLive}
		}
		if s.Action == ActDelete || !s.ServerLive {
			rule = s.Fallback // a delete against a change: no fields to merge
		} else {
			return merge(s)
		}
	}
	if rule == ClientWins {
		return deviceWins(true)
	}
	return serverWins()
}

// merge keeps the fields only one side changed since the base and decides
// the fields both changed (to different values) by the fallback rule.
func merge(s Situation) Resolution {
	result := append(Record(nil), s.Server...)
	var lost Record
	for _, dv := range s.Device {
		n := dv.Name
		b, sv := get(s.Base, n), get(s.Server, n)
		devChanged, srvChanged := !dv.Equal(b), !sv.Equal(b)
		switch {
		case !devChanged || dv.Equal(sv):
		case !srvChanged:
			result = result.set(dv)
		case s.Fallback == ClientWins:
			result = result.set(dv)
			lost = append(lost, sv)
		default:
			lost = append(lost, dv)
		}
	}
	// Both sides changed the row since the base: a conflict, resolved by
	// merging; the device gets the merged row back.
	r := Resolution{Result: result.sorted(), Status: RowResolved, Winner: "merge", Lost: lost.sorted()}
	r.Write = !contains(s.Server, r.Result)
	return r
}
