package graph_test

import (
	"errors"
	"testing"

	"github.com/partnerops/partner-operator/internal/graph"
)

func TestMissingPermission(t *testing.T) {
	tests := []struct {
		op, want string
	}{
		{"list sponsors", "User.Read.All"},
		{"add sponsor", "User.ReadWrite.All"},
		{"remove sponsor", "User.ReadWrite.All"},
		{"enable or disable user", "User.EnableDisableAccount.All"},
		{"update user", "User.ReadWrite.All"},
		{"invite", "User.Invite.All"},
		{"list guests", "User.Read.All"},
		{"list memberships", "Directory.Read.All"},
		{"list app role assignments", "Directory.Read.All"},
		{"something new", "the permission this call needs"},
	}
	for _, tc := range tests {
		err := &graph.Error{Op: tc.op, StatusCode: 403, Code: "Authorization_RequestDenied"}
		op, perm, ok := graph.MissingPermission(err)
		if !ok || op != tc.op || perm != tc.want {
			t.Errorf("MissingPermission(%s) = %q, %q, %t; want %q, %q", tc.op, op, perm, ok, tc.op, tc.want)
		}
	}
	if _, _, ok := graph.MissingPermission(&graph.Error{Op: "add sponsor", StatusCode: 400}); ok {
		t.Error("a 400 was taken for a missing permission")
	}
	if _, _, ok := graph.MissingPermission(errors.New("network down")); ok {
		t.Error("an unclassified error was taken for a missing permission")
	}
	if got := graph.LeastPermission("something new"); got != "" {
		t.Errorf("LeastPermission of an unknown op = %q, want empty", got)
	}
}
