package main

import "testing"

func TestSoftMemoryLimit(t *testing.T) {
	for in, want := range map[string]int64{"268435456\n": 241591905, "1000": 900} {
		if got, ok := softMemoryLimit(in); !ok || got != want {
			t.Errorf("softMemoryLimit(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, in := range []string{"max\n", "", "-1", "0"} {
		if got, ok := softMemoryLimit(in); ok {
			t.Errorf("softMemoryLimit(%q) = %d; want no limit", in, got)
		}
	}
}
