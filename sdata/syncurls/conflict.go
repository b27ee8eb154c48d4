package syncurls

import (
	"sdatasync/digest"
	"sdatasync/sdata/store"
)

// ConflictVersion is one side of a conflict in its audit record: the
// resource's payload in stored form (XML), its title, whether it is a
// tombstone, and the sync state it carried.
type ConflictVersion struct {
	Payload string           `json:"payload"`
	Title   string           `json:"title"`
	Deleted bool             `json:"deleted"`
	State   digest.SyncState `json:"state"`
}

// ConflictDetail is the detail of a target.conflict audit record: both
// versions, the rule that decided and the winner ("source" or "target").
// The console reads it to show and restore the losing version.
type ConflictDetail struct {
	UUID        string            `json:"uuid"`
	Key         string            `json:"key"`
	SourceState digest.SyncState  `json:"sourceState"`
	TargetState *digest.SyncState `json:"targetState"`
	Winner      string            `json:"winner"`
	Rule        string            `json:"rule"`
	Won         *ConflictVersion  `json:"winnerVersion,omitempty"`
	Lost        *ConflictVersion  `json:"loserVersion,omitempty"`
}

// conflictDetail describes the conflict of one result (ConflictSource or
// ConflictTarget).
func conflictDetail(r store.Result) ConflictDetail {
	d := ConflictDetail{UUID: r.UUID, Key: r.Key, SourceState: r.SourceState, TargetState: r.TargetState, Winner: "source", Rule: r.Rule}
	wonState := r.SourceState
	if r.Outcome == digest.ConflictTarget.String() {
		d.Winner = "target"
		if r.TargetState != nil {
			wonState = *r.TargetState
		}
	}
	d.Won = &ConflictVersion{Payload: string(r.Payload), Title: r.Title, Deleted: r.Deleted, State: wonState}
	if l := r.Loser; l != nil {
		d.Lost = &ConflictVersion{Payload: string(l.Payload), Title: l.Title, Deleted: l.Deleted, State: l.State}
	}
	return d
}
