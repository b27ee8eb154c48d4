package sdata

import (
	"net/http"

	"sdatasync/sdata/syncurls"
)

// Patterns of the URL grammar (SData core 2), used by the route table.
const (
	system  = "/sdata/$system"
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
// methods and handlers, and nothing else. A path matched by no row answers
// 404 BadUrlSyntax; a method not listed for a path answers 405 with Allow.
// Rows are matched in order: specific paths before the patterns that would
// also match them.
func (s *Server) routes() []route {
	sy, bt, rg := s.sync, s.batch, s.registry
	syncCheck := sy.Check
	return []route{
		// pattern                                     method  handler
		{pattern: "/healthz", method: GET, handle: s.health},
		{pattern: "/healthz", method: HEAD, handle: s.health},
		{pattern: "/sdata", method: GET, handle: s.listApps},

		// The endpoint registry (core 14).
		{pattern: reg + "/endpoints", method: GET, handle: rg.List},
		{pattern: reg + "/endpoints", method: POST, handle: rg.Register},
		{pattern: reg + "/endpoints('{id}')", method: GET, handle: rg.Get},
		{pattern: reg + "/endpoints('{id}')", method: PUT, handle: rg.Update},
		{pattern: reg + "/endpoints('{id}')", method: DELETE, handle: rg.Delete},
		{pattern: reg + "/{seg}", method: anyMethod, handle: s.registryUnknown(rg.Collection)},
		{pattern: reg + "/{seg}/{op}", method: anyMethod, handle: s.registryUnknown(rg.NoService)},
		{pattern: system + "{rest}", method: anyMethod, handle: rg.SystemNotFound},

		// Application, contract and dataset levels, $schema of the contract.
		{pattern: app, method: GET, handle: s.listContracts},
		{pattern: app + "/{contract}", method: GET, handle: s.listDatasets},
		{pattern: app + "/{contract}/$schema", method: GET, handle: s.contractSchema},
		{pattern: dataset, method: GET, handle: s.listKinds},
		{pattern: dataset + "/$schema", method: GET, handle: s.contractSchema},
		{pattern: dataset + "/$syncLog", method: GET, handle: sy.Log()},

		// Resources (CRUD, query, paging) and their metadata.
		{pattern: kind, method: GET, handle: s.list, byContract: true},
		{pattern: kind, method: POST, handle: s.create, byContract: true},
		{pattern: one, method: GET, handle: s.get, byContract: true},
		{pattern: one, method: PUT, handle: s.update, byContract: true},
		{pattern: one, method: DELETE, handle: s.delete, byContract: true},
		{pattern: kind + "/$schema", method: GET, handle: s.kindSchema},
		{pattern: kind + "/$template", method: GET, handle: s.template},

		// Synchronization (sync 3): the four URLs and the audit log.
		{pattern: kind + "/$syncDigest", method: GET, handle: sy.Digest(), check: syncCheck(syncurls.OpDigest)},
		{pattern: kind + "/$syncDigest", method: PUT, handle: sy.Digest()},
		{pattern: kind + "/$syncDigest", method: POST, handle: sy.Digest()},
		{pattern: kind + "/$syncSource", method: POST, handle: sy.StartSource(), check: syncCheck(syncurls.OpSource)},
		{pattern: kind + "/$syncSource", method: GET, handle: sy.PollSource()},
		{pattern: kind + "/$syncSource", method: DELETE, handle: sy.FreeSource()},
		{pattern: kind + "/$syncSource('{id}')", method: GET, handle: sy.PollSource(), check: syncCheck(syncurls.OpSource)},
		{pattern: kind + "/$syncSource('{id}')", method: DELETE, handle: sy.FreeSource()},
		{pattern: kind + "/$syncTarget", method: POST, handle: sy.StartTarget(), check: syncCheck(syncurls.OpTarget)},
		{pattern: kind + "/$syncTarget", method: GET, handle: sy.PollTarget()},
		{pattern: kind + "/$syncTarget", method: DELETE, handle: sy.FreeTarget()},
		{pattern: kind + "/$syncTarget('{id}')", method: GET, handle: sy.PollTarget(), check: syncCheck(syncurls.OpTarget)},
		{pattern: kind + "/$syncTarget('{id}')", method: DELETE, handle: sy.FreeTarget()},
		{pattern: kind + "/$syncResults", method: POST, handle: sy.Results(), check: syncCheck(syncurls.OpResults)},
		{pattern: kind + "/$syncLog", method: GET, handle: sy.Log()},

		// Linking (sync 6): UUIDs of local resources.
		{pattern: kind + "/$linked", method: GET, handle: s.linkedFeed},
		{pattern: kind + "/$linked", method: POST, handle: s.link},
		{pattern: kind + "/$linked('{id}')", method: GET, handle: s.getLink, check: checkLinkID},
		{pattern: kind + "/$linked('{id}')", method: PUT, handle: s.relink},
		{pattern: kind + "/$linked('{id}')", method: DELETE, handle: s.unlink},

		// Batches (core 13.3 to 13.6).
		{pattern: kind + "/$batch", method: POST, handle: bt.Post(), check: syncurls.CheckTracking},
		{pattern: kind + "/$batch", method: GET, handle: bt.Poll()},
		{pattern: kind + "/$batch", method: DELETE, handle: bt.Free()},
		{pattern: kind + "/$batch('{id}')", method: GET, handle: bt.Poll(), check: syncurls.CheckTracking},
		{pattern: kind + "/$batch('{id}')", method: DELETE, handle: bt.Free()},

		// Property URLs: what a relationship property of a resource names.
		{pattern: one + "/{op}", method: GET, handle: s.property},

		// Anything else below a kind: a service this provider does not have.
		{pattern: kind + "/{op}", method: anyMethod, handle: s.unknownService},
	}
}
