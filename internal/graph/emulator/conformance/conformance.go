// Package conformance is the table of documented Microsoft Graph behaviours the operator, the
// kubectl plugin and the lifecycle features rely on, each with the Microsoft Learn page it
// comes from. Two tests run it: one against the emulator over plain HTTP
// (internal/graph/emulator), one through msgraph-sdk-go's request adapter
// (internal/graph/msgraph), so the emulator and the SDK agree on the same answers.
//
// It is test equipment: the operator binary must not import it.
package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"

	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// Case is one documented behaviour: a request and the answer Graph documents for it.
type Case struct {
	Name string
	// Doc is the Microsoft Learn page the behaviour comes from; Observed, when set, is where
	// an exact message Microsoft does not document was seen.
	Doc      string
	Observed string
	// Setup prepares the tenant beyond Seed, e.g. a fault or a permission set.
	Setup  func(e *emulator.Emulator, v Vars) error
	Method string
	// Path follows /v1.0, with {var} placeholders from Seed; a query is written unescaped.
	Path   string
	Header map[string]string
	Body   string // JSON with {var} placeholders; "" for none
	Want   Want
}

// Want is the documented answer.
type Want struct {
	Status  int
	Code    string   // error.code, for an error
	Message string   // part of error.message, for an error
	Header  []string // response headers that must be present, e.g. Retry-After
	// Model is the msgraph-sdk-go type the body parses as, without a property the type does
	// not define; nil for no body.
	Model absser.ParsableFactory
	Text  string            // the whole text/plain body, e.g. for /$count
	Has   []string          // top-level members that must be present (null counts)
	Lacks []string          // top-level members that must be absent
	Equal map[string]string // top-level members with these exact string values ({var}s expanded)
	// Items, when not nil, are the ids of the "value" collection's elements, in order.
	Items    []string
	ItemHas  []string // members every element of "value" must have
	ItemType string   // the @odata.type every element of "value" must carry
}

// Vars names the objects Seed created, for the {var} placeholders of a case.
type Vars map[string]string

// Seed fills a tenant with what the cases refer to: a guest with a sponsor, a group it is a
// member of and an application it is assigned to, a second member user, and a deleted guest.
// The application has a directory extension property ({ext}), which the guest and the
// deleted guest have values of.
func Seed(e *emulator.Emulator) (Vars, error) {
	sponsor := e.AddUser(emulator.User{DisplayName: "Ann Sponsor", Mail: "ann@" + emulator.TenantDomain, AccountEnabled: true})
	other := e.AddUser(emulator.User{DisplayName: "Ben Other", Mail: "ben@" + emulator.TenantDomain, AccountEnabled: true})
	guest := e.AddUser(emulator.User{
		DisplayName: "Jane Partner", Mail: "jane@fabrikam.com", OtherMails: []string{"jane@fabrikam.com", "jane.p@fabrikam.com"},
		UserType: "Guest", CreationType: "Invitation", ExternalUserState: emulator.StateAccepted,
		ExternalUserStateChangeDateTime: time.Date(2024, 1, 16, 9, 0, 0, 0, time.UTC),
		CreatedDateTime:                 time.Date(2024, 1, 15, 9, 0, 0, 0, time.UTC), AccountEnabled: true,
	})
	if err := e.AddSponsorOutOfBand(guest.ID, sponsor.ID); err != nil {
		return nil, fmt.Errorf("seeding the sponsor: %w", err)
	}
	group := e.AddGroup(emulator.Group{DisplayName: "Partners"})
	if err := e.AddGroupMemberOutOfBand(group.ID, guest.ID); err != nil {
		return nil, fmt.Errorf("seeding the membership: %w", err)
	}
	sp := e.AddServicePrincipal(emulator.ServicePrincipal{DisplayName: "Partner Portal",
		AppRoles: []emulator.AppRole{{Value: "Partner.Read", DisplayName: "Read"}, {Value: "Partner.Write", DisplayName: "Write"}}})
	a := e.AssignAppRoleOutOfBand(emulator.AppRoleAssignment{PrincipalID: guest.ID, ResourceID: sp.ID, AppRoleID: sp.AppRoles[0].ID})
	appObject := e.AddApplication(sp.AppID, sp.DisplayName)
	ext := e.RegisterExtensionProperty(sp.AppID, "partnerOwner")
	if err := e.SetUserExtension(guest.ID, ext, "ns/team-a"); err != nil {
		return nil, fmt.Errorf("seeding the extension value: %w", err)
	}
	gone := e.AddUser(emulator.User{DisplayName: "Gone Partner", Mail: "gone@fabrikam.com", UserType: "Guest", CreationType: "Invitation",
		Extensions: map[string]string{ext: "ns/gone"}})
	if err := e.DeleteUserOutOfBand(gone.ID); err != nil {
		return nil, fmt.Errorf("seeding the deleted user: %w", err)
	}
	return Vars{
		"guest": guest.ID, "guestUPN": guest.UserPrincipalName, "guestMail": guest.Mail,
		"sponsor": sponsor.ID, "other": other.ID, "group": group.ID,
		"sp": sp.ID, "appId": sp.AppID, "appHex": strings.ReplaceAll(strings.ToLower(sp.AppID), "-", ""),
		"appObject": appObject, "ext": ext, "extId": extensionID(e, ext), "role": sp.AppRoles[0].ID, "role2": sp.AppRoles[1].ID, "assignment": a.ID,
		"deleted": gone.ID, "missing": "5b3c0d4e-0000-4000-8000-00000000dead", "tenant": e.TenantID(),
	}, nil
}

func extensionID(e *emulator.Emulator, name string) string {
	for _, p := range e.ExtensionProperties() {
		if p.Name == name {
			return p.ID
		}
	}
	return ""
}

// Request is a case made concrete for one tenant.
type Request struct {
	Method string
	Target string // path after /v1.0 and query, escaped as Graph's documentation shows them
	Header map[string]string
	Body   []byte
}

// Prepare seeds e, runs the case's Setup and expands its placeholders.
func (c Case) Prepare(e *emulator.Emulator) (Request, Vars, error) {
	v, err := Seed(e)
	if err != nil {
		return Request{}, nil, err
	}
	if c.Setup != nil {
		if err := c.Setup(e, v); err != nil {
			return Request{}, nil, fmt.Errorf("%s: setup: %w", c.Name, err)
		}
	}
	path, query, _ := strings.Cut(c.Path, "?")
	target := v.expand(path, url.PathEscape)
	if query != "" {
		var parts []string
		for _, kv := range strings.Split(query, "&") {
			k, val, _ := strings.Cut(kv, "=")
			// Names keep their "$", values are escaped with %20 for spaces, as Graph's
			// documentation and the SDK write them.
			parts = append(parts, k+"="+strings.ReplaceAll(url.QueryEscape(v.expand(val, nil)), "+", "%20"))
		}
		target += "?" + strings.Join(parts, "&")
	}
	req := Request{Method: c.Method, Target: target, Header: map[string]string{}}
	for k, val := range c.Header {
		req.Header[k] = v.expand(val, nil)
	}
	if c.Body != "" {
		req.Body = []byte(v.expand(c.Body, nil))
	}
	return req, v, nil
}

func (v Vars) expand(s string, escape func(string) string) string {
	for k, val := range v {
		if escape != nil {
			val = escape(val)
		}
		s = strings.ReplaceAll(s, "{"+k+"}", val)
	}
	return s
}

// CheckResponse compares a raw answer with the case's. It returns what differs.
func (c Case) CheckResponse(v Vars, status int, header http.Header, body []byte) []string {
	w := c.Want
	var probs []string
	if status != w.Status {
		probs = append(probs, fmt.Sprintf("status %d, want %d", status, w.Status))
	}
	probs = append(probs, c.CheckHeaders(header)...)
	switch {
	case w.Text != "":
		if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			probs = append(probs, fmt.Sprintf("Content-Type %q, want text/plain", ct))
		}
		if string(body) != w.Text {
			probs = append(probs, fmt.Sprintf("body %q, want %q", body, w.Text))
		}
		return probs
	case len(body) == 0:
		if w.Model != nil || w.Status >= 400 {
			probs = append(probs, "no body")
		}
		return probs
	}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		probs = append(probs, fmt.Sprintf("Content-Type %q, want application/json", ct))
	}
	if status >= 400 {
		return append(probs, c.checkError(v, body)...)
	}
	return append(probs, c.CheckBody(v, body)...)
}

// CheckHeaders checks the headers every Graph answer has and those the case names.
func (c Case) CheckHeaders(header http.Header) []string {
	var probs []string
	for _, h := range append([]string{"request-id", "client-request-id"}, c.Want.Header...) {
		if header.Get(h) == "" {
			probs = append(probs, "no "+h+" header")
		}
	}
	return probs
}

// checkError checks Graph's error envelope
// (https://learn.microsoft.com/en-us/graph/errors#json-representation): code, message and
// innerError with the date and both request ids, read with the SDK's ODataError model.
func (c Case) checkError(v Vars, body []byte) []string {
	var env struct {
		Error struct {
			Code, Message string
			InnerError    map[string]any `json:"innerError"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return []string{fmt.Sprintf("error body %s: %v", body, err)}
	}
	probs := c.CheckError(v, env.Error.Code, env.Error.Message)
	for _, k := range []string{"date", "request-id", "client-request-id"} {
		if s, _ := env.Error.InnerError[k].(string); s == "" {
			probs = append(probs, "innerError lacks "+k)
		}
	}
	return append(probs, parseModel(body, odataerrors.CreateODataErrorFromDiscriminatorValue)...)
}

// CheckError compares an error's code and message with the case's.
func (c Case) CheckError(v Vars, code, message string) []string {
	var probs []string
	if code != c.Want.Code {
		probs = append(probs, fmt.Sprintf("error code %q, want %q", code, c.Want.Code))
	}
	if want := v.expand(c.Want.Message, nil); !strings.Contains(message, want) {
		probs = append(probs, fmt.Sprintf("error message %q does not contain %q", message, want))
	}
	return probs
}

// CheckBody checks a success body's shape and that msgraph-sdk-go's model reads all of it.
func (c Case) CheckBody(v Vars, body []byte) []string {
	w := c.Want
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return []string{fmt.Sprintf("body %s: %v", body, err)}
	}
	var probs []string
	// Member names may have {var}s too, e.g. a directory extension property's.
	for _, k := range w.Has {
		if _, ok := m[v.expand(k, nil)]; !ok {
			probs = append(probs, "no member "+v.expand(k, nil))
		}
	}
	for _, k := range w.Lacks {
		if _, ok := m[v.expand(k, nil)]; ok {
			probs = append(probs, "unexpected member "+v.expand(k, nil))
		}
	}
	for k, want := range w.Equal {
		k = v.expand(k, nil)
		if got, want := fmt.Sprint(m[k]), v.expand(want, nil); got != want {
			probs = append(probs, fmt.Sprintf("%s is %q, want %q", k, got, want))
		}
	}
	if w.Items != nil || w.ItemHas != nil || w.ItemType != "" {
		items, ok := m["value"].([]any)
		if !ok {
			return append(probs, "no value collection")
		}
		var ids []string
		for i, it := range items {
			obj, _ := it.(map[string]any)
			id, _ := obj["id"].(string)
			ids = append(ids, id)
			for _, k := range w.ItemHas {
				if k = v.expand(k, nil); !hasKey(obj, k) {
					probs = append(probs, fmt.Sprintf("value[%d] has no %s", i, k))
				}
			}
			if w.ItemType != "" && obj["@odata.type"] != w.ItemType {
				probs = append(probs, fmt.Sprintf("value[%d] is of type %v, want %s", i, obj["@odata.type"], w.ItemType))
			}
		}
		if w.Items != nil {
			want := make([]string, len(w.Items))
			for i, id := range w.Items {
				want[i] = v.expand(id, nil)
			}
			if !slices.Equal(ids, want) {
				probs = append(probs, fmt.Sprintf("value ids %v, want %v", ids, want))
			}
		}
	}
	if w.Model != nil {
		probs = append(probs, parseModel(body, w.Model)...)
	}
	return probs
}

// parseModel reads body with kiota's JSON parser as the model ctor builds and reports members
// the model does not define (kiota keeps those in AdditionalData), at any depth.
func parseModel(body []byte, ctor absser.ParsableFactory) []string {
	node, err := jsonser.NewJsonParseNode(body)
	if err != nil {
		return []string{fmt.Sprintf("kiota cannot parse the body: %v", err)}
	}
	p, err := node.GetObjectValue(ctor)
	if err != nil {
		return []string{fmt.Sprintf("msgraph-sdk-go cannot read the body as its model: %v", err)}
	}
	return undefinedMembers(p, "")
}

var (
	parsableType       = reflect.TypeOf((*absser.Parsable)(nil)).Elem()
	additionalDataType = reflect.TypeOf((*absser.AdditionalDataHolder)(nil)).Elem()
)

// undefinedMembers walks a parsed model and names the members its type does not define.
// Instance annotations ("@odata.context", "@removed") are Graph's and allowed, and so are
// directory extension properties (extension_{appId without dashes}_{name}): Graph adds them
// to a directory object's type, and the SDK's models keep them in AdditionalData by design.
func undefinedMembers(p absser.Parsable, path string) []string {
	if p == nil || reflect.ValueOf(p).IsNil() {
		return nil
	}
	var probs []string
	if h, ok := p.(absser.AdditionalDataHolder); ok {
		for k := range h.GetAdditionalData() {
			if !strings.HasPrefix(k, "@") && !strings.HasPrefix(k, "extension_") {
				probs = append(probs, fmt.Sprintf("member %s%s is not defined by %T", path, k, p))
			}
		}
	}
	rv := reflect.ValueOf(p)
	for i := range rv.NumMethod() {
		m := rv.Type().Method(i)
		if !strings.HasPrefix(m.Name, "Get") || m.Type.NumIn() != 1 || m.Type.NumOut() != 1 {
			continue
		}
		out := m.Type.Out(0)
		switch {
		case out.Kind() == reflect.Interface && out.Implements(parsableType) && out != additionalDataType:
			child, _ := rv.Method(i).Call(nil)[0].Interface().(absser.Parsable)
			probs = append(probs, undefinedMembers(child, path+lowerFirst(m.Name[3:])+".")...)
		case out.Kind() == reflect.Slice && out.Elem().Kind() == reflect.Interface && out.Elem().Implements(parsableType):
			s := rv.Method(i).Call(nil)[0]
			for j := range s.Len() {
				child, _ := s.Index(j).Interface().(absser.Parsable)
				probs = append(probs, undefinedMembers(child, fmt.Sprintf("%s%s[%d].", path, lowerFirst(m.Name[3:]), j))...)
			}
		}
	}
	return probs
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
