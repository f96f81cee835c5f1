package emulator

import (
	"net/http"
	"strings"
)

// castUser is the type-cast segment that narrows deletedItems to users; Graph requires one to
// list the bin (https://learn.microsoft.com/en-us/graph/api/directory-deleteditems-list).
const castUser = "microsoft.graph.user"

// deletedUserSelect is what a deleted user shows without $select: the user default set and
// when it was deleted.
var deletedUserSelect = append(append([]string{}, defaultUserSelect...), "deletedDateTime")

// routeDeletedItems serves Entra's 30-day soft-delete bin, segs being what follows
// /directory/deletedItems:
//
//	GET    /directory/deletedItems/microsoft.graph.user   list the deleted users
//	GET    /directory/deletedItems/{id}                    one deleted object
//	POST   /directory/deletedItems/{id}/restore            restore it
//	DELETE /directory/deletedItems/{id}                    delete it for good
func (e *Emulator) routeDeletedItems(w http.ResponseWriter, r *http.Request, segs []string) {
	switch {
	case len(segs) == 0:
		// Without a cast Graph does not know which class of objects to list.
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest,
			"Listing deletedItems requires a type cast, e.g. /directory/deletedItems/microsoft.graph.user.")
	case len(segs) == 1 && strings.EqualFold(segs[0], castUser):
		if r.Method != http.MethodGet {
			writeMethodNotAllowed(w, r)
			return
		}
		e.listDeletedUsers(w, r)
	case len(segs) == 1 && strings.HasPrefix(strings.ToLower(segs[0]), "microsoft.graph."):
		// Other classes (groups, applications, ...) are never deleted in the emulator.
		if r.Method != http.MethodGet {
			writeMethodNotAllowed(w, r)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"@odata.context": baseURL(r) + "/v1.0/$metadata#directoryObjects/" + segs[0],
			"value":          []any{},
		})
	case len(segs) == 1 || (len(segs) == 2 && strings.EqualFold(segs[1], castUser)):
		e.deletedItem(w, r, segs[0])
	case len(segs) == 2 && strings.EqualFold(segs[1], "restore"):
		if r.Method != http.MethodPost {
			writeMethodNotAllowed(w, r)
			return
		}
		e.restoreDeletedItem(w, r, segs[0])
	default:
		writeError(w, r, http.StatusNotFound, codeNotFound, "Resource not found for the segment '"+segs[len(segs)-1]+"'.")
	}
}

// listDeletedUsers serves GET /directory/deletedItems/microsoft.graph.user with $select,
// $filter, $top paging and $count, most recently deleted last.
func (e *Emulator) listDeletedUsers(w http.ResponseWriter, r *http.Request) {
	sel, err := e.parseUserSelect(r.URL.Query().Get("$select"), deletedUserSelect)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	q, ok := parseListQuery(w, r, e.userFilter())
	if !ok {
		return
	}
	e.mu.Lock()
	recs := make([]*deletedRec, 0, len(e.dir.deleted))
	for _, d := range e.dir.deleted {
		recs = append(recs, d)
	}
	sortByOrd(recs, func(d *deletedRec) int64 { return d.ord })
	page := newListPage(q)
	for _, d := range recs {
		if !q.matches(userGetter(&d.user)) {
			continue
		}
		page.add(d.ord, func() map[string]any { return renderDeletedUser(d, sel) })
	}
	e.mu.Unlock()
	page.write(w, r, baseURL(r)+"/v1.0/$metadata#directory/deletedItems/microsoft.graph.user")
}

func renderDeletedUser(d *deletedRec, sel []string) map[string]any {
	m := renderUser(&d.user, sel)
	if _, ok := m["deletedDateTime"]; ok {
		m["deletedDateTime"] = formatTime(d.deletedAt)
	}
	m["@odata.type"] = odataTypeUser
	return m
}

// deletedItem serves GET and DELETE (permanent) on /directory/deletedItems/{id}.
func (e *Emulator) deletedItem(w http.ResponseWriter, r *http.Request, id string) {
	sel, err := e.parseUserSelect(r.URL.Query().Get("$select"), deletedUserSelect)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	del := e.dir.deleted[id]
	if del == nil {
		writeNotFound(w, r, id)
		return
	}
	switch r.Method {
	case http.MethodGet:
		out := renderDeletedUser(del, sel)
		out["@odata.context"] = baseURL(r) + "/v1.0/$metadata#directoryObjects/$entity"
		writeJSON(w, http.StatusOK, out)
	case http.MethodDelete:
		delete(e.dir.deleted, id)
		writeNoContent(w)
	default:
		writeMethodNotAllowed(w, r)
	}
}

// restoreDeletedItem serves POST /directory/deletedItems/{id}/restore: the user comes back
// with its id, and delta reports it as changed. Its group memberships and app role
// assignments stay gone, as the emulator dropped them at deletion.
func (e *Emulator) restoreDeletedItem(w http.ResponseWriter, r *http.Request, id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	del := e.dir.deleted[id]
	if del == nil {
		writeNotFound(w, r, id)
		return
	}
	if other := e.dir.userByKey(del.user.UserPrincipalName); other != nil {
		// Graph refuses to restore over a live object holding the same UPN.
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, msgUPNTaken)
		return
	}
	u := e.dir.restoreUser(id)
	out := renderUser(&u.User, defaultUserSelect)
	out["@odata.context"] = baseURL(r) + "/v1.0/$metadata#directoryObjects/$entity"
	out["@odata.type"] = odataTypeUser
	out["deletedDateTime"] = nil
	writeJSON(w, http.StatusOK, out)
}
