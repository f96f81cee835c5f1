package emulator

import (
	"io"
	"net/http"
	"net/url"
	"testing"
)

// $count=true needs "ConsistencyLevel: eventual" on directory objects; with it the count
// covers every matching user, not only the page.
func TestUsersCount(t *testing.T) {
	h := newHarness(t, Options{})
	for _, m := range []string{"a@fabrikam.com", "b@fabrikam.com", "c@contoso.com"} {
		h.e.AddUser(User{Mail: m, UserType: "Guest"})
	}
	eventual := []string{"ConsistencyLevel", "eventual"}

	rep := h.graph(http.MethodGet, "/users?$count=true&$top=1&$filter="+url.QueryEscape("startswith(mail,'a') or startswith(mail,'b')"), nil, eventual...)
	if rep.status != http.StatusOK || rep.body["@odata.count"] != float64(2) || len(values(t, rep)) != 1 || rep.body["@odata.nextLink"] == nil {
		t.Fatalf("$count=true: %d %s", rep.status, rep.raw)
	}
	next, _ := url.Parse(rep.body["@odata.nextLink"].(string))
	rep = h.call(http.MethodGet, next.RequestURI(), nil, eventual...)
	if rep.body["@odata.count"] != float64(2) || len(values(t, rep)) != 1 || rep.body["@odata.nextLink"] != nil {
		t.Errorf("second page: %s", rep.raw)
	}
	if rep := h.graph(http.MethodGet, "/users?$count=false", nil); rep.status != http.StatusOK || rep.body["@odata.count"] != nil {
		t.Errorf("$count=false: %d %s", rep.status, rep.raw)
	}
	wantError(t, h.graph(http.MethodGet, "/users?$count=true", nil), http.StatusBadRequest, codeRequestBadRequest, msgCountNeedsEventual)
	wantError(t, h.graph(http.MethodGet, "/users?$count=maybe", nil, eventual...), http.StatusBadRequest, codeBadRequest, "$count")

	// The raw count is text/plain.
	raw := func(hdr ...string) (int, string, string) {
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/v1.0/users/$count?$filter="+url.QueryEscape("userType eq 'Guest'"), nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := h.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	if status, ct, body := raw(eventual...); status != http.StatusOK || ct != "text/plain" || body != "3" {
		t.Errorf("/users/$count: %d %s %q", status, ct, body)
	}
	wantError(t, h.graph(http.MethodGet, "/users/$count", nil), http.StatusBadRequest, codeUnsupportedQuery, "ConsistencyLevel:eventual")
}

// Every answer carries request-id and client-request-id headers, the latter made up when the
// caller sent none, and an error repeats them with the date in innerError.
func TestRequestIDs(t *testing.T) {
	h := newHarness(t, Options{})
	rep := h.graph(http.MethodGet, "/users/nobody", nil)
	inner := rep.body["error"].(map[string]any)["innerError"].(map[string]any)
	if c := rep.header.Get("client-request-id"); c == "" || inner["client-request-id"] != c {
		t.Errorf("generated client-request-id: header %q, innerError %v", c, inner["client-request-id"])
	}
	if rid := rep.header.Get("request-id"); rid == "" || inner["request-id"] != rid {
		t.Errorf("request-id: header %q, innerError %v", rid, inner["request-id"])
	}
	if d, _ := inner["date"].(string); len(d) != len("2006-01-02T15:04:05") {
		t.Errorf("innerError date %q", d)
	}
	rep = h.graph(http.MethodGet, "/users/nobody", nil, "client-request-id", "mine-1")
	if rep.header.Get("client-request-id") != "mine-1" || str(rep.body, "error", "innerError", "client-request-id") != "mine-1" {
		t.Errorf("echoed client-request-id: %s", rep.raw)
	}
	if rep := h.graph(http.MethodGet, "/users", nil); rep.header.Get("client-request-id") == "" || rep.header.Get("request-id") == "" {
		t.Errorf("a success lacks the ids: %v", rep.header)
	}
}

// The soft-delete bin: listed with a type cast, paged, counted, read, restored and purged.
func TestDeletedItems(t *testing.T) {
	h := newHarness(t, Options{})
	var ids []string
	for _, m := range []string{"a@fabrikam.com", "b@fabrikam.com", "c@fabrikam.com"} {
		id := h.inviteID(m)
		ids = append(ids, id)
		if rep := h.graph(http.MethodDelete, "/users/"+id, nil); rep.status != http.StatusNoContent {
			t.Fatalf("delete %s: %d %s", m, rep.status, rep.raw)
		}
	}
	const list = "/directory/deletedItems/microsoft.graph.user"
	pages := h.pageThrough(list + "?$top=2&$select=id,mail,deletedDateTime")
	if len(pages) != 2 || len(pages[0]) != 2 || len(pages[1]) != 1 {
		t.Fatalf("pages %v", pages)
	}
	for i, u := range append(pages[0], pages[1]...) {
		if u["id"] != ids[i] || u["deletedDateTime"] == nil || u["@odata.type"] != odataTypeUser {
			t.Errorf("entry %d: %v", i, u)
		}
	}
	rep := h.graph(http.MethodGet, list+"?$count=true&$filter="+url.QueryEscape("mail eq 'b@fabrikam.com'"), nil, "ConsistencyLevel", "eventual")
	if v := values(t, rep); rep.body["@odata.count"] != float64(1) || len(v) != 1 || v[0]["id"] != ids[1] {
		t.Errorf("filtered and counted: %s", rep.raw)
	}
	wantError(t, h.graph(http.MethodGet, "/directory/deletedItems", nil), http.StatusBadRequest, codeRequestBadRequest, "type cast")
	if rep := h.graph(http.MethodGet, "/directory/deletedItems/microsoft.graph.group", nil); rep.status != http.StatusOK || len(values(t, rep)) != 0 {
		t.Errorf("deleted groups: %d %s", rep.status, rep.raw)
	}

	if rep := h.graph(http.MethodGet, "/directory/deletedItems/"+ids[0]+"?$select=id,deletedDateTime", nil); rep.status != http.StatusOK ||
		str(rep.body, "id") != ids[0] || str(rep.body, "deletedDateTime") == "" {
		t.Errorf("get deleted: %d %s", rep.status, rep.raw)
	}
	if rep := h.graph(http.MethodPost, "/directory/deletedItems/"+ids[0]+"/restore", nil); rep.status != http.StatusOK || str(rep.body, "id") != ids[0] {
		t.Errorf("restore: %d %s", rep.status, rep.raw)
	}
	if rep := h.graph(http.MethodGet, "/users/"+ids[0], nil); rep.status != http.StatusOK {
		t.Errorf("restored user: %d %s", rep.status, rep.raw)
	}
	if rep := h.graph(http.MethodDelete, "/directory/deletedItems/"+ids[1], nil); rep.status != http.StatusNoContent {
		t.Errorf("purge: %d %s", rep.status, rep.raw)
	}
	wantError(t, h.graph(http.MethodGet, "/directory/deletedItems/"+ids[1], nil), http.StatusNotFound, codeNotFound, ids[1])
	wantError(t, h.graph(http.MethodPost, "/directory/deletedItems/"+ids[1]+"/restore", nil), http.StatusNotFound, codeNotFound, ids[1])
	if pages := h.pageThrough(list); len(pages) != 1 || len(pages[0]) != 1 || pages[0][0]["id"] != ids[2] {
		t.Errorf("after restore and purge: %v", pages)
	}

	// A user whose UPN a live user took meanwhile cannot come back.
	if rep := h.graph(http.MethodPatch, "/users/"+ids[0], map[string]any{"userPrincipalName": "c_fabrikam.com#EXT#@" + TenantDomain}); rep.status != http.StatusNoContent {
		t.Fatalf("take the UPN: %d %s", rep.status, rep.raw)
	}
	wantError(t, h.graph(http.MethodPost, "/directory/deletedItems/"+ids[2]+"/restore", nil), http.StatusBadRequest, codeRequestBadRequest, "userPrincipalName")
}
