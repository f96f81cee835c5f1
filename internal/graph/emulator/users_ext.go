package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"
)

// Directory extension values on users. An extension property registered on any application
// (applications.go) is a property of every user: PATCH /users/{id} sets it (a string) or
// removes it (null), $select reads it (case-insensitively, like every property; a user
// without a value omits it), and $filter compares it with eq and in.

// extensionPrefix starts the name of every directory extension property.
const extensionPrefix = "extension_"

// isExtensionName reports whether a property name is a directory extension's.
func isExtensionName(name string) bool {
	return len(name) > len(extensionPrefix) && strings.EqualFold(name[:len(extensionPrefix)], extensionPrefix)
}

// extensionNames maps the lower-cased names of the registered extension properties to their
// canonical spelling. The caller holds e.mu.
func (d *directory) extensionNames() map[string]string {
	m := make(map[string]string, len(d.extProps))
	for k, p := range d.extProps {
		m[k] = p.name
	}
	return m
}

// parseUserSelect parses a $select of users: every structural property of
// microsoft.graph.user and every registered extension property.
func (e *Emulator) parseUserSelect(raw string, def []string) ([]string, error) {
	props := userProps()
	if strings.Contains(strings.ToLower(raw), extensionPrefix) {
		e.mu.Lock()
		ext := e.dir.extensionNames()
		e.mu.Unlock()
		props = maps.Clone(props)
		maps.Copy(props, ext)
	}
	return parseSelect(raw, props, "user", def)
}

// selectUsers parses a users request's $select; when it is invalid it answers 400 itself
// and returns false.
func (e *Emulator) selectUsers(w http.ResponseWriter, r *http.Request) ([]string, bool) {
	sel, err := e.parseUserSelect(r.URL.Query().Get("$select"), defaultUserSelect)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
		return nil, false
	}
	return sel, true
}

// userFilter is the $filter schema of users: userFilterSchema and the registered extension
// properties, which compare as strings (an unset one as null, so eq never matches it).
func (e *Emulator) userFilter() filterSchema {
	e.mu.Lock()
	ext := e.dir.extensionNames()
	e.mu.Unlock()
	if len(ext) == 0 {
		return userFilterSchema
	}
	s := userFilterSchema
	s.scalars = maps.Clone(s.scalars)
	maps.Copy(s.scalars, ext)
	return s
}

// splitExtensions takes the directory extension members out of a PATCH body, which
// msgraph-sdk-go's user model does not define (the SDK keeps them in AdditionalData), and
// returns them with the body that remains. A body that is not a JSON object is returned as it
// is, for the schema reader to refuse.
func splitExtensions(body []byte) (map[string]*jsonValue, []string, []byte) {
	if !json.Valid(body) {
		return nil, nil, body
	}
	v, err := parseJSON(body)
	if err != nil || v.kind != '{' {
		return nil, nil, body
	}
	var names []string
	ext := map[string]*jsonValue{}
	var rest bytes.Buffer
	rest.WriteByte('{')
	for _, k := range v.keys {
		if isExtensionName(k) {
			names = append(names, k)
			ext[k] = v.members[k]
			continue
		}
		if rest.Len() > 1 {
			rest.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		rest.Write(key)
		rest.WriteByte(':')
		rest.Write(v.members[k].raw)
	}
	rest.WriteByte('}')
	if len(names) == 0 {
		return nil, nil, body
	}
	return ext, names, rest.Bytes()
}

// extensionPatch checks the extension members of a PATCH body against the registered
// properties: a string of up to 256 characters sets one, null removes it. Names are
// case-sensitive in a body, as every property name is. The caller holds e.mu.
func (d *directory) extensionPatch(ext map[string]*jsonValue, names []string) (map[string]*string, error) {
	out := make(map[string]*string, len(names))
	for _, k := range names {
		p := d.extProps[strings.ToLower(k)]
		if p == nil || p.name != k {
			return nil, fmt.Errorf(msgUndeclaredExtension, k)
		}
		m := ext[k]
		switch m.kind {
		case 'n':
			out[k] = nil
		case '"':
			s := m.literal()
			if len([]rune(s)) > maxExtensionValueLength {
				return nil, errors.New(invalidUserValue(k))
			}
			out[k] = &s
		case '{', '[':
			return nil, fmt.Errorf(msgUnexpectedNode, m.nodeKind(), k, "PrimitiveValue")
		default:
			return nil, fmt.Errorf(msgCannotConvert, m.literal(), "Edm.String")
		}
	}
	return out, nil
}

// applyExtensions sets (or, for nil or "", removes) extension values and reports whether
// anything changed.
func applyExtensions(u *User, vals map[string]*string) bool {
	changed := false
	for k, v := range vals {
		old, had := u.Extensions[k]
		if v == nil || *v == "" {
			delete(u.Extensions, k)
		} else {
			if u.Extensions == nil {
				u.Extensions = map[string]string{}
			}
			u.Extensions[k] = *v
		}
		now, has := u.Extensions[k]
		changed = changed || had != has || old != now
	}
	if len(u.Extensions) == 0 {
		u.Extensions = nil
	}
	return changed
}

// SetUserExtension sets the user's value of a registered extension property (its full name,
// in any case), as an administrator would out of band; "" removes it. A change is reported by
// users/delta like any other. It fails for an unknown user or property, or a value over
// Graph's 256 characters.
func (e *Emulator) SetUserExtension(userID, name, value string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.dir.users[userID]
	if u == nil {
		return fmt.Errorf("emulator: user %q does not exist", userID)
	}
	p := e.dir.extProps[strings.ToLower(name)]
	if p == nil {
		return fmt.Errorf("emulator: extension property %q is not registered", name)
	}
	if len([]rune(value)) > maxExtensionValueLength {
		return fmt.Errorf("emulator: a value of %s has at most %d characters", p.name, maxExtensionValueLength)
	}
	if applyExtensions(&u.User, map[string]*string{p.name: &value}) {
		e.dir.touch(u)
	}
	return nil
}

// SetUserProfile sets one string property of the user's profile (department, companyName,
// ...), as an administrator would in the portal; "" clears it. users/delta reports the change.
func (e *Emulator) SetUserProfile(userID, prop, value string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.dir.users[userID]
	if u == nil {
		return fmt.Errorf("emulator: user %q does not exist", userID)
	}
	if p, ok := userSchema()[strings.ToLower(prop)]; !ok || !p.str {
		return fmt.Errorf("emulator: %q is not a string property of a user", prop)
	}
	if u.Profile[prop] == value {
		return nil
	}
	if value == "" {
		delete(u.Profile, prop)
	} else {
		if u.Profile == nil {
			u.Profile = map[string]string{}
		}
		u.Profile[prop] = value
	}
	e.dir.touch(u)
	return nil
}
