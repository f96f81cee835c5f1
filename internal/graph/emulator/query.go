package emulator

import (
	"fmt"
	"strings"
	"time"
)

// parseSelect turns "$select=a,b" into canonical property names. An empty or absent $select
// yields def. Unknown names are an error, as on Graph.
func parseSelect(raw string, props map[string]string, entity string, def []string) ([]string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return def, nil
	}
	var out []string
	for _, p := range strings.Split(raw, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		c, ok := props[strings.ToLower(p)]
		if !ok {
			return nil, fmt.Errorf("Parsing OData Select and Expand failed: Could not find a property named '%s' on type 'microsoft.graph.%s'.", p, entity)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return def, nil
	}
	return out, nil
}

// filterSchema says which properties a $filter may name: scalars compare with eq, times
// (DateTimeOffset properties) with eq, ge and le against an unquoted literal, and collections
// only through any(). Keys are lower-cased, values canonical.
type filterSchema struct {
	scalars     map[string]string
	times       map[string]string
	collections map[string]string
}

// filterNode is a parsed $filter. get returns a property's values (one for a scalar).
type filterNode interface {
	match(get func(prop string) []string) bool
}

type orNode struct{ l, r filterNode }
type andNode struct{ l, r filterNode }

// eqNode compares a scalar, or any element of a collection (for any()), case-insensitively:
// Graph's directory compares addresses and names without regard to case.
type eqNode struct{ prop, val string }

// timeNode compares a DateTimeOffset property with a literal; unset values never match.
type timeNode struct {
	prop string
	op   string // "eq", "ge" or "le"
	val  time.Time
}

func (n timeNode) match(g func(string) []string) bool {
	for _, v := range g(n.prop) {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			continue
		}
		switch n.op {
		case "eq":
			if t.Equal(n.val) {
				return true
			}
		case "ge":
			if !t.Before(n.val) {
				return true
			}
		case "le":
			if !t.After(n.val) {
				return true
			}
		}
	}
	return false
}

// prefixNode is startswith(prop, 'v'), case-insensitive like eq.
type prefixNode struct{ prop, val string }

func (n prefixNode) match(g func(string) []string) bool {
	for _, v := range g(n.prop) {
		if len(v) >= len(n.val) && strings.EqualFold(v[:len(n.val)], n.val) {
			return true
		}
	}
	return false
}

// inNode is `p in ('a','b')`, or inside any() an element in the list; case-insensitive like eq.
type inNode struct {
	prop string
	vals []string
}

func (n inNode) match(g func(string) []string) bool {
	for _, v := range g(n.prop) {
		for _, want := range n.vals {
			if strings.EqualFold(v, want) {
				return true
			}
		}
	}
	return false
}

// inValues counts the values of every `in` list in a filter: what Graph's limit on the `in`
// operator counts.
func inValues(n filterNode) int {
	switch n := n.(type) {
	case orNode:
		return inValues(n.l) + inValues(n.r)
	case andNode:
		return inValues(n.l) + inValues(n.r)
	case inNode:
		return len(n.vals)
	}
	return 0
}

func (n orNode) match(g func(string) []string) bool  { return n.l.match(g) || n.r.match(g) }
func (n andNode) match(g func(string) []string) bool { return n.l.match(g) && n.r.match(g) }
func (n eqNode) match(g func(string) []string) bool {
	for _, v := range g(n.prop) {
		if strings.EqualFold(v, n.val) {
			return true
		}
	}
	return false
}

// parseFilter parses the small OData subset the operator and the export use: `p eq 'v'`,
// `startswith(p, 'v')`, `t ge 2024-01-31T00:00:00Z` (also eq and le) on DateTimeOffset
// properties, `p in ('a','b')`, `c/any(x:x eq 'v')` and `c/any(x:x in ('a','b'))`, joined with `or`/`and`, with parentheses. Anything else is reported
// as unsupported, which Graph answers with 400 Request_UnsupportedQuery.
func parseFilter(s string, schema filterSchema) (filterNode, error) {
	toks, err := lexFilter(s)
	if err != nil {
		return nil, err
	}
	p := &filterParser{toks: toks, schema: schema}
	n, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if !p.done() {
		return nil, fmt.Errorf("unexpected %q", p.peek().text)
	}
	return n, nil
}

type tokKind int

const (
	tokIdent tokKind = iota
	tokString
	tokPunct
	// tokLiteral is an unquoted literal that starts with a digit, such as a DateTimeOffset.
	tokLiteral
)

type token struct {
	kind tokKind
	text string
}

func lexFilter(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ':' || c == ',':
			toks = append(toks, token{tokPunct, string(c)})
			i++
		case c == '\'':
			// OData escapes a quote inside a literal by doubling it.
			var b strings.Builder
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Errorf("unterminated string literal")
				}
				if s[i] == '\'' {
					if i+1 < len(s) && s[i+1] == '\'' {
						b.WriteByte('\'')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(s[i])
				i++
			}
			toks = append(toks, token{tokString, b.String()})
		case c >= '0' && c <= '9':
			// 2024-01-31T00:00:00Z or 2024-01-31T00:00:00.5+01:00: the colons belong to it.
			j := i
			for j < len(s) && (isIdentByte(s[j]) || s[j] == ':' || s[j] == '+') {
				j++
			}
			toks = append(toks, token{tokLiteral, s[i:j]})
			i = j
		case isIdentByte(c):
			j := i
			for j < len(s) && isIdentByte(s[j]) {
				j++
			}
			toks = append(toks, token{tokIdent, s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected character %q", c)
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '/' || c == '.' || c == '-' ||
		(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

type filterParser struct {
	toks   []token
	pos    int
	schema filterSchema
}

func (p *filterParser) done() bool { return p.pos >= len(p.toks) }

func (p *filterParser) peek() token {
	if p.done() {
		return token{tokPunct, "end of filter"}
	}
	return p.toks[p.pos]
}

func (p *filterParser) next() token {
	t := p.peek()
	p.pos++
	return t
}

// keyword reports (and consumes) a case-insensitive keyword such as "or".
func (p *filterParser) keyword(k string) bool {
	if t := p.peek(); t.kind == tokIdent && strings.EqualFold(t.text, k) {
		p.pos++
		return true
	}
	return false
}

func (p *filterParser) expect(kind tokKind, text string) (token, error) {
	t := p.next()
	if t.kind != kind || (text != "" && !strings.EqualFold(t.text, text)) {
		want := text
		if want == "" {
			want = map[tokKind]string{tokIdent: "a name", tokString: "a string literal"}[kind]
		}
		return t, fmt.Errorf("expected %s, found %q", want, t.text)
	}
	return t, nil
}

func (p *filterParser) parseOr() (filterNode, error) {
	l, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.keyword("or") {
		r, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		l = orNode{l, r}
	}
	return l, nil
}

func (p *filterParser) parseAnd() (filterNode, error) {
	l, err := p.parsePrimary()
	if err != nil {
		return nil, err
	}
	for p.keyword("and") {
		r, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		l = andNode{l, r}
	}
	return l, nil
}

func (p *filterParser) parsePrimary() (filterNode, error) {
	if t := p.peek(); t.kind == tokPunct && t.text == "(" {
		p.pos++
		n, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tokPunct, ")"); err != nil {
			return nil, err
		}
		return n, nil
	}
	name, err := p.expect(tokIdent, "")
	if err != nil {
		return nil, err
	}
	if coll, ok := strings.CutSuffix(name.text, "/any"); ok {
		return p.parseAny(coll)
	}
	if t := p.peek(); t.kind == tokPunct && t.text == "(" {
		return p.parseFunction(name.text)
	}
	if strings.EqualFold(name.text, "not") {
		return nil, fmt.Errorf("the 'not' operator is not supported")
	}
	if prop, ok := p.schema.times[strings.ToLower(name.text)]; ok {
		return p.parseTime(prop)
	}
	prop, ok := p.schema.scalars[strings.ToLower(name.text)]
	if !ok {
		return nil, fmt.Errorf("filtering on '%s' is not supported", name.text)
	}
	if p.keyword("in") {
		return p.parseIn(prop)
	}
	if op := p.peek(); op.kind == tokIdent && !strings.EqualFold(op.text, "eq") {
		return nil, fmt.Errorf("operator '%s' is not supported on '%s'", op.text, prop)
	}
	if _, err := p.expect(tokIdent, "eq"); err != nil {
		return nil, err
	}
	v, err := p.expect(tokString, "")
	if err != nil {
		return nil, err
	}
	return eqNode{prop, v.text}, nil
}

// parseFunction parses the rest of `startswith(p, 'v')`, the one function the emulator
// evaluates; Graph's others (endswith, contains) are reported as unsupported.
func (p *filterParser) parseFunction(fn string) (filterNode, error) {
	if !strings.EqualFold(fn, "startswith") {
		return nil, fmt.Errorf("the function '%s' is not supported", fn)
	}
	p.pos++ // "("
	name, err := p.expect(tokIdent, "")
	if err != nil {
		return nil, err
	}
	prop, ok := p.schema.scalars[strings.ToLower(name.text)]
	if !ok || isExtensionName(prop) {
		// Directory extension properties compare with eq (and in) only, in the emulator.
		return nil, fmt.Errorf("startswith on '%s' is not supported", name.text)
	}
	if t := p.next(); t.kind != tokPunct || t.text != "," {
		return nil, fmt.Errorf("expected ',', found %q", t.text)
	}
	v, err := p.expect(tokString, "")
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tokPunct, ")"); err != nil {
		return nil, err
	}
	return prefixNode{prop, v.text}, nil
}

// parseTime parses the rest of `t eq|ge|le <DateTimeOffset literal>`. A quoted value is
// refused as Graph refuses it: a string is not a DateTimeOffset.
func (p *filterParser) parseTime(prop string) (filterNode, error) {
	op, err := p.expect(tokIdent, "")
	if err != nil {
		return nil, err
	}
	kind, ok := map[string]string{"eq": "Equal", "ge": "GreaterThanOrEqual", "le": "LessThanOrEqual"}[strings.ToLower(op.text)]
	if !ok {
		return nil, fmt.Errorf("operator '%s' is not supported on '%s'", op.text, prop)
	}
	v := p.next()
	switch v.kind {
	case tokString:
		return nil, fmt.Errorf("A binary operator with incompatible types was detected. Found operand types 'Edm.DateTimeOffset' and 'Edm.String' for operator kind '%s'.", kind)
	case tokLiteral:
		t, err := time.Parse(time.RFC3339Nano, v.text)
		if err != nil {
			return nil, fmt.Errorf("'%s' is not a valid DateTimeOffset literal", v.text)
		}
		return timeNode{prop: prop, op: strings.ToLower(op.text), val: t}, nil
	}
	return nil, fmt.Errorf("expected a DateTimeOffset literal, found %q", v.text)
}

// parseAny parses the rest of `coll/any(x:x eq 'v')`; the lambda variable may have any name.
func (p *filterParser) parseAny(coll string) (filterNode, error) {
	prop, ok := p.schema.collections[strings.ToLower(coll)]
	if !ok {
		return nil, fmt.Errorf("any() on '%s' is not supported", coll)
	}
	if _, err := p.expect(tokPunct, "("); err != nil {
		return nil, err
	}
	v1, err := p.expect(tokIdent, "")
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tokPunct, ":"); err != nil {
		return nil, err
	}
	v2, err := p.expect(tokIdent, "")
	if err != nil {
		return nil, err
	}
	if v2.text != v1.text {
		return nil, fmt.Errorf("lambda variable %q is not defined", v2.text)
	}
	var n filterNode
	if p.keyword("in") {
		if n, err = p.parseIn(prop); err != nil {
			return nil, err
		}
	} else {
		if _, err := p.expect(tokIdent, "eq"); err != nil {
			return nil, err
		}
		val, err := p.expect(tokString, "")
		if err != nil {
			return nil, err
		}
		n = eqNode{prop, val.text}
	}
	if _, err := p.expect(tokPunct, ")"); err != nil {
		return nil, err
	}
	return n, nil
}

// parseIn parses the list after `in`: ('a', 'b', ...), at least one value.
func (p *filterParser) parseIn(prop string) (filterNode, error) {
	if _, err := p.expect(tokPunct, "("); err != nil {
		return nil, err
	}
	var vals []string
	for {
		v, err := p.expect(tokString, "")
		if err != nil {
			return nil, err
		}
		vals = append(vals, v.text)
		t := p.next()
		if t.kind == tokPunct && t.text == ")" {
			return inNode{prop, vals}, nil
		}
		if t.kind != tokPunct || t.text != "," {
			return nil, fmt.Errorf("expected ',' or ')', found %q", t.text)
		}
	}
}
