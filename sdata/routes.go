package sdata

import (
	"net/http"

	"sdatasync/sdata/auth"
	"sdatasync/sdata/mobile"

	"sdatasync/sdata/syncurls"
)

// Patterns of the URL grammar (SData core 2), used by the route table.
const (
	system  = "/sdata/$system"
	adm     = system + "/admin/-"
	reg     = system + "/registry/-"
	app     = "/sdata/{app}"
	dataset = app + "/{contract}/{dataset}"
	kind    = dataset + "/{kind}"
	one     = dataset + "/{kind}('{key}')"
)

// Methods, shortened for the table.
const (
	GET    = http.MethodGet
	HEAD   = http.MethodHead
	POST   = http.MethodPost
	PUT    = http.MethodPut
	DELETE = http.MethodDelete
)

// routes is the route table: every URL the provider serves, with its
// methods, the role each needs (in the URL's dataset; above the dataset
// level, in any dataset) and its handler, and nothing else. A path matched by no row answers
// 404 BadUrlSyntax; a method not listed for a path answers 405 with Allow.
// Rows are matched in order: specific paths before the patterns that would
// also match them.
func (s *Server) routes() []route {
	sy, bt, rg, cs, mb, dj := s.sync, s.batch, s.registry, s.console, s.mobile, s.devjobs
	syncCheck := sy.Check
	return []route{
		// pattern                                     method  handler
		{pattern: "/healthz", method: GET, role: auth.Public, handle: s.health},
		{pattern: "/healthz", method: HEAD, role: auth.Public, handle: s.health},
		{pattern: "/sdata", method: GET, role: auth.Reader, handle: s.listApps},
		{pattern: "/metrics", method: GET, role: auth.Auditor, handle: s.serveMetrics},

		// The operations console (package console): its page and JSON APIs.
		{pattern: "/console", method: GET, role: auth.Auditor, handle: cs.Redirect},
		{pattern: "/console/api/endpoints", method: GET, role: auth.Auditor, handle: cs.Endpoints},
		{pattern: "/console/api/runs", method: GET, role: auth.Auditor, handle: cs.Runs},
		{pattern: "/console/api/run", method: GET, role: auth.Auditor, handle: cs.Run},
		{pattern: "/console/api/audit", method: GET, role: auth.Auditor, handle: cs.Audit},
		{pattern: "/console/api/jobs", method: GET, role: auth.Auditor, handle: cs.Jobs},
		{pattern: "/console/api/conflicts", method: GET, role: auth.Auditor, handle: cs.Conflicts},
		{pattern: "/console/api/conflicts('{id}')", method: GET, role: auth.Auditor, handle: cs.Conflict},
		{pattern: "/console/api/datasets/{dataset}/conflicts('{id}')/restore", method: POST, role: auth.Writer, handle: cs.Restore},
		{pattern: "/console/api/charts", method: GET, role: auth.Auditor, handle: cs.Charts},
		{pattern: "/console/api/registry", method: GET, role: auth.Auditor, handle: cs.Registry},
		{pattern: "/console/api/devices", method: GET, role: auth.Auditor, handle: cs.Devices},
		{pattern: "/console/api/components", method: GET, role: auth.Auditor, handle: cs.Components},
		{pattern: "/console/", method: GET, role: auth.Auditor, handle: cs.Assets},
		{pattern: "/console/{file}", method: GET, role: auth.Auditor, handle: cs.Assets},

		// The synchronize service of device sync (issue 14): devices, or backend notifications.
		{pattern: "/invoke/wm.mobile.datasync/synchronize", method: POST, role: auth.Device, handle: mb.Synchronize(s.cfg.MaxBody, false),
			orRoles: []auth.Role{auth.Writer, auth.Sync}, orWhen: notDevice},

		// The endpoint registry (core 14).
		{pattern: reg + "/endpoints", method: GET, role: auth.Auditor, handle: rg.List},
		{pattern: reg + "/endpoints", method: POST, role: auth.Admin, handle: rg.Register},
		{pattern: reg + "/endpoints('{id}')", method: GET, role: auth.Auditor, handle: rg.Get},
		{pattern: reg + "/endpoints('{id}')", method: PUT, role: auth.Admin, handle: rg.Update},
		{pattern: reg + "/endpoints('{id}')", method: DELETE, role: auth.Admin, handle: rg.Delete},
		{pattern: reg + "/{seg}", method: anyMethod, role: auth.Auditor, handle: s.registryUnknown(rg.Collection)},
		{pattern: reg + "/{seg}/{op}", method: anyMethod, role: auth.Auditor, handle: s.registryUnknown(rg.NoService)},
		// Device sync (issue 14): mobile sync components, the device registry, version keys.
		{pattern: system + "/mobile/components", method: GET, role: auth.Auditor, handle: mb.ListComponents()},
		{pattern: system + "/mobile/components", method: POST, role: auth.Admin, handle: mb.CreateComponent(s.cfg.MaxBody)},
		{pattern: system + "/mobile/components('{id}')", method: GET, role: auth.Auditor, handle: mb.GetComponent()},
		{pattern: system + "/mobile/components('{id}')", method: PUT, role: auth.Admin, handle: mb.ReplaceComponent(s.cfg.MaxBody)},
		{pattern: system + "/mobile/components('{id}')", method: DELETE, role: auth.Admin, handle: mb.RemoveComponent()},
		{pattern: system + "/mobile/devices", method: GET, role: auth.Auditor, handle: mb.Devices()},
		{pattern: system + "/mobile/$rotateKey", method: POST, role: auth.Admin, handle: mb.RotateKeyHandler()},

		// Users and API tokens (JSON; admin in every dataset, see package admin).
		{pattern: adm + "/users", method: GET, role: auth.Admin, handle: s.admin.Users()},
		{pattern: adm + "/users", method: POST, role: auth.Admin, handle: s.admin.Users()},
		{pattern: adm + "/users('{id}')", method: GET, role: auth.Admin, handle: s.admin.User()},
		{pattern: adm + "/users('{id}')", method: PUT, role: auth.Admin, handle: s.admin.User()},
		{pattern: adm + "/users('{id}')", method: DELETE, role: auth.Admin, handle: s.admin.User()},
		{pattern: adm + "/tokens", method: GET, role: auth.Admin, handle: s.admin.Tokens()},
		{pattern: adm + "/tokens", method: POST, role: auth.Admin, handle: s.admin.Tokens()},
		{pattern: adm + "/tokens('{id}')", method: GET, role: auth.Admin, handle: s.admin.Token()},
		{pattern: adm + "/tokens('{id}')", method: DELETE, role: auth.Admin, handle: s.admin.Token()},
		{pattern: system + "{rest}", method: anyMethod, role: auth.Auditor, handle: rg.SystemNotFound},

		// Application, contract and dataset levels, $schema of the contract.
		{pattern: app, method: GET, role: auth.Reader, handle: s.listContracts},
		{pattern: app + "/{contract}", method: GET, role: auth.Reader, handle: s.listDatasets},
		{pattern: app + "/{contract}/$schema", method: GET, role: auth.Reader, also: auth.Sync, handle: s.contractSchema},
		{pattern: dataset, method: GET, role: auth.Reader, handle: s.listKinds},
		{pattern: dataset + "/$schema", method: GET, role: auth.Reader, also: auth.Sync, handle: s.contractSchema},
		{pattern: dataset + "/$syncLog", method: GET, role: auth.Auditor, handle: sy.Log()},
		{pattern: dataset + "/$mobile/synchronize", method: POST, role: auth.Device, handle: mb.Synchronize(s.cfg.MaxBody, true),
			orRoles: []auth.Role{auth.Writer, auth.Sync}, orWhen: notDevice},

		// Resources (CRUD, query, paging) and their metadata.
		{pattern: kind, method: GET, role: auth.Reader, handle: s.list, byContract: true},
		{pattern: kind, method: POST, role: auth.Writer, handle: s.audited("resource", s.create), byContract: true},
		{pattern: one, method: GET, role: auth.Reader, handle: s.get, byContract: true},
		{pattern: one, method: PUT, role: auth.Writer, handle: s.audited("resource", s.update), byContract: true},
		{pattern: one, method: DELETE, role: auth.Writer, handle: s.audited("resource", s.delete), byContract: true},
		{pattern: kind + "/$schema", method: GET, role: auth.Reader, also: auth.Sync, handle: s.kindSchema},
		{pattern: kind + "/$template", method: GET, role: auth.Reader, handle: s.template},

		// Synchronization (sync 3): the four URLs and the audit log.
		{pattern: kind + "/$syncDigest", method: GET, role: auth.Sync, handle: sy.Digest(), check: syncCheck(syncurls.OpDigest)},
		{pattern: kind + "/$syncDigest", method: PUT, role: auth.Sync, handle: sy.Digest()},
		{pattern: kind + "/$syncDigest", method: POST, role: auth.Sync, handle: sy.Digest()},
		{pattern: kind + "/$syncSource", method: POST, role: auth.Sync, handle: sy.StartSource(), check: syncCheck(syncurls.OpSource)},
		{pattern: kind + "/$syncSource", method: GET, role: auth.Sync, handle: sy.PollSource()},
		{pattern: kind + "/$syncSource", method: DELETE, role: auth.Sync, handle: sy.FreeSource()},
		{pattern: kind + "/$syncSource('{id}')", method: GET, role: auth.Sync, handle: sy.PollSource(), check: syncCheck(syncurls.OpSource)},
		{pattern: kind + "/$syncSource('{id}')", method: DELETE, role: auth.Sync, handle: sy.FreeSource()},
		{pattern: kind + "/$syncTarget", method: POST, role: auth.Sync, handle: sy.StartTarget(), check: syncCheck(syncurls.OpTarget)},
		{pattern: kind + "/$syncTarget", method: GET, role: auth.Sync, handle: sy.PollTarget()},
		{pattern: kind + "/$syncTarget", method: DELETE, role: auth.Sync, handle: sy.FreeTarget()},
		{pattern: kind + "/$syncTarget('{id}')", method: GET, role: auth.Sync, handle: sy.PollTarget(), check: syncCheck(syncurls.OpTarget)},
		{pattern: kind + "/$syncTarget('{id}')", method: DELETE, role: auth.Sync, handle: sy.FreeTarget()},
		{pattern: kind + "/$syncResults", method: POST, role: auth.Sync, handle: sy.Results(), check: syncCheck(syncurls.OpResults)},
		{pattern: kind + "/$syncLog", method: GET, role: auth.Auditor, handle: sy.Log()},
		{pattern: kind + "/$syncLog('{id}')/$undo", method: POST, role: auth.Admin, handle: sy.UndoDigest()},

		// Linking (sync 6): UUIDs of local resources.
		{pattern: kind + "/$linked", method: GET, role: auth.Writer, handle: s.linkedFeed},
		{pattern: kind + "/$linked", method: POST, role: auth.Writer, handle: s.audited("link", s.link)},
		{pattern: kind + "/$linked('{id}')", method: GET, role: auth.Writer, handle: s.getLink, check: checkLinkID},
		{pattern: kind + "/$linked('{id}')", method: PUT, role: auth.Writer, handle: s.audited("link", s.relink)},
		{pattern: kind + "/$linked('{id}')", method: DELETE, role: auth.Writer, handle: s.audited("link", s.unlink)},

		// Batches (core 13.3 to 13.6).
		{pattern: kind + "/$batch", method: POST, role: auth.Writer, handle: bt.Post(), check: syncurls.CheckTracking},
		{pattern: kind + "/$batch", method: GET, role: auth.Writer, handle: bt.Poll()},
		{pattern: kind + "/$batch", method: DELETE, role: auth.Writer, handle: bt.Free()},
		{pattern: kind + "/$batch('{id}')", method: GET, role: auth.Writer, handle: bt.Poll(), check: syncurls.CheckTracking},
		{pattern: kind + "/$batch('{id}')", method: DELETE, role: auth.Writer, handle: bt.Free()},

		// Property URLs: what a relationship property of a resource names.
		{pattern: one + "/{op}", method: GET, role: auth.Reader, handle: s.property},

		// Asynchronous device sync jobs (issue 15): a device credential for
		// its own device (checked by the handlers), or an admin.
		{pattern: "/sync", method: POST, role: auth.Device, handle: dj.Post},
		{pattern: "/sync/jobinfo/{id}", method: GET, role: auth.Device, handle: dj.Info},
		{pattern: "/sync/results/{id}/local", method: GET, role: auth.Device, handle: dj.LocalResults},
		{pattern: "/sync/results/{id}/remote", method: GET, role: auth.Device, handle: dj.RemoteResults},
		{pattern: "/sync/uploads", method: POST, role: auth.Device, handle: dj.CreateUpload},
		{pattern: "/sync/uploads/{id}", method: PUT, role: auth.Device, handle: dj.PutUpload},

		// Anything else below a kind: a service this provider does not have.
		{pattern: kind + "/{op}", method: anyMethod, role: auth.Reader, handle: s.unknownService},
	}
}

// notDevice reports whether a synchronize request is a backend
// notification (neither mobile app header).
func notDevice(r *http.Request) bool { return !mobile.IsDeviceRequest(r) }
