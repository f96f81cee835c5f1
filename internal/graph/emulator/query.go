package emulator

import (
	"fmt"
	"strings"
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

// filterSchema says which properties a $filter may name: scalars compare with eq, and
// collections only through any(). Keys are lower-cased, values canonical.
type filterSchema struct {
	scalars     map[string]string
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

// parseFilter parses the small OData subset the operator uses: `p eq 'v'`,
// `c/any(x:x eq 'v')`, joined with `or`/`and`, with parentheses. Anything else is reported
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
		case c == '(' || c == ')' || c == ':':
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
	prop, ok := p.schema.scalars[strings.ToLower(name.text)]
	if !ok {
		return nil, fmt.Errorf("filtering on '%s' is not supported", name.text)
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
	if _, err := p.expect(tokIdent, "eq"); err != nil {
		return nil, err
	}
	val, err := p.expect(tokString, "")
	if err != nil {
		return nil, err
	}
	if _, err := p.expect(tokPunct, ")"); err != nil {
		return nil, err
	}
	return eqNode{prop, val.text}, nil
}
