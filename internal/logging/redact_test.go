package logging_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/partnerops/partner-operator/internal/logging"
)

const (
	address = "anna.berg@fabrikam.example"
	url     = "https://login.microsoftonline.com/redeem?rd=abc123&tenant=t"
)

type ref struct{ Email, Name string }

type stringer string

func (s stringer) String() string { return string(s) }

func logLines(personal bool, fn func(log func(string, ...any), logErr func(error, string, ...any))) string {
	var buf bytes.Buffer
	l := logging.Redact(zap.New(zap.WriteTo(&buf), zap.Level(zapcore.DebugLevel)), personal)
	fn(func(msg string, kv ...any) { l.Info(msg, kv...) }, func(err error, msg string, kv ...any) { l.Error(err, msg, kv...) })
	l.WithValues("email", address).WithName("sub").V(1).Info("with values")
	return buf.String()
}

func TestRedact(t *testing.T) {
	emit := func(log func(string, ...any), logErr func(error, string, ...any)) {
		log("invited "+address+" with "+url, "email", address, "url", url, "ref", ref{Email: address, Name: "n"},
			"list", []string{address}, "stringer", stringer(address), "count", 3, "name", "ns/obj")
		logErr(fmt.Errorf("graph invite: 400 BadRequest: %s is invalid: %w", address, errors.New("x")), "Reconciler error", "url", url)
	}
	out := logLines(false, emit)
	t.Log(out)
	for _, leak := range []string{address, "rd=abc123"} {
		if strings.Contains(out, leak) {
			t.Errorf("%q is in the log", leak)
		}
	}
	for _, want := range []string{logging.RedactedAddress, logging.RedactedURL, `"count":3`, `"name":"ns/obj"`, `"Name":"n"`, `"msg":"with values"`, `"logger":"sub"`} {
		if !strings.Contains(out, want) {
			t.Errorf("%s is missing from the log", want)
		}
	}

	// --log-personal-data lets addresses through, never redemption URLs.
	out = logLines(true, emit)
	if !strings.Contains(out, address) || strings.Contains(out, "rd=abc123") {
		t.Errorf("with personal data: %s", out)
	}
}

// Module paths in stack traces are not addresses.
func TestMailAddressPattern(t *testing.T) {
	for s, want := range map[string]bool{
		"anna@fabrikam.example":                      true,
		"ANNA.Berg+x@sub.contoso.com":                true,
		"nadia-ns1@partnerops.onmicrosoft.com":       true,
		"sigs.k8s.io/controller-runtime@v0.25.2/pkg": false,
		"k8s.io/client-go@v0.37.2":                   false,
		"no address here":                            false,
	} {
		if got := logging.MailAddress.MatchString(s); got != want {
			t.Errorf("MailAddress.MatchString(%q) = %v, want %v", s, got, want)
		}
	}
}
