package store

import "sdatasync/digest"

// loser is the version that lost a conflict, nil for any other outcome: the
// held version when the source's wins, the incoming one when the target's
// wins (its payload in stored form, as it would have been written). The
// audit record of the conflict keeps it, so that it can be inspected and
// restored.
func loser(o digest.Outcome, held Resource, in Incoming) *Version {
	switch o {
	case digest.ConflictSource:
		return &Version{Payload: held.Payload, Title: held.Title, Deleted: held.Deleted, State: held.State}
	case digest.ConflictTarget:
		return &Version{Payload: in.Payload, Title: in.Title, Deleted: in.Deleted, State: in.State}
	}
	return nil
}
