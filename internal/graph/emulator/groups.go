package emulator

import (
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
)

// Group is a group guests are members of; the zero Kind is a security group, the kind the
// operator adds guests to.
type Group struct {
	ID          string `json:"id,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
	// Kind is GroupSecurity (the default), GroupMicrosoft365, GroupMailEnabledSecurity or
	// GroupDistribution; it shapes groupTypes, mailEnabled and securityEnabled.
	Kind string `json:"kind,omitempty"`
	// Dynamic groups take their members from a rule (groupTypes DynamicMembership).
	Dynamic bool `json:"dynamic,omitempty"`
	// OnPremises groups are synchronised from an on-premises directory
	// (onPremisesSyncEnabled true).
	OnPremises bool `json:"onPremises,omitempty"`
}

// Group kinds, after the portal's group types.
const (
	GroupSecurity            = "Security"
	GroupMicrosoft365        = "Microsoft365"
	GroupMailEnabledSecurity = "MailEnabledSecurity"
	GroupDistribution        = "Distribution"
)

type groupRec struct {
	Group
	ord     int64
	members []string // user ids in the order they were added
}

func (g *groupRec) isMember(id string) bool {
	for _, m := range g.members {
		if m == id {
			return true
		}
	}
	return false
}

func (g *groupRec) removeMember(id string) bool {
	for i, m := range g.members {
		if m == id {
			g.members = append(g.members[:i], g.members[i+1:]...)
			return true
		}
	}
	return false
}

// AddGroup seeds a group; an empty ID is generated.
func (e *Emulator) AddGroup(g Group) Group {
	e.mu.Lock()
	defer e.mu.Unlock()
	if g.ID == "" {
		g.ID = newUUID()
	}
	rec := &groupRec{Group: g, ord: e.dir.nextOrd()}
	if old := e.dir.groups[g.ID]; old != nil {
		rec.ord, rec.members = old.ord, old.members
	}
	e.dir.groups[g.ID] = rec
	return g
}

// GroupMembers returns the member user ids in the order they were added (nil if the group
// does not exist).
func (e *Emulator) GroupMembers(groupID string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.dir.groups[groupID]
	if g == nil {
		return nil
	}
	return append([]string{}, g.members...)
}

// AddGroupMemberOutOfBand adds a member as a portal administrator would (not logged).
func (e *Emulator) AddGroupMemberOutOfBand(groupID, userID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.dir.groups[groupID]
	switch {
	case g == nil:
		return fmt.Errorf("emulator: group %q does not exist", groupID)
	case e.dir.users[userID] == nil:
		return fmt.Errorf("emulator: user %q does not exist", userID)
	case g.isMember(userID):
		return fmt.Errorf("emulator: user %q is already a member of group %q", userID, groupID)
	}
	g.members = append(g.members, userID)
	return nil
}

// RemoveGroupMemberOutOfBand removes a member as a portal administrator would (not logged).
func (e *Emulator) RemoveGroupMemberOutOfBand(groupID, userID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.dir.groups[groupID]
	if g == nil || !g.isMember(userID) {
		return fmt.Errorf("emulator: user %q is not a member of group %q", userID, groupID)
	}
	g.members = slices.DeleteFunc(g.members, func(id string) bool { return id == userID })
	return nil
}

var groupFilterSchema = filterSchema{scalars: canonicalNames("id", "displayName")}

// renderGroup renders the group properties the emulator models, as Graph serialises them.
func renderGroup(g *Group) map[string]any {
	types := []string{}
	mailEnabled, securityEnabled := false, true
	switch g.Kind {
	case GroupMicrosoft365:
		types, mailEnabled, securityEnabled = append(types, "Unified"), true, false
	case GroupMailEnabledSecurity:
		mailEnabled = true
	case GroupDistribution:
		mailEnabled, securityEnabled = true, false
	}
	if g.Dynamic {
		types = append(types, "DynamicMembership")
	}
	var onPremises any // null: never synchronised
	if g.OnPremises {
		onPremises = true
	}
	return map[string]any{
		"id": g.ID, "displayName": g.DisplayName, "groupTypes": types,
		"mailEnabled": mailEnabled, "securityEnabled": securityEnabled, "onPremisesSyncEnabled": onPremises,
	}
}

// routeGroups serves /groups, /groups/{id}, /groups/{id}/members/$ref and
// /groups/{id}/members/{userId}/$ref.
func (e *Emulator) routeGroups(w http.ResponseWriter, r *http.Request, segs []string, body []byte) {
	switch {
	case len(segs) == 0 && r.Method == http.MethodGet:
		e.listGroups(w, r)
	case len(segs) == 1 && r.Method == http.MethodGet:
		e.mu.Lock()
		g := e.dir.groups[segs[0]]
		var out map[string]any
		if g != nil {
			out = renderGroup(&g.Group)
		}
		e.mu.Unlock()
		if out == nil {
			writeNotFound(w, r, segs[0])
			return
		}
		out["@odata.context"] = baseURL(r) + "/v1.0/$metadata#groups/$entity"
		writeJSON(w, http.StatusOK, out)
	case len(segs) == 3 && segs[1] == "members" && segs[2] == "$ref" && r.Method == http.MethodPost:
		e.addGroupMember(w, r, segs[0], body)
	case len(segs) == 4 && segs[1] == "members" && segs[3] == "$ref" && r.Method == http.MethodDelete:
		e.removeGroupMember(w, r, segs[0], segs[2])
	case len(segs) <= 1 || (len(segs) == 3 && segs[2] == "$ref") || (len(segs) == 4 && segs[3] == "$ref"):
		writeMethodNotAllowed(w, r)
	default:
		writeError(w, r, http.StatusNotFound, codeNotFound,
			fmt.Sprintf("Resource not found for the segment '%s'.", segs[len(segs)-1]))
	}
}

func (e *Emulator) listGroups(w http.ResponseWriter, r *http.Request) {
	var filter filterNode
	if f := strings.TrimSpace(r.URL.Query().Get("$filter")); f != "" {
		var err error
		if filter, err = parseFilter(f, groupFilterSchema); err != nil {
			writeError(w, r, http.StatusBadRequest, codeUnsupportedQuery, "Unsupported Query. "+err.Error())
			return
		}
	}
	e.mu.Lock()
	recs := make([]*groupRec, 0, len(e.dir.groups))
	for _, g := range e.dir.groups {
		recs = append(recs, g)
	}
	sortByOrd(recs, func(g *groupRec) int64 { return g.ord })
	value := []map[string]any{}
	for _, g := range recs {
		get := func(p string) []string {
			if p == "id" {
				return []string{g.ID}
			}
			return []string{g.DisplayName}
		}
		if filter == nil || filter.match(get) {
			value = append(value, renderGroup(&g.Group))
		}
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": baseURL(r) + "/v1.0/$metadata#groups",
		"value":          value,
	})
}

// addGroupMember serves POST /groups/{id}/members/$ref, with Graph's eventual-consistency
// 400 for a user that exists but has not replicated yet.
func (e *Emulator) addGroupMember(w http.ResponseWriter, r *http.Request, groupID string, body []byte) {
	_, userID, ok := readRef(w, r, body)
	if !ok {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.dir.groups[groupID]
	switch {
	case g == nil:
		writeNotFound(w, r, groupID)
	case e.dir.visibleUser(userID, e.now()) == nil:
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest,
			"One or more added object references do not exist for the following modified properties: 'members'.")
	case g.isMember(userID):
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest,
			"One or more added object references already exist for the following modified properties: 'members'.")
	default:
		g.members = append(g.members, userID)
		writeNoContent(w)
	}
}

// refTarget takes the object id from an "@odata.id" reference, whatever host it names
// (graph.microsoft.com in production code, the emulator in some tests).
func refTarget(ref string) string {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return ""
	}
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	last := path.Base(strings.TrimRight(ref, "/"))
	// Also accept the key form directoryObjects('id').
	if i := strings.IndexByte(last, '('); i >= 0 && strings.HasSuffix(last, ")") {
		last = strings.Trim(last[i+1:len(last)-1], "'")
	}
	if last == "." || last == "/" {
		return ""
	}
	return last
}

func (e *Emulator) removeGroupMember(w http.ResponseWriter, r *http.Request, groupID, userID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.dir.groups[groupID]
	if g == nil {
		writeNotFound(w, r, groupID)
		return
	}
	if !g.removeMember(userID) {
		writeNotFound(w, r, userID)
		return
	}
	writeNoContent(w)
}
