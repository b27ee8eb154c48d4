package sdata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"sdatasync/sdata/devjobs"
	"sdatasync/sdata/diag"
	"sdatasync/sdata/mobile"
	"sdatasync/sdata/store"
)

// newDevJobs creates the device job service (issue 15) over the server's
// store and job runtime. Its jobs run on the server's device-sync engine,
// the one of the synchronize service (package mobile): one engine, two
// wire formats. Config.DeviceJobs.Engine, when set, replaces it (tests).
func (s *Server) newDevJobs() (*devjobs.Service, error) {
	dc := s.cfg.DeviceJobs
	dc.Store, _ = s.st.(store.DevJobStore)
	dc.Jobs, dc.Log, dc.BaseURL = s.jobs, s.log, s.site.Base
	if dc.MaxBody <= 0 {
		dc.MaxBody = s.cfg.MaxBody
	}
	if dc.Engine == nil && s.mobile != nil {
		dc.Engine = mobileJobs{s.mobile}
	}
	return devjobs.New(dc), nil
}

// DeviceJobs is the device job service.
func (s *Server) DeviceJobs() *devjobs.Service { return s.devjobs }

// mobileJobs is the device-sync engine as device jobs use it: a job's
// device is a device caller of the synchronize service whose application
// and version are the job's BrandedAppID and SoftwareVersion.
type mobileJobs struct{ e *mobile.Engine }

var _ devjobs.Engine = mobileJobs{}

// caller is the synchronize caller of a job's device.
func caller(dev devjobs.Device) mobile.Caller {
	return mobile.Caller{Device: dev.ExternalID, User: dev.Principal, App: dev.App, AppVersion: dev.AppVersion}
}

// usable says why dev may not sync component c ("" when it may).
func usable(c mobile.Component, dev devjobs.Device) string {
	switch {
	case dev.App == "" || dev.AppVersion == "":
		return "a device job names its mobile application and version (BrandedAppID and SoftwareVersion)"
	case c.State != mobile.Enabled:
		return fmt.Sprintf("mobile sync component %s is %s", c.Alias, c.State)
	case !c.Allows(dev.App, dev.AppVersion):
		return fmt.Sprintf("application %s version %s is not associated with mobile sync component %s", dev.App, dev.AppVersion, c.Alias)
	case len(c.FilterKeys) > 0 && len(dev.Filters[c.Alias]) == 0:
		return fmt.Sprintf("mobile sync component %s filters on %v: send Filters.%s", c.Alias, c.FilterKeys, c.Alias)
	}
	return ""
}

func (m mobileJobs) Component(ctx context.Context, dev devjobs.Device, alias string) (devjobs.Component, error) {
	c, err := m.e.Component(ctx, alias)
	if errors.Is(err, store.ErrNotFound) {
		return devjobs.Component{}, fmt.Errorf("no mobile sync component %q", alias)
	}
	if err != nil {
		return devjobs.Component{}, err
	}
	if why := usable(c, dev); why != "" {
		return devjobs.Component{}, errors.New(why)
	}
	return devjobs.Component{Alias: c.Alias, Dataset: c.Dataset, Kind: c.Kind}, nil
}

func (m mobileJobs) Components(ctx context.Context, dev devjobs.Device) ([]devjobs.Component, error) {
	list, err := m.e.Components(ctx)
	if err != nil {
		return nil, err
	}
	var out []devjobs.Component
	for _, c := range list {
		if usable(c, dev) == "" {
			out = append(out, devjobs.Component{Alias: c.Alias, Dataset: c.Dataset, Kind: c.Kind})
		}
	}
	return out, nil
}

func (m mobileJobs) MaxRows() int { return m.e.Limits().RowsPerRequest }

// Sync is one synchronize call. A component that refuses the call as a
// whole (statusCode 30 or 31: nothing applied) fails each row sent
// (rowStatus 1, with the reason) and sends no changes; a lastVersion the
// engine refuses (the component changed since the cursor was issued) is
// replaced by a full download, conservatively.
func (m mobileJobs) Sync(ctx context.Context, dev devjobs.Device, alias, version string, rows []devjobs.Row, limit int) (devjobs.Page, error) {
	in := make([]mobile.InputRow, len(rows))
	for i, r := range rows {
		in[i] = mobile.InputRow{UID: r.UID, ActionID: r.ActionID}
		if len(r.MDataRow) > 0 {
			if err := json.Unmarshal(r.MDataRow, &in[i].Record); err != nil {
				return devjobs.Page{}, fmt.Errorf("row %d: %w", i, err)
			}
		}
	}
	var pg devjobs.Page
	req := mobile.Request{Alias: alias, Caller: caller(dev), LastVersion: version, Filter: dev.Filters[alias], Rows: in,
		PageSize: limit, RequestID: dev.Job, RunName: "device:" + dev.ExternalID, RunStamp: dev.RunStamp}
	emit := func(o mobile.OutputRow) error {
		r := devjobs.Row{UID: o.UID, ActionID: o.ActionID, Message: o.Message}
		if len(o.Record) > 0 || o.ActionID != devjobs.ActionDelete {
			b, err := json.Marshal(o.Record)
			if err != nil {
				return err
			}
			r.MDataRow = b
		}
		if len(pg.Results) < len(rows) {
			st := o.RowStatus
			r.RowStatus = &st
			pg.Results = append(pg.Results, r)
		} else {
			pg.Changes = append(pg.Changes, r)
		}
		return nil
	}
	res, err := m.e.Sync(ctx, req, emit)
	var de *diag.Error
	if errors.As(err, &de) && version != "" && len(pg.Results) == 0 {
		req.LastVersion, pg = "", devjobs.Page{}
		res, err = m.e.Sync(ctx, req, emit)
	}
	if err != nil {
		return devjobs.Page{}, err
	}
	switch res.StatusCode {
	case mobile.StatusOK:
	case mobile.StatusInvalid, mobile.StatusBadFilter:
		failed := 1
		pg = devjobs.Page{Next: version}
		for _, r := range rows {
			pg.Results = append(pg.Results, devjobs.Row{UID: r.UID, ActionID: r.ActionID, MDataRow: r.MDataRow, RowStatus: &failed,
				Message: fmt.Sprintf("statusCode %d: %s", res.StatusCode, res.Message)})
		}
		return pg, nil
	default:
		return devjobs.Page{}, fmt.Errorf("the device-sync engine answered statusCode %d: %s", res.StatusCode, res.Message)
	}
	pg.Next, pg.More = res.CurrentVersion, res.HasMore
	return pg, nil
}
