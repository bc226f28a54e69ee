package agent

import "time"

// Crash-loop back-off as kubelet applies it to restarting containers.
const (
	backoffInitial = 10 * time.Second
	backoffMax     = 5 * time.Minute
	// backoffReset: an entry not touched for this long (a container that
	// ran this long) starts again from nothing.
	backoffReset = 2 * backoffMax
)

// backoff is one container's restart delay.
type backoff struct {
	delay      time.Duration
	lastUpdate time.Time
}

// until returns when a container that finished at finished may restart;
// the zero time means now.
func (b *backoff) until(finished time.Time) time.Time {
	if b.delay == 0 || finished.Sub(b.lastUpdate) > backoffReset {
		return time.Time{}
	}
	return finished.Add(b.delay)
}

// next records a restart of a container that finished at finished.
func (b *backoff) next(finished time.Time) {
	switch {
	case b.delay == 0 || finished.Sub(b.lastUpdate) > backoffReset:
		b.delay = backoffInitial
	default:
		b.delay *= 2
		if b.delay > backoffMax {
			b.delay = backoffMax
		}
	}
	b.lastUpdate = finished
}
