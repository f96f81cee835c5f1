package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// The operator's heap is mostly its cache, which follows the number of objects; what it
// allocates on top is short-lived (decoded answers, patches). Go's default lets the heap grow
// to twice what is live before collecting; half again is plenty here and keeps the footprint
// near the objects (docs/benchmarks.md has the figures).
const defaultGCPercent = 50

// cgroupMemoryMax is where cgroup v2 tells a container its memory limit.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// tuneMemory sets the garbage collector's pace, and a soft memory limit of 90 % of the
// container's memory limit, so the collector works harder before the kernel kills the pod.
// GOGC and GOMEMLIMIT in the environment take precedence, as they do for any Go program.
func tuneMemory() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	raw, err := os.ReadFile(cgroupMemoryMax)
	if err != nil {
		return // not in a cgroup v2 container
	}
	if limit, ok := softMemoryLimit(string(raw)); ok {
		debug.SetMemoryLimit(limit)
	}
}

// softMemoryLimit is 90 % of a cgroup memory.max value; "max" (no limit) has none.
func softMemoryLimit(memoryMax string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(memoryMax), 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n / 10 * 9, true
}
