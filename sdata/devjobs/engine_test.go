package devjobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"

	"sdatasync/sdata/devjobs"
)

// stageEngine stands in for the device-sync engine of issue 14 until it
// is merged: the tests here are about the job layer (queue, supersede,
// uploads, restart, cursors, streaming), which reaches the engine only
// through devjobs.Engine. It keeps one change log per component (a
// version is a position in it); the rows a device sends join the log:
// later calls send them as server changes (a call leaves out the rows its
// results carry, like the engine of issue 14). It takes at most 100 rows a
// call, so that jobs merge in several steps. Gates let a test
// hold a device's merge (or a request's alias check) until it says so.
type stageEngine struct {
	mu      sync.Mutex
	log     map[string][]devjobs.Row // alias -> server changes, in order
	applied map[string]int           // device/alias/uid -> times applied
	applies int                      // Apply calls
	gates   map[string]chan struct{} // device or device/alias -> closed to let its merges go
	checks  map[string]chan struct{} // alias -> closed to let its checks go
	entered chan string              // "device/alias" when a merge starts
	checked chan string              // alias when a gated check starts
	next    int
	maxRows int
}

func newStageEngine(aliases ...string) *stageEngine {
	e := &stageEngine{log: map[string][]devjobs.Row{}, applied: map[string]int{}, gates: map[string]chan struct{}{},
		checks: map[string]chan struct{}{}, entered: make(chan string, 1024), checked: make(chan string, 64),
		maxRows: 100}
	for _, a := range aliases {
		e.log[a] = nil
	}
	return e
}

// hold makes the merges of device (or of "device/alias") wait until
// release.
func (e *stageEngine) hold(device string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gates[device] = make(chan struct{})
}

func (e *stageEngine) release(device string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if g := e.gates[device]; g != nil {
		close(g)
		delete(e.gates, device)
	}
}

// holdCheck makes the alias checks of alias wait until releaseCheck.
func (e *stageEngine) holdCheck(alias string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.checks[alias] = make(chan struct{})
}

func (e *stageEngine) releaseCheck(alias string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if g := e.checks[alias]; g != nil {
		close(g)
		delete(e.checks, alias)
	}
}

// serverChange adds a change made on the server.
func (e *stageEngine) serverChange(alias, uid string, row string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.log[alias] = append(e.log[alias], devjobs.Row{UID: uid, ActionID: devjobs.ActionUpdate, MDataRow: json.RawMessage(row)})
}

func (e *stageEngine) timesApplied(device, alias, uid string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.applied[device+"/"+alias+"/"+uid]
}

func (e *stageEngine) calls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.applies
}

func (e *stageEngine) Component(ctx context.Context, dev devjobs.Device, alias string) (devjobs.Component, error) {
	e.mu.Lock()
	_, ok := e.log[alias]
	g := e.checks[alias]
	e.mu.Unlock()
	if g != nil {
		e.checked <- alias
		select {
		case <-g:
		case <-ctx.Done():
			return devjobs.Component{}, ctx.Err()
		}
	}
	if !ok {
		return devjobs.Component{}, fmt.Errorf("no mobile sync component %q", alias)
	}
	return devjobs.Component{Alias: alias, Dataset: "-", Kind: "tradingAccounts"}, nil
}

func (e *stageEngine) Components(ctx context.Context, dev devjobs.Device) ([]devjobs.Component, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []devjobs.Component
	for _, a := range []string{"accounts", "contacts", "orders"} {
		if _, ok := e.log[a]; ok {
			out = append(out, devjobs.Component{Alias: a, Dataset: "-", Kind: "tradingAccounts"})
		}
	}
	return out, nil
}

func (e *stageEngine) MaxRows() int { return e.maxRows }

func (e *stageEngine) Sync(ctx context.Context, dev devjobs.Device, alias, version string, rows []devjobs.Row, limit int) (devjobs.Page, error) {
	if len(rows) > e.maxRows {
		return devjobs.Page{}, fmt.Errorf("%d rows in one call", len(rows))
	}
	if len(rows) > 0 {
		e.mu.Lock()
		g := e.gates[dev.ExternalID+"/"+alias]
		if g == nil {
			g = e.gates[dev.ExternalID]
		}
		e.mu.Unlock()
		e.entered <- dev.ExternalID + "/" + alias
		if g != nil {
			select {
			case <-g:
			case <-ctx.Done():
				return devjobs.Page{}, ctx.Err()
			}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	from := 0
	if version != "" {
		n, err := strconv.Atoi(version)
		if err != nil || n > len(e.log[alias]) {
			return devjobs.Page{}, fmt.Errorf("version %q refused", version)
		}
		from = n
	}
	told := map[int]bool{}
	var pg devjobs.Page
	if len(rows) > 0 {
		e.applies++
	}
	for _, r := range rows {
		ok := 0
		if r.UID == "" {
			e.next++
			r.UID = alias + "-" + strconv.Itoa(e.next)
		}
		var fields map[string]any
		_ = json.Unmarshal(r.MDataRow, &fields)
		if fields["fail"] == true {
			ok = 1
		} else {
			e.applied[dev.ExternalID+"/"+alias+"/"+r.UID]++
			told[len(e.log[alias])] = true
			e.log[alias] = append(e.log[alias], devjobs.Row{UID: r.UID, ActionID: r.ActionID, MDataRow: r.MDataRow})
		}
		r.RowStatus = &ok
		pg.Results = append(pg.Results, r)
	}
	l := e.log[alias]
	i := from
	for ; i < len(l) && len(pg.Changes) < limit; i++ {
		if !told[i] {
			pg.Changes = append(pg.Changes, l[i])
		}
	}
	pg.Next, pg.More = strconv.Itoa(i), i < len(l)
	return pg, nil
}
