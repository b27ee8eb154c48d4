package digest

// The rule that decided a conflict (spec 5.4 rule 4), for the people who
// read the audit log: which of the three comparisons of sourceWins made the
// difference.
const (
	// RulePriority: the endpoints' conflict priorities differ; the lower
	// wins.
	RulePriority = "priority"
	// RuleStamp: equal priorities, different stamps; the later wins.
	RuleStamp = "stamp"
	// RuleEndpoint: equal priorities and stamps; the smaller endpoint URL
	// wins (the fixed deterministic rule).
	RuleEndpoint = "endpoint"
)

// ConflictRule names the rule that decides a conflict between the source's
// version (source, its endpoint's priority sourcePriority) and the target's
// (target, targetPriority): the same comparisons, in the same order, as
// Decide.
func ConflictRule(sourcePriority, targetPriority int, source, target SyncState) string {
	switch {
	case sourcePriority != targetPriority:
		return RulePriority
	case !source.Stamp.Equal(target.Stamp):
		return RuleStamp
	}
	return RuleEndpoint
}
