package emulator

import (
	"net/http"
)

// memberOfProps are the properties $select may name on a user's memberOf. The collection is of
// directoryObjects; Graph takes the properties of its derived types too, and leaves a property
// out of the entries whose type lacks it.
var memberOfProps = canonicalNames("id", "displayName", "groupTypes", "mailEnabled", "securityEnabled", "onPremisesSyncEnabled")

// assignmentProps are the properties of an appRoleAssignment.
var assignmentProps = canonicalNames("id", "appRoleId", "createdDateTime", "deletedDateTime", "principalDisplayName",
	"principalId", "principalType", "resourceDisplayName", "resourceId")

// listMemberOf serves GET /users/{id}/memberOf: the groups the user is a direct member of (the
// emulator has no directory roles or administrative units), each with its @odata.type, with
// $select, $top and $skiptoken paging.
func (e *Emulator) listMemberOf(w http.ResponseWriter, r *http.Request, userKey string) {
	page, ok := parseRelationPage(w, r, memberOfProps, "directoryObject", defaultPageSize)
	if !ok {
		return
	}
	sel, top, offset := page.sel, page.top, page.offset
	e.mu.Lock()
	u := e.dir.visibleUserByKey(userKey, e.now())
	var ids []string
	if u != nil {
		ids = e.dir.groupsOf(u.ID)
	}
	value := []map[string]any{}
	for _, id := range ids[min(offset, len(ids)):min(offset+top, len(ids))] {
		value = append(value, e.dir.renderDirectoryObject(id, sel))
	}
	e.mu.Unlock()
	if u == nil {
		writeNotFound(w, r, userKey)
		return
	}
	writeDirectoryObjectsPage(w, r, page, value, offset+top < len(ids))
}

// groupsOf returns the ids of the groups userID is a direct member of, in creation order.
func (d *directory) groupsOf(userID string) []string {
	var recs []*groupRec
	for _, g := range d.groups {
		if g.isMember(userID) {
			recs = append(recs, g)
		}
	}
	sortByOrd(recs, func(g *groupRec) int64 { return g.ord })
	ids := make([]string, len(recs))
	for i, g := range recs {
		ids[i] = g.ID
	}
	return ids
}

// listUserAssignments serves GET /users/{id}/appRoleAssignments: as Graph documents, the
// assignments granted to the user and those granted to groups it is a direct member of, with
// $select, $top and $skiptoken paging.
func (e *Emulator) listUserAssignments(w http.ResponseWriter, r *http.Request, userKey string) {
	page, ok := parseRelationPage(w, r, assignmentProps, "appRoleAssignment", defaultPageSize)
	if !ok {
		return
	}
	sel, top, offset := page.sel, page.top, page.offset
	e.mu.Lock()
	u := e.dir.visibleUserByKey(userKey, e.now())
	var all []map[string]any
	if u != nil {
		groups := map[string]bool{}
		for _, id := range e.dir.groupsOf(u.ID) {
			groups[id] = true
		}
		for _, a := range e.dir.assignments {
			if a.PrincipalID == u.ID || (a.principalType == "Group" && groups[a.PrincipalID]) {
				all = append(all, selectProps(e.renderAssignment(a), sel))
			}
		}
	}
	e.mu.Unlock()
	if u == nil {
		writeNotFound(w, r, userKey)
		return
	}
	out := map[string]any{
		"@odata.context": baseURL(r) + "/v1.0/$metadata#users('" + u.ID + "')/appRoleAssignments",
		"value":          append([]map[string]any{}, all[min(offset, len(all)):min(offset+top, len(all))]...),
	}
	if offset+top < len(all) {
		out["@odata.nextLink"] = nextLink(r, offset+top)
	}
	writeJSON(w, http.StatusOK, out)
}

// selectProps keeps the selected properties of a rendered object (all of them when sel is
// nil); id always stays.
func selectProps(m map[string]any, sel []string) map[string]any {
	if sel == nil {
		return m
	}
	out := map[string]any{"id": m["id"]}
	for _, p := range sel {
		out[p] = m[p]
	}
	return out
}
