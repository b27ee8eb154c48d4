package auth

import (
	"sync"
	"time"
)

// throttle counts failed authentications per key (a client address, a user
// name) in fixed windows: after max failures in a window, the key is
// refused until the window ends.
type throttle struct {
	max    int
	window time.Duration

	mu   sync.Mutex
	keys map[string]*failWindow
}

type failWindow struct {
	start    time.Time
	failures int
}

// maxThrottleKeys bounds the memory of the throttle: beyond it, windows
// that ended are dropped, then those older than half a window, then all.
const maxThrottleKeys = 100_000

func newThrottle(max int, window time.Duration) *throttle {
	return &throttle{max: max, window: window, keys: map[string]*failWindow{}}
}

// blocked reports whether key is throttled at now, and for how many
// seconds more (at least 1).
func (t *throttle) blocked(key string, now time.Time) (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.keys[key]
	if w == nil || now.Sub(w.start) >= t.window {
		return 0, false
	}
	if w.failures < t.max {
		return 0, false
	}
	left := w.start.Add(t.window).Sub(now)
	return max(1, int((left+time.Second-1)/time.Second)), true
}

// fail counts a failure of key at now; it reports whether the key has just
// become throttled (to log it once per window).
func (t *throttle) fail(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.keys[key]
	if w == nil || now.Sub(w.start) >= t.window {
		if len(t.keys) >= maxThrottleKeys {
			t.pruneLocked(now)
		}
		w = &failWindow{start: now}
		t.keys[key] = w
	}
	w.failures++
	return w.failures == t.max
}

// prune drops the windows that ended before now.
func (t *throttle) prune(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pruneLocked(now)
}

func (t *throttle) pruneLocked(now time.Time) {
	for k, w := range t.keys {
		if now.Sub(w.start) >= t.window {
			delete(t.keys, k)
		}
	}
	if len(t.keys) < maxThrottleKeys {
		return
	}
	cut := now.Add(-t.window / 2)
	for k, w := range t.keys {
		if w.start.Before(cut) {
			delete(t.keys, k)
		}
	}
	if len(t.keys) >= maxThrottleKeys {
		clear(t.keys) // a flood of fresh keys: start over rather than grow
	}
}
