package sdata

import (
	"sdatasync/sdata/devjobs"
	"sdatasync/sdata/store"
)

// newDevJobs creates the device job service (issue 15) over the server's
// store and job runtime.
func (s *Server) newDevJobs() *devjobs.Service {
	dc := s.cfg.DeviceJobs
	dc.Store, _ = s.st.(store.DevJobStore)
	dc.Jobs, dc.Log, dc.BaseURL = s.jobs, s.log, s.site.Base
	if dc.MaxBody <= 0 {
		dc.MaxBody = s.cfg.MaxBody
	}
	return devjobs.New(dc)
}

// DeviceJobs is the device job service.
func (s *Server) DeviceJobs() *devjobs.Service { return s.devjobs }
