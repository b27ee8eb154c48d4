package main

import (
	"fmt"
	"strings"
)

// The --progress modes of `sdatasync pass`.
const (
	progressBar   = "bar"   // a live line with a bar, entries/s and ETA (terminals)
	progressPlain = "plain" // a line per page (scripts, CI)
	progressNone  = "none"  // nothing but the summary
)

// progressMode resolves --progress: "" is bar on a terminal, plain
// otherwise.
func progressMode(flag string, terminal bool) (string, error) {
	switch flag {
	case "":
		if terminal {
			return progressBar, nil
		}
		return progressPlain, nil
	case progressBar, progressPlain, progressNone:
		return flag, nil
	}
	return "", fmt.Errorf("--progress %q: bar, plain or none", flag)
}

// barWidth is the width of the bar between its brackets.
const barWidth = 20

// progressBarOf draws done of total as a bar of width cells with the
// percentage; with an unknown total (< 0, or 0) the bar is empty and says
// so.
func progressBarOf(done, total, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat("·", width) + "]    ?%"
	}
	done = min(max(done, 0), total)
	full := done * width / total
	return fmt.Sprintf("[%s%s] %3d%%", strings.Repeat("#", full), strings.Repeat("·", width-full), done*100/total)
}
