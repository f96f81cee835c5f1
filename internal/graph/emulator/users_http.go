package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

var userFilterSchema = filterSchema{
	scalars: canonicalNames("id", "mail", "userPrincipalName", "displayName", "userType",
		"creationType", "externalUserState", "givenName", "surname", "companyName", "department", "jobTitle"),
	times:       canonicalNames(append([]string{"createdDateTime"}, signInFilterProps...)...),
	collections: canonicalNames("otherMails"),
}

// routeUsers serves /users, /users/delta(), /users/{id}, and under a user its sponsors,
// memberOf and appRoleAssignments. Like Graph, {id} may be an object id or a user principal
// name.
func (e *Emulator) routeUsers(w http.ResponseWriter, r *http.Request, segs []string, body []byte) {
	switch {
	case len(segs) == 0:
		if r.Method != http.MethodGet {
			writeMethodNotAllowed(w, r)
			return
		}
		e.listUsers(w, r)
	case len(segs) == 1 && segs[0] == "$count":
		if r.Method != http.MethodGet {
			writeMethodNotAllowed(w, r)
			return
		}
		e.countUsers(w, r)
	case len(segs) == 1 && (segs[0] == "delta()" || segs[0] == "delta"):
		if r.Method != http.MethodGet {
			writeMethodNotAllowed(w, r)
			return
		}
		e.usersDelta(w, r)
	case len(segs) == 1:
		switch r.Method {
		case http.MethodGet:
			e.getUser(w, r, segs[0])
		case http.MethodPatch:
			e.patchUser(w, r, segs[0], body)
		case http.MethodDelete:
			e.deleteUser(w, r, segs[0])
		default:
			writeMethodNotAllowed(w, r)
		}
	case strings.EqualFold(segs[1], "sponsors"):
		e.routeSponsors(w, r, segs[0], segs[2:], body)
	case len(segs) == 2 && strings.EqualFold(segs[1], "memberOf"):
		if r.Method != http.MethodGet {
			writeMethodNotAllowed(w, r)
			return
		}
		e.listMemberOf(w, r, segs[0])
	case len(segs) == 2 && strings.EqualFold(segs[1], "appRoleAssignments"):
		if r.Method != http.MethodGet {
			writeMethodNotAllowed(w, r)
			return
		}
		e.listUserAssignments(w, r, segs[0])
	default:
		writeError(w, r, http.StatusNotFound, codeNotFound,
			fmt.Sprintf("Resource not found for the segment '%s'.", segs[1]))
	}
}

// userContext is the @odata.context of a users answer; it names the properties only when the
// request chose them.
func userContext(r *http.Request, sel []string, entity bool) string {
	c := baseURL(r) + "/v1.0/$metadata#users"
	if strings.TrimSpace(r.URL.Query().Get("$select")) != "" {
		c += "(" + strings.Join(sel, ",") + ")"
	}
	if entity {
		c += "/$entity"
	}
	return c
}

func (e *Emulator) getUser(w http.ResponseWriter, r *http.Request, id string) {
	sel, ok := e.selectUsers(w, r)
	if !ok || !e.signInUserQuery(w, r, id, sel) {
		return
	}
	e.mu.Lock()
	u := e.dir.visibleUserByKey(id, e.now())
	var out map[string]any
	if u != nil {
		out = e.renderUserSignIn(&u.User, sel)
	}
	e.mu.Unlock()
	if out == nil {
		writeNotFound(w, r, id)
		return
	}
	out["@odata.context"] = userContext(r, sel, true)
	writeJSON(w, http.StatusOK, out)
}

// listUsers serves GET /users with an optional $filter, in pages of $top (100 by default, at
// most 999, 500 with signInActivity) linked by @odata.nextLink, and @odata.count when asked with $count=true and
// "ConsistencyLevel: eventual"; users not yet replicated are absent, which is how an
// eventually consistent lookup by email misses a fresh guest.
func (e *Emulator) listUsers(w http.ResponseWriter, r *http.Request) {
	sel, ok := e.selectUsers(w, r)
	if !ok {
		return
	}
	q, ok := parseListQuery(w, r, e.userFilter())
	if !ok || !e.signInListQuery(w, r, sel, &q) {
		return
	}
	e.mu.Lock()
	page := newListPage(q)
	e.forVisibleUsers(q, func(u *userRec) {
		page.add(u.ord, func() map[string]any { return e.renderUserSignIn(&u.User, sel) })
	})
	e.mu.Unlock()
	page.write(w, r, userContext(r, sel, false))
}

// forVisibleUsers calls f for each replicated user matching q's $filter, in creation order.
// The caller holds e.mu.
func (e *Emulator) forVisibleUsers(q listQuery, f func(*userRec)) {
	now := e.now()
	for _, u := range e.dir.sortedUsers() {
		if u.visible(now) && q.matches(e.signInGetter(&u.User)) {
			f(u)
		}
	}
}

// countUsers serves GET /users/$count (text/plain), which honours $filter.
func (e *Emulator) countUsers(w http.ResponseWriter, r *http.Request) {
	if !eventual(r) {
		writeRawCount(w, r, 0)
		return
	}
	q, ok := parseListQuery(w, r, e.userFilter())
	if !ok {
		return
	}
	n := 0
	e.mu.Lock()
	e.forVisibleUsers(q, func(*userRec) { n++ })
	e.mu.Unlock()
	writeRawCount(w, r, n)
}

func userGetter(u *User) func(string) []string {
	return func(p string) []string {
		switch p {
		case "otherMails":
			return u.OtherMails
		case "id":
			return []string{u.ID}
		case "mail":
			return []string{u.Mail}
		case "userPrincipalName":
			return []string{u.UserPrincipalName}
		case "displayName":
			return []string{u.DisplayName}
		case "userType":
			return []string{u.UserType}
		case "creationType":
			return []string{u.CreationType}
		case "externalUserState":
			return []string{u.ExternalUserState}
		case "createdDateTime":
			if u.CreatedDateTime.IsZero() {
				return nil
			}
			return []string{u.CreatedDateTime.UTC().Format(time.RFC3339Nano)}
		}
		if isExtensionName(p) {
			if v, ok := u.Extensions[p]; ok {
				return []string{v}
			}
			return nil
		}
		if v, ok := u.Profile[p]; ok {
			return []string{v}
		}
		return nil
	}
}

// userPatch is a PATCH /users/{id} body, checked against Graph's schema and limits.
type userPatch struct {
	displayName, userType, mail, upn *string
	enabled                          *bool
	otherMails                       []string
	setOtherMails                    bool
	strs                             map[string]*string         // Profile; nil clears
	props                            map[string]json.RawMessage // props; nil clears
	exts                             map[string]*string         // Extensions; nil clears
}

// patchUser serves PATCH /users/{id}. The body is read with msgraph-sdk-go's user model, so
// any property Graph defines and the user-update page lists as writable can be set, and
// anything else is a 400; the whole body is checked before anything changes. Members named
// extension_... are directory extension values, which the model does not define: they are
// checked against the registered extension properties instead.
func (e *Emulator) patchUser(w http.ResponseWriter, r *http.Request, id string, body []byte) {
	ext, extNames, body := splitExtensions(body)
	p, v, ok := readEntity(w, r, body, models.CreateUserFromDiscriminatorValue, codeRequestBadRequest)
	if !ok {
		return
	}
	patch, err := newUserPatch(p.(models.Userable), v)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, err.Error())
		return
	}
	e.mu.Lock()
	if patch.exts, err = e.dir.extensionPatch(ext, extNames); err != nil {
		e.mu.Unlock()
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, err.Error())
		return
	}
	u := e.dir.visibleUserByKey(id, e.now())
	if u != nil && patch.upn != nil {
		if other := e.dir.userByKey(*patch.upn); other != nil && other != u {
			e.mu.Unlock()
			writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, msgUPNTaken)
			return
		}
	}
	if u != nil && patch.apply(&u.User) {
		e.dir.touch(u)
	}
	e.mu.Unlock()
	if u == nil {
		writeNotFound(w, r, id)
		return
	}
	writeNoContent(w)
}

// newUserPatch validates the members of a PATCH body (v) as the SDK read them (u).
func newUserPatch(u models.Userable, v *jsonValue) (*userPatch, error) {
	patch := &userPatch{strs: map[string]*string{}, props: map[string]json.RawMessage{}}
	for _, k := range v.keys {
		if strings.Contains(k, "@") {
			continue // annotations such as the SDK's "@odata.type"
		}
		if _, ok := userWritable[strings.ToLower(k)]; !ok {
			return nil, fmt.Errorf(msgReadOnlyProperty, k)
		}
		member := v.members[k]
		invalid := errors.New(invalidUserValue(k))
		switch k {
		case "displayName":
			patch.displayName = u.GetDisplayName()
			if patch.displayName == nil || strings.TrimSpace(*patch.displayName) == "" || tooLong(k, *patch.displayName) {
				return nil, invalid
			}
		case "userType":
			t := u.GetUserType()
			if t == nil {
				return nil, invalid
			}
			norm, ok := normalizeUserType(*t)
			if !ok {
				return nil, invalid
			}
			patch.userType = &norm
		case "accountEnabled":
			if patch.enabled = u.GetAccountEnabled(); patch.enabled == nil {
				return nil, invalid
			}
		case "mail":
			if m := u.GetMail(); m != nil && *m != "" && !validEmail(*m) {
				return nil, invalid
			}
			patch.mail = u.GetMail()
			if patch.mail == nil {
				patch.mail = new(string)
			}
		case "userPrincipalName":
			if patch.upn = u.GetUserPrincipalName(); patch.upn == nil || !strings.Contains(*patch.upn, "@") {
				return nil, invalid
			}
		case "otherMails":
			patch.otherMails, patch.setOtherMails = u.GetOtherMails(), true
			if len(patch.otherMails) > maxOtherMails {
				return nil, invalid
			}
			for _, m := range patch.otherMails {
				if len([]rune(m)) > maxOtherMailLength {
					return nil, invalid
				}
			}
		default:
			prop := userSchema()[strings.ToLower(k)]
			if !prop.str {
				if k == "businessPhones" && len(u.GetBusinessPhones()) > maxBusinessPhones {
					return nil, invalid
				}
				patch.props[k] = nil
				if member.kind != 'n' {
					patch.props[k] = member.compact()
				}
				continue
			}
			val, err := u.GetBackingStore().Get(k)
			if err != nil {
				return nil, fmt.Errorf("reading %s: %w", k, err)
			}
			s, _ := val.(*string)
			if err := validProfileValue(k, s); err != nil {
				return nil, err
			}
			patch.strs[k] = s
		}
	}
	return patch, nil
}

// apply changes the user and reports whether anything changed.
func (p *userPatch) apply(u *User) bool {
	changed := false
	set := func(dst *string, v *string) {
		if v != nil && *v != *dst {
			*dst, changed = *v, true
		}
	}
	set(&u.DisplayName, p.displayName)
	set(&u.UserType, p.userType)
	set(&u.Mail, p.mail)
	set(&u.UserPrincipalName, p.upn)
	if p.enabled != nil && *p.enabled != u.AccountEnabled {
		u.AccountEnabled, changed = *p.enabled, true
	}
	if p.setOtherMails && !slices.Equal(p.otherMails, u.OtherMails) {
		u.OtherMails, changed = append([]string(nil), p.otherMails...), true
	}
	for k, v := range p.strs {
		old, had := u.Profile[k]
		switch {
		case v == nil || *v == "":
			delete(u.Profile, k)
		default:
			if u.Profile == nil {
				u.Profile = map[string]string{}
			}
			u.Profile[k] = *v
		}
		now, has := u.Profile[k]
		changed = changed || had != has || old != now
	}
	for k, v := range p.props {
		old, had := u.props[k]
		if v == nil {
			delete(u.props, k)
		} else {
			if u.props == nil {
				u.props = map[string]json.RawMessage{}
			}
			u.props[k] = v
		}
		changed = changed || had != (v != nil) || !bytes.Equal(old, v)
	}
	if applyExtensions(u, p.exts) {
		changed = true
	}
	return changed
}

func tooLong(prop, v string) bool {
	limit, ok := ProfileLimits[prop]
	return ok && len([]rune(v)) > limit
}

// validProfileValue enforces Graph's limits on a string property (null clears it).
func validProfileValue(prop string, v *string) error {
	switch {
	case v == nil:
		return nil
	case prop == "usageLocation" && !isCountryCode(*v):
		return errors.New(invalidUserValue(prop))
	case tooLong(prop, *v):
		return errors.New(invalidUserValue(prop))
	}
	return nil
}

func isCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// normalizeUserType accepts Graph's two user types in any case.
func normalizeUserType(s string) (string, bool) {
	switch {
	case strings.EqualFold(s, "Guest"):
		return "Guest", true
	case strings.EqualFold(s, "Member"):
		return "Member", true
	}
	return "", false
}

func (e *Emulator) deleteUser(w http.ResponseWriter, r *http.Request, id string) {
	e.mu.Lock()
	now := e.now()
	u := e.dir.visibleUserByKey(id, now)
	ok := u != nil && e.dir.deleteUser(u.ID, now)
	e.mu.Unlock()
	if !ok {
		writeNotFound(w, r, id)
		return
	}
	writeNoContent(w)
}
