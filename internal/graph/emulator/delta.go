package emulator

import (
	"net/http"
	"sort"
	"strings"
)

// users/delta is built on the directory's change sequence: every change to a user stamps
// it with the next sequence number and every deletion leaves a tombstone with one. A delta
// round snapshots the ids to report and the sequence it covers (upTo); its deltaLink then
// asks for everything after upTo. Users changed while a round is being paged get a number
// above upTo and so appear in the next round, never lost.

// deltaSession is one round's snapshot, shared by its pages.
type deltaSession struct {
	entries  []deltaEntry
	upTo     int64
	sel      []string
	selected bool // whether $select was given (it shapes @odata.context)
}

type deltaEntry struct {
	id      string
	removed bool
}

// deltaPage is what a $skiptoken stands for. Tokens stay valid so a retried page request
// (the SDK retries on 429/503) gets the same page again.
type deltaPage struct {
	s      *deltaSession
	offset int
}

// deltaState is what a $deltatoken stands for.
type deltaState struct {
	since    int64
	sel      []string
	selected bool
}

func (e *Emulator) usersDelta(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sel, ok := e.selectUsers(w, r)
	if !ok {
		return
	}
	selected := strings.TrimSpace(q.Get("$select")) != ""

	e.mu.Lock()
	defer e.mu.Unlock()
	var page deltaPage
	switch {
	case q.Has("$skiptoken"):
		p, ok := e.dir.deltaPages[q.Get("$skiptoken")]
		if !ok {
			writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, "Invalid skip token")
			return
		}
		page = p
	case q.Has("$deltatoken"):
		tok := q.Get("$deltatoken")
		if tok == "latest" {
			// Graph's shortcut: start tracking from now without reading everything.
			page.s = &deltaSession{upTo: e.dir.seq, sel: sel, selected: selected}
			break
		}
		st, ok := e.dir.deltaTokens[tok]
		if !ok {
			writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, "Invalid delta token")
			return
		}
		if !selected {
			// The token remembers the round's $select, so a replayed link needs none.
			sel, selected = st.sel, st.selected
		}
		page.s = e.dir.changesSince(st.since, sel, selected)
	default:
		page.s = e.dir.fullSync(sel, selected)
	}

	s := page.s
	end := min(page.offset+e.opts.DeltaPageSize, len(s.entries))
	value := make([]map[string]any, 0, end-page.offset)
	for _, ent := range s.entries[page.offset:end] {
		u := e.dir.users[ent.id]
		if ent.removed || u == nil {
			value = append(value, map[string]any{"id": ent.id, "@removed": map[string]any{"reason": "deleted"}})
			continue
		}
		value = append(value, renderUser(&u.User, s.sel))
	}
	ctx := baseURL(r) + "/v1.0/$metadata#users"
	if s.selected {
		ctx += "(" + strings.Join(s.sel, ",") + ")"
	}
	out := map[string]any{"@odata.context": ctx, "value": value}
	link := baseURL(r) + r.URL.EscapedPath()
	tok := randToken(18)
	if end < len(s.entries) {
		e.dir.deltaPages[tok] = deltaPage{s: s, offset: end}
		out["@odata.nextLink"] = link + "?$skiptoken=" + tok
	} else {
		e.dir.deltaTokens[tok] = deltaState{since: s.upTo, sel: s.sel, selected: s.selected}
		out["@odata.deltaLink"] = link + "?$deltatoken=" + tok
	}
	writeJSON(w, http.StatusOK, out)
}

// fullSync snapshots every current user, the first round of a delta query.
func (d *directory) fullSync(sel []string, selected bool) *deltaSession {
	s := &deltaSession{upTo: d.seq, sel: sel, selected: selected}
	for _, u := range d.sortedUsers() {
		s.entries = append(s.entries, deltaEntry{id: u.ID})
	}
	return s
}

// changesSince snapshots the users changed or deleted after sequence number since, in the
// order the changes happened, each id once.
func (d *directory) changesSince(since int64, sel []string, selected bool) *deltaSession {
	type change struct {
		deltaEntry
		seq int64
	}
	var changes []change
	for _, u := range d.users {
		if u.seq > since {
			changes = append(changes, change{deltaEntry{id: u.ID}, u.seq})
		}
	}
	seen := map[string]bool{}
	for i := len(d.tombstones) - 1; i >= 0 && d.tombstones[i].seq > since; i-- {
		t := d.tombstones[i]
		// A user deleted and restored since is reported by its current state instead.
		if d.users[t.id] != nil || seen[t.id] {
			continue
		}
		seen[t.id] = true
		changes = append(changes, change{deltaEntry{id: t.id, removed: true}, t.seq})
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].seq < changes[j].seq })
	s := &deltaSession{upTo: d.seq, sel: sel, selected: selected}
	for _, c := range changes {
		s.entries = append(s.entries, c.deltaEntry)
	}
	return s
}
