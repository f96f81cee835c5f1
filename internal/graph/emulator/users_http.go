package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

var userFilterSchema = filterSchema{
	scalars: canonicalNames("id", "mail", "userPrincipalName", "displayName", "userType",
		"creationType", "externalUserState"),
	times:       canonicalNames("createdDateTime"),
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

// selectUsers parses a users request's $select; when it is invalid it answers 400 itself
// and returns false.
func selectUsers(w http.ResponseWriter, r *http.Request) ([]string, bool) {
	sel, err := parseSelect(r.URL.Query().Get("$select"), userProps, "user", defaultUserSelect)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
		return nil, false
	}
	return sel, true
}

func (e *Emulator) getUser(w http.ResponseWriter, r *http.Request, id string) {
	sel, ok := selectUsers(w, r)
	if !ok {
		return
	}
	e.mu.Lock()
	u := e.dir.visibleUserByKey(id, e.now())
	var out map[string]any
	if u != nil {
		out = renderUser(&u.User, sel)
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
// most 999) linked by @odata.nextLink; users not yet replicated are absent, which is how an
// eventually consistent lookup by email misses a fresh guest. A page's $skiptoken stands for
// the last user it listed, so users created or deleted while a client pages through are
// neither listed twice nor make it skip anyone else.
func (e *Emulator) listUsers(w http.ResponseWriter, r *http.Request) {
	sel, ok := selectUsers(w, r)
	if !ok {
		return
	}
	top, ok := pageSize(w, r, defaultPageSize)
	if !ok {
		return
	}
	after, ok := skipToken(w, r)
	if !ok {
		return
	}
	var filter filterNode
	if f := strings.TrimSpace(r.URL.Query().Get("$filter")); f != "" {
		var err error
		if filter, err = parseFilter(f, userFilterSchema); err != nil {
			writeError(w, r, http.StatusBadRequest, codeUnsupportedQuery, "Unsupported Query. "+err.Error())
			return
		}
	}
	e.mu.Lock()
	now := e.now()
	value := []map[string]any{}
	last, more := int64(after), false
	for _, u := range e.dir.sortedUsers() {
		if u.ord <= int64(after) || !u.visible(now) {
			continue
		}
		if filter != nil && !filter.match(userGetter(&u.User)) {
			continue
		}
		if len(value) == top {
			more = true
			break
		}
		value = append(value, renderUser(&u.User, sel))
		last = u.ord
	}
	e.mu.Unlock()
	out := map[string]any{"@odata.context": userContext(r, sel, false), "value": value}
	if more {
		out["@odata.nextLink"] = nextLink(r, int(last))
	}
	writeJSON(w, http.StatusOK, out)
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
		return nil
	}
}

// patchUser applies the profile properties the operator manages. Properties the emulator
// does not model are refused with a 400 naming them, so a test notices instead of passing
// on a silently ignored write.
func (e *Emulator) patchUser(w http.ResponseWriter, r *http.Request, id string, body []byte) {
	var patch map[string]json.RawMessage
	if !decodeJSONBody(w, r, body, &patch, codeRequestBadRequest) {
		return
	}
	var displayName, userType *string
	var enabled *bool
	profile := map[string]*string{}
	for k, v := range patch {
		var err error
		switch {
		case strings.HasPrefix(k, "@odata."):
			continue // the SDK sends "@odata.type"
		case k == "displayName":
			err = json.Unmarshal(v, &displayName)
			if err == nil && (displayName == nil || strings.TrimSpace(*displayName) == "") {
				err = fmt.Errorf("displayName cannot be empty")
			}
		case k == "userType":
			err = json.Unmarshal(v, &userType)
			if err == nil {
				var ok bool
				if userType == nil {
					err = fmt.Errorf("userType cannot be null")
				} else if *userType, ok = normalizeUserType(*userType); !ok {
					err = fmt.Errorf("Invalid value specified for property 'userType' of resource 'User'.")
				}
			}
		case k == "accountEnabled":
			if json.Unmarshal(v, &enabled) != nil || enabled == nil {
				err = fmt.Errorf("Invalid value specified for property 'accountEnabled' of resource 'User'.")
			}
		case ProfileLimits[k] > 0:
			var value *string
			if err = json.Unmarshal(v, &value); err == nil {
				err = validProfileValue(k, value)
			}
			profile[k] = value
		default:
			err = fmt.Errorf("Property '%s' is not supported by the Graph emulator's PATCH /users.", k)
		}
		if err != nil {
			writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, err.Error())
			return
		}
	}
	e.mu.Lock()
	u := e.dir.visibleUserByKey(id, e.now())
	if u != nil {
		changed := false
		if displayName != nil && *displayName != u.DisplayName {
			u.DisplayName, changed = *displayName, true
		}
		if userType != nil && *userType != u.UserType {
			u.UserType, changed = *userType, true
		}
		if enabled != nil && *enabled != u.AccountEnabled {
			u.AccountEnabled, changed = *enabled, true
		}
		for k, v := range profile {
			if u.Profile == nil {
				u.Profile = map[string]string{}
			}
			old := u.Profile[k]
			if v == nil {
				delete(u.Profile, k)
			} else {
				u.Profile[k] = *v
			}
			changed = changed || old != u.Profile[k]
		}
		if changed {
			e.dir.touch(u)
		}
	}
	e.mu.Unlock()
	if u == nil {
		writeNotFound(w, r, id)
		return
	}
	writeNoContent(w)
}

// validProfileValue enforces Graph's limits on a profile property (null clears it).
func validProfileValue(prop string, v *string) error {
	switch {
	case v == nil:
		return nil
	case prop == "usageLocation" && !isCountryCode(*v):
		return fmt.Errorf("Invalid value specified for property 'usageLocation' of resource 'User'.")
	case len([]rune(*v)) > ProfileLimits[prop]:
		return fmt.Errorf("Invalid value specified for property '%s' of resource 'User'.", prop)
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

// routeDeletedItems serves /directory/deletedItems/{id} (GET, DELETE to purge) and
// /directory/deletedItems/{id}/restore (POST), Entra's 30-day soft-delete bin.
func (e *Emulator) routeDeletedItems(w http.ResponseWriter, r *http.Request, segs []string) {
	if len(segs) == 0 || len(segs) > 2 || (len(segs) == 2 && segs[1] != "restore") {
		writeError(w, r, http.StatusNotFound, codeNotFound, "Resource not found for the segment 'deletedItems'.")
		return
	}
	id := segs[0]
	e.mu.Lock()
	defer e.mu.Unlock()
	del := e.dir.deleted[id]
	if del == nil {
		writeNotFound(w, r, id)
		return
	}
	switch {
	case len(segs) == 2 && r.Method == http.MethodPost:
		u := e.dir.restoreUser(id)
		out := renderUser(&u.User, allUserProps())
		out["@odata.context"] = baseURL(r) + "/v1.0/$metadata#directoryObjects/$entity"
		out["@odata.type"] = "#microsoft.graph.user"
		writeJSON(w, http.StatusOK, out)
	case len(segs) == 1 && r.Method == http.MethodGet:
		out := renderUser(&del.user, defaultUserSelect)
		out["@odata.context"] = baseURL(r) + "/v1.0/$metadata#directory/deletedItems/$entity"
		out["@odata.type"] = "#microsoft.graph.user"
		out["deletedDateTime"] = formatTime(del.deletedAt)
		writeJSON(w, http.StatusOK, out)
	case len(segs) == 1 && r.Method == http.MethodDelete:
		delete(e.dir.deleted, id)
		writeNoContent(w)
	default:
		writeMethodNotAllowed(w, r)
	}
}
