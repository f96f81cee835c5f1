package emulator

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
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

// props is a user's property values by canonical name, as a filter reads them.
type props map[string][]string

func (p props) get(name string) []string { return p[name] }

// `in` lists parse on scalars and inside any(), and match without regard to case.
func TestParseFilterIn(t *testing.T) {
	tests := []struct {
		filter string
		match  []props
		miss   []props
	}{
		{
			filter: "mail in ('a@x.com','B@x.com')",
			match:  []props{{"mail": {"a@x.com"}}, {"mail": {"A@X.COM"}}, {"mail": {"b@x.com"}}},
			miss:   []props{{"mail": {"c@x.com"}}, {"mail": nil}, {"otherMails": {"a@x.com"}}},
		},
		{
			filter: "otherMails/any(m:m in ('a@x.com'))",
			match:  []props{{"otherMails": {"z@y.com", "A@x.Com"}}},
			miss:   []props{{"otherMails": {"z@y.com"}}, {"mail": {"a@x.com"}}, {}},
		},
		{
			// Keywords and property names are case-insensitive too; values with a doubled
			// quote are unescaped.
			filter: "MAIL IN ('o''brien@x.com', 'b@x.com') or OTHERMAILS/any(x:x IN ('c@x.com'))",
			match:  []props{{"mail": {"O'Brien@x.com"}}, {"otherMails": {"C@x.com"}}},
			miss:   []props{{"mail": {"obrien@x.com"}}, {"mail": {"c@x.com"}}},
		},
		{
			filter: "userType eq 'Guest' and mail in ('a@x.com')",
			match:  []props{{"userType": {"Guest"}, "mail": {"a@x.com"}}},
			miss:   []props{{"userType": {"Member"}, "mail": {"a@x.com"}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			n, err := parseFilter(tc.filter, userFilterSchema)
			if err != nil {
				t.Fatalf("parseFilter: %v", err)
			}
			for _, p := range tc.match {
				if !n.match(p.get) {
					t.Errorf("does not match %v", p)
				}
			}
			for _, p := range tc.miss {
				if n.match(p.get) {
					t.Errorf("matches %v", p)
				}
			}
		})
	}
}

func TestParseFilterInMalformed(t *testing.T) {
	for _, f := range []string{
		"mail in ()",
		"mail in ('a'",
		"mail in ('a' 'b')",
		"mail in ('a',)",
		"mail in (,'a')",
		"mail in 'a'",
		"mail in",
		"mail in (a)",
		"otherMails/any(m:m in ())",
		"otherMails/any(m:m in ('a')",
		"otherMails/any(m:m in ('a' 'b'))",
		"otherMails in ('a')",
		"createdDateTime in ('a')",
	} {
		if n, err := parseFilter(f, userFilterSchema); err == nil {
			t.Errorf("parseFilter(%q) = %#v, want an error", f, n)
		}
	}
}

// inValues counts the values of every `in` list, on either side of or/and.
func TestInValues(t *testing.T) {
	tests := []struct {
		filter string
		want   int
	}{
		{"mail eq 'a'", 0},
		{"mail in ('a')", 1},
		{"mail in ('a','b') or otherMails/any(m:m in ('a','b'))", 4},
		{"mail in ('a','b','c') and userType eq 'Guest'", 3},
		{"(mail in ('a') and displayName in ('x','y')) or otherMails/any(m:m in ('b')) or mail eq 'c'", 4},
		{"userType eq 'Guest' and (mail in ('a','b') or otherMails/any(m:m eq 'c'))", 2},
	}
	for _, tc := range tests {
		n, err := parseFilter(tc.filter, userFilterSchema)
		if err != nil {
			t.Fatalf("parseFilter(%q): %v", tc.filter, err)
		}
		if got := inValues(n); got != tc.want {
			t.Errorf("inValues(%q) = %d, want %d", tc.filter, got, tc.want)
		}
	}
}

// inList is "('v1','v2',...)".
func inList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return "(" + strings.Join(q, ",") + ")"
}

// Graph allows 15 values in the `in` lists of a filter; with advanced query parameters
// (ConsistencyLevel: eventual and $count=true) the limit is a URL of 2,048 characters instead.
func TestUsersInLimit(t *testing.T) {
	h := newHarness(t, Options{})
	var byMail, byOther []string
	want := map[string]string{} // address -> id
	for i := range 8 {
		a := fmt.Sprintf("mail%d@fabrikam.com", i)
		byMail = append(byMail, a)
		want[a] = h.e.AddUser(User{Mail: a, UserType: "Guest"}).ID
		b := fmt.Sprintf("other%d@fabrikam.com", i)
		byOther = append(byOther, b)
		want[b] = h.e.AddUser(User{Mail: fmt.Sprintf("primary%d@contoso.com", i), OtherMails: []string{b}, UserType: "Guest"}).ID
	}
	h.e.AddUser(User{Mail: "bystander@fabrikam.com", UserType: "Guest"})
	eventual := []string{"ConsistencyLevel", "eventual"}
	filter := func(mails, others []string) string {
		return url.QueryEscape("mail in " + inList(mails) + " or otherMails/any(m:m in " + inList(others) + ")")
	}
	wantIDs := func(t *testing.T, rep reply, addrs ...[]string) {
		t.Helper()
		if rep.status != http.StatusOK {
			t.Fatalf("status %d: %s", rep.status, rep.raw)
		}
		var ids []string
		for _, as := range addrs {
			for _, a := range as {
				ids = append(ids, want[a])
			}
		}
		got := idsInOrder(values(t, rep))
		slices.Sort(got)
		slices.Sort(ids)
		if !slices.Equal(got, ids) {
			t.Errorf("ids %v, want %v", got, ids)
		}
	}

	// 16 values, 8 in each list: too many without advanced query parameters.
	sixteen := "/users?$filter=" + filter(byMail, byOther)
	t.Run("16 values", func(t *testing.T) {
		wantError(t, h.graph(http.MethodGet, sixteen, nil), http.StatusBadRequest, codeUnsupportedQuery, "at most 15")
		// Either parameter alone is not enough.
		wantError(t, h.graph(http.MethodGet, sixteen, nil, eventual...), http.StatusBadRequest, codeUnsupportedQuery, "at most 15")
		wantError(t, h.graph(http.MethodGet, sixteen+"&$count=false", nil, eventual...), http.StatusBadRequest, codeUnsupportedQuery, "at most 15")
		// The raw count applies the same limit.
		wantError(t, h.graph(http.MethodGet, "/users/$count?$filter="+filter(byMail, byOther), nil, eventual...), http.StatusBadRequest, codeUnsupportedQuery, "at most 15")
	})
	t.Run("16 values advanced", func(t *testing.T) {
		rep := h.graph(http.MethodGet, sixteen+"&$count=true", nil, eventual...)
		wantIDs(t, rep, byMail, byOther)
		if rep.body["@odata.count"] != float64(16) {
			t.Errorf("@odata.count = %v, want 16", rep.body["@odata.count"])
		}
		// Matching is case-insensitive here as well.
		upper := make([]string, len(byMail))
		for i, a := range byMail {
			upper[i] = strings.ToUpper(a)
		}
		wantIDs(t, h.graph(http.MethodGet, "/users?$count=true&$filter="+filter(upper, byOther), nil, eventual...), byMail, byOther)
	})
	t.Run("15 values", func(t *testing.T) {
		wantIDs(t, h.graph(http.MethodGet, "/users?$filter="+filter(byMail, byOther[:7]), nil), byMail, byOther[:7])
		// Fifteen values in one list.
		all := append(slices.Clone(byMail), byOther[:7]...)
		wantIDs(t, h.graph(http.MethodGet, "/users?$filter="+url.QueryEscape("mail in "+inList(all)), nil), byMail)
	})

	// With advanced query parameters the URL as Graph sees it, https://graph.microsoft.com
	// and the path and query, may have 2,048 characters and no more.
	t.Run("URL length", func(t *testing.T) {
		uri := func(pad int) string {
			long := strings.Repeat("a", pad) + "@fabrikam.com"
			return "/v1.0/users?$count=true&$filter=" + filter([]string{long, byMail[0]}, []string{byOther[0]})
		}
		base := len(graphURLPrefix) + len(uri(0))
		if base >= maxAdvancedQueryURL {
			t.Fatalf("base URL already %d characters", base)
		}
		at := maxAdvancedQueryURL - base // padding for exactly 2048
		if l := len(graphURLPrefix) + len(uri(at)); l != maxAdvancedQueryURL {
			t.Fatalf("padded URL has %d characters, want %d", l, maxAdvancedQueryURL)
		}
		wantIDs(t, h.call(http.MethodGet, uri(at), nil, eventual...), byMail[:1], byOther[:1])
		wantError(t, h.call(http.MethodGet, uri(at+1), nil, eventual...), http.StatusBadRequest, codeUnsupportedQuery, "2048")
		// Far over: many long values.
		var longs []string
		for i := range 10 {
			longs = append(longs, fmt.Sprintf("%d%s@fabrikam.com", i, strings.Repeat("b", 100)))
		}
		wantError(t, h.graph(http.MethodGet, "/users?$count=true&$filter="+filter(longs, longs), nil, eventual...), http.StatusBadRequest, codeUnsupportedQuery, "2048")
		// Without advanced query parameters only the number of values counts: two long
		// values in each list are fine.
		wantIDs(t, h.call(http.MethodGet, strings.Replace(uri(at+100), "$count=true&", "", 1), nil), byMail[:1], byOther[:1])
	})
}
