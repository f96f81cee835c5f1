package emulator

import (
	"fmt"
	"net/http"
	"path"
	"slices"
	"strings"
)

// defaultSponsorPageSize is Graph's default page size for directoryObject navigations.
const defaultSponsorPageSize = 100

const (
	odataTypeUser  = "#microsoft.graph.user"
	odataTypeGroup = "#microsoft.graph.group"
)

func (u *userRec) hasSponsor(id string) bool { return slices.Contains(u.sponsors, id) }

func (u *userRec) removeSponsor(id string) bool {
	n := len(u.sponsors)
	u.sponsors = slices.DeleteFunc(u.sponsors, func(s string) bool { return s == id })
	return len(u.sponsors) != n
}

// Sponsors returns the object ids of the user's sponsors in the order they were added (nil
// when the user does not exist).
func (e *Emulator) Sponsors(userID string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.dir.users[userID]
	if u == nil {
		return nil
	}
	return append([]string{}, u.sponsors...)
}

// AddSponsorOutOfBand makes a user or group a sponsor of the user as a portal administrator
// would (not logged).
func (e *Emulator) AddSponsorOutOfBand(userID, sponsorID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.dir.users[userID]
	switch {
	case u == nil:
		return fmt.Errorf("emulator: user %q does not exist", userID)
	case e.dir.users[sponsorID] == nil && e.dir.groups[sponsorID] == nil:
		return fmt.Errorf("emulator: sponsor %q is neither a user nor a group", sponsorID)
	case u.hasSponsor(sponsorID):
		return fmt.Errorf("emulator: %q is already a sponsor of user %q", sponsorID, userID)
	}
	u.sponsors = append(u.sponsors, sponsorID)
	return nil
}

// RemoveSponsorOutOfBand removes a sponsor as a portal administrator would (not logged).
func (e *Emulator) RemoveSponsorOutOfBand(userID, sponsorID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.dir.users[userID]
	if u == nil || !u.removeSponsor(sponsorID) {
		return fmt.Errorf("emulator: %q is not a sponsor of user %q", sponsorID, userID)
	}
	return nil
}

// sponsorProps are the properties $select may name on a user's sponsors. The collection is
// of directoryObjects; a property the object's type lacks is left out of its entry.
var sponsorProps = canonicalNames("id", "displayName", "mail", "userPrincipalName", "userType")

// routeSponsors serves /users/{id}/sponsors (GET), /users/{id}/sponsors/$ref (POST) and
// /users/{id}/sponsors/{sponsorId}/$ref (DELETE); segs is what follows "sponsors".
func (e *Emulator) routeSponsors(w http.ResponseWriter, r *http.Request, userKey string, segs []string, body []byte) {
	switch {
	case len(segs) == 0 && r.Method == http.MethodGet:
		e.listSponsors(w, r, userKey)
	case len(segs) == 1 && segs[0] == "$ref" && r.Method == http.MethodPost:
		e.addSponsor(w, r, userKey, body)
	case len(segs) == 2 && segs[1] == "$ref" && r.Method == http.MethodDelete:
		e.removeSponsor(w, r, userKey, segs[0])
	case len(segs) == 0 || (len(segs) == 1 && segs[0] == "$ref") || (len(segs) == 2 && segs[1] == "$ref"):
		writeMethodNotAllowed(w, r)
	default:
		writeError(w, r, http.StatusNotFound, codeNotFound,
			fmt.Sprintf("Resource not found for the segment '%s'.", segs[len(segs)-1]))
	}
}

// listSponsors serves GET /users/{id}/sponsors with $select, $top and $skiptoken paging.
func (e *Emulator) listSponsors(w http.ResponseWriter, r *http.Request, userKey string) {
	page, ok := parseRelationPage(w, r, sponsorProps, "directoryObject", defaultSponsorPageSize)
	if !ok {
		return
	}
	sel, top, offset := page.sel, page.top, page.offset

	e.mu.Lock()
	u := e.dir.visibleUserByKey(userKey, e.now())
	value := []map[string]any{}
	more := false
	if u != nil {
		for i := offset; i < len(u.sponsors) && len(value) < top; i++ {
			if obj := e.dir.renderDirectoryObject(u.sponsors[i], sel); obj != nil {
				value = append(value, obj)
			}
		}
		more = offset+top < len(u.sponsors)
	}
	e.mu.Unlock()
	if u == nil {
		writeNotFound(w, r, userKey)
		return
	}
	writeDirectoryObjectsPage(w, r, page, value, more)
}

// renderDirectoryObject renders a user or group as an entry of a directoryObject collection:
// "@odata.type" always, then the selected properties its type has (the type's default set
// when sel is nil). It returns nil for an object that no longer exists.
func (d *directory) renderDirectoryObject(id string, sel []string) map[string]any {
	if u := d.users[id]; u != nil {
		if sel == nil {
			sel = defaultUserSelect
		}
		m := renderUser(&u.User, sel)
		m["@odata.type"] = odataTypeUser
		return m
	}
	g := d.groups[id]
	if g == nil {
		return nil
	}
	props := renderGroup(&g.Group)
	m := props
	if sel != nil {
		m = map[string]any{"id": g.ID}
		for _, p := range sel {
			if v, ok := props[p]; ok {
				m[p] = v
			}
		}
	}
	m["@odata.type"] = odataTypeGroup
	return m
}

// addSponsor serves POST /users/{id}/sponsors/$ref. The "@odata.id" may name the sponsor
// under /users, /groups or /directoryObjects. A user or sponsor that has not replicated yet
// gets the same eventual-consistency 400 as a group member write.
func (e *Emulator) addSponsor(w http.ResponseWriter, r *http.Request, userKey string, body []byte) {
	odataID, sponsorID, ok := readRef(w, r, body)
	if !ok {
		return
	}
	notYet := func() {
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest,
			"One or more added object references do not exist for the following modified properties: 'sponsors'.")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	u := e.dir.userByKey(userKey)
	switch {
	case u == nil:
		writeNotFound(w, r, userKey)
		return
	case !u.visible(now):
		notYet()
		return
	}
	var sponsorUser *userRec
	var sponsorGroup *groupRec
	switch strings.ToLower(refCollection(odataID)) {
	case "users":
		sponsorUser = e.dir.userByKey(sponsorID)
	case "groups":
		sponsorGroup = e.dir.groups[sponsorID]
	default: // directoryObjects: either kind
		sponsorUser, sponsorGroup = e.dir.users[sponsorID], e.dir.groups[sponsorID]
	}
	switch {
	case sponsorUser == nil && sponsorGroup == nil:
		writeNotFound(w, r, sponsorID)
		return
	case sponsorUser != nil && !sponsorUser.visible(now):
		notYet()
		return
	}
	if sponsorUser != nil {
		sponsorID = sponsorUser.ID // the reference may have named a UPN
	}
	if u.hasSponsor(sponsorID) {
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest,
			"One or more added object references already exist for the following modified properties: 'sponsors'.")
		return
	}
	u.sponsors = append(u.sponsors, sponsorID)
	writeNoContent(w)
}

// refCollection is the entity set an "@odata.id" names, e.g. "users" in .../v1.0/users/{id}
// or "directoryObjects" in .../directoryObjects('{id}'); "" when it names none.
func refCollection(ref string) string {
	ref = strings.TrimSpace(ref)
	if i := strings.IndexAny(ref, "?#"); i >= 0 {
		ref = ref[:i]
	}
	ref = strings.TrimRight(ref, "/")
	last := path.Base(ref)
	if i := strings.IndexByte(last, '('); i > 0 {
		return last[:i]
	}
	if dir := path.Dir(ref); dir != "." && dir != "/" {
		return path.Base(dir)
	}
	return ""
}

// removeSponsor serves DELETE /users/{id}/sponsors/{sponsorId}/$ref.
func (e *Emulator) removeSponsor(w http.ResponseWriter, r *http.Request, userKey, sponsorID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.dir.userByKey(userKey)
	switch {
	case u == nil:
		writeNotFound(w, r, userKey)
	case !u.visible(e.now()):
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest,
			"One or more removed object references do not exist for the following modified properties: 'sponsors'.")
	case !u.removeSponsor(sponsorID):
		writeNotFound(w, r, sponsorID)
	default:
		writeNoContent(w)
	}
}
