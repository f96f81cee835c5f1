package graph

import "context"

type lowPriorityKey struct{}

// WithLowPriority marks the calls made with ctx as background work. Graph serves requests with
// "x-ms-throttle-priority: low" last under pressure, which suits polling and change tracking.
func WithLowPriority(ctx context.Context) context.Context {
	return context.WithValue(ctx, lowPriorityKey{}, true)
}

// IsLowPriority reports whether ctx carries the background mark.
func IsLowPriority(ctx context.Context) bool {
	v, _ := ctx.Value(lowPriorityKey{}).(bool)
	return v
}
