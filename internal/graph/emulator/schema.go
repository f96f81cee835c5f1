package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// Request bodies are read with msgraph-sdk-go's models, which are generated from Graph's own
// metadata, so the emulator knows every property Graph defines without a hand-written list.
// The SDK's parser is lenient the way a client must be: it files unknown properties under
// AdditionalData and lets a duplicate key silently win. Graph's OData reader is strict, so
// strictNode wraps kiota's JsonParseNode and refuses what Graph refuses: a property the type
// does not define (names are case-sensitive, so "DisplayName" is such a property), a key
// given twice, and a value of the wrong JSON shape.

// Messages of Graph's OData reader (ODataLib), as Graph returns them.
const (
	msgInvalidJSON = "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."
	// Observed in Graph's answers, e.g. microsoftgraph/msgraph-sdk-python#440.
	msgUndeclaredProperty = "The property '%s' does not exist on type '%s'. Make sure to only use property names that are defined by the type or mark the type as open type."
	msgDuplicateProperty  = "Multiple properties with the name '%s' were detected in a resource or a complex value. In OData, duplicate property names are not allowed."
	msgCannotConvert      = "Cannot convert the literal '%s' to the expected type '%s'."
	msgUnexpectedNode     = "An unexpected '%s' node was found for property named '%s' when reading from the JSON reader. A '%s' node was expected."
	msgIncompatibleType   = "A type named '%s' could not be resolved by the model. When a model is available, each type name must resolve to a valid type."
)

// bodyError is a request body Graph's reader refuses; the route picks the error code.
type bodyError struct{ msg string }

func (e *bodyError) Error() string { return e.msg }

func bodyErrorf(format string, args ...any) error {
	return &bodyError{msg: fmt.Sprintf(format, args...)}
}

// jsonValue is a parsed JSON value that keeps what Go's decoder forgets: the order of an
// object's members and whether a name occurs twice.
type jsonValue struct {
	raw     json.RawMessage
	kind    byte // '{', '[', '"', 'n' (null), 'b' (boolean) or '0' (number)
	keys    []string
	members map[string]*jsonValue
	elems   []*jsonValue
}

// parseJSON parses one JSON value and refuses duplicate member names at any depth.
func parseJSON(raw []byte) (*jsonValue, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, errors.New("empty value")
	}
	v := &jsonValue{raw: raw}
	switch c := raw[0]; {
	case c == '{':
		v.kind = '{'
		v.members = map[string]*jsonValue{}
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		for dec.More() {
			t, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := t.(string)
			var m json.RawMessage
			if err := dec.Decode(&m); err != nil {
				return nil, err
			}
			if _, dup := v.members[k]; dup {
				return nil, bodyErrorf(msgDuplicateProperty, k)
			}
			child, err := parseJSON(m)
			if err != nil {
				return nil, err
			}
			v.keys = append(v.keys, k)
			v.members[k] = child
		}
	case c == '[':
		v.kind = '['
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		for dec.More() {
			var m json.RawMessage
			if err := dec.Decode(&m); err != nil {
				return nil, err
			}
			child, err := parseJSON(m)
			if err != nil {
				return nil, err
			}
			v.elems = append(v.elems, child)
		}
	case c == '"':
		v.kind = '"'
	case c == 'n':
		v.kind = 'n'
	case c == 't' || c == 'f':
		v.kind = 'b'
	default:
		v.kind = '0'
	}
	return v, nil
}

// literal is how the OData reader quotes a primitive value in its messages.
func (v *jsonValue) literal() string {
	if v.kind == '"' {
		var s string
		if json.Unmarshal(v.raw, &s) == nil {
			return s
		}
	}
	return string(v.raw)
}

// nodeKind names the JSON reader's node for v, as the OData reader's messages do.
func (v *jsonValue) nodeKind() string {
	switch v.kind {
	case '{':
		return "StartObject"
	case '[':
		return "StartArray"
	}
	return "PrimitiveValue"
}

// strictNode is a kiota ParseNode over a jsonValue. Primitive getters are kiota's own
// JsonParseNode; objects and collections are read here, strictly.
type strictNode struct {
	*jsonser.JsonParseNode
	v *jsonValue
}

var _ absser.ParseNode = (*strictNode)(nil)

func newStrictNode(v *jsonValue) *strictNode {
	// The value was parsed already, so kiota cannot fail on it; null yields a nil node,
	// whose getters kiota makes return nil.
	jp, _ := jsonser.NewJsonParseNode(v.raw)
	return &strictNode{JsonParseNode: jp, v: v}
}

// GetChildNode returns the member named index, or nil (untyped, as the discriminator
// factories compare with nil).
func (n *strictNode) GetChildNode(index string) (absser.ParseNode, error) {
	if n.v.kind != '{' {
		return nil, nil
	}
	if m, ok := n.v.members[index]; ok {
		return newStrictNode(m), nil
	}
	return nil, nil
}

// GetObjectValue builds the model with ctor (which may pick a derived type from
// "@odata.type") and assigns every member through the model's field deserializers, refusing
// members the type does not define.
func (n *strictNode) GetObjectValue(ctor absser.ParsableFactory) (absser.Parsable, error) {
	switch n.v.kind {
	case 'n':
		return nil, nil
	case '{':
	default:
		return nil, errUnexpectedNode(n.v, "StartObject")
	}
	result, err := ctor(n)
	if err != nil {
		return nil, err
	}
	if _, untyped := result.(absser.UntypedNodeable); untyped {
		return n.JsonParseNode.GetObjectValue(ctor)
	}
	typeName := odataTypeName(result)
	fields := result.GetFieldDeserializers()
	for _, k := range n.v.keys {
		child := n.v.members[k]
		if f, ok := fields[k]; ok {
			if err := f(newStrictNode(child)); err != nil {
				return nil, propertyError(result, k, child, err)
			}
			continue
		}
		prop, annotation, isAnnotation := strings.Cut(k, "@")
		switch {
		case isAnnotation && prop == "":
			continue // an instance annotation such as @odata.context: the reader skips it
		case isAnnotation && fields[prop] != nil:
			// A property annotation, e.g. invitedUserSponsors@odata.bind; routes that take
			// binds read them from the jsonValue.
			continue
		case isAnnotation && annotation == "odata.bind":
			return nil, bodyErrorf(msgUndeclaredProperty, prop, typeName)
		}
		return nil, bodyErrorf(msgUndeclaredProperty, k, typeName)
	}
	if _, typed := fields["@odata.type"]; typed {
		if t, ok := n.v.members["@odata.type"]; ok && t.kind == '"' {
			if name := strings.TrimPrefix(t.literal(), "#"); name != typeName {
				return nil, bodyErrorf(msgIncompatibleType, name)
			}
		}
	}
	return result, nil
}

// GetCollectionOfObjectValues reads an array of objects strictly.
func (n *strictNode) GetCollectionOfObjectValues(ctor absser.ParsableFactory) ([]absser.Parsable, error) {
	switch n.v.kind {
	case 'n':
		return nil, nil
	case '[':
	default:
		return nil, errUnexpectedNode(n.v, "StartArray")
	}
	out := make([]absser.Parsable, len(n.v.elems))
	for i, e := range n.v.elems {
		p, err := newStrictNode(e).GetObjectValue(ctor)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// GetCollectionOfPrimitiveValues insists on an array; kiota checks the elements.
func (n *strictNode) GetCollectionOfPrimitiveValues(targetType string) ([]any, error) {
	switch n.v.kind {
	case 'n':
		return nil, nil
	case '[':
		return n.JsonParseNode.GetCollectionOfPrimitiveValues(targetType)
	}
	return nil, errUnexpectedNode(n.v, "StartArray")
}

// GetCollectionOfEnumValues insists on an array; kiota checks the elements.
func (n *strictNode) GetCollectionOfEnumValues(parser absser.EnumFactory) ([]any, error) {
	switch n.v.kind {
	case 'n':
		return nil, nil
	case '[':
		return n.JsonParseNode.GetCollectionOfEnumValues(parser)
	}
	return nil, errUnexpectedNode(n.v, "StartArray")
}

// shapeError is a value of the wrong JSON shape; the property it belongs to names it.
type shapeError struct{ got, want string }

func (e *shapeError) Error() string { return fmt.Sprintf(msgUnexpectedNode, e.got, "", e.want) }

func errUnexpectedNode(v *jsonValue, want string) error {
	return &shapeError{got: v.nodeKind(), want: want}
}

// propertyError turns kiota's error for one member into the OData reader's message. An error
// that already is one (from a nested object) is passed on.
func propertyError(owner absser.Parsable, prop string, v *jsonValue, err error) error {
	var be *bodyError
	if errors.As(err, &be) {
		return be
	}
	var se *shapeError
	if errors.As(err, &se) {
		return bodyErrorf(msgUnexpectedNode, se.got, prop, se.want)
	}
	want := edmType(owner, prop)
	if v.kind == '{' || v.kind == '[' {
		return bodyErrorf(msgUnexpectedNode, v.nodeKind(), prop, "PrimitiveValue")
	}
	return bodyErrorf(msgCannotConvert, v.literal(), want)
}

// odataTypeName is the Graph type of a model, e.g. "microsoft.graph.invitedUserMessageInfo"
// for *models.InvitedUserMessageInfo.
func odataTypeName(p absser.Parsable) string {
	t := reflect.TypeOf(p)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return "microsoft.graph." + lowerFirst(t.Name())
}

func lowerFirst(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToLower(r)) + s[size:]
}

func upperFirst(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[size:]
}

var (
	parsableType = reflect.TypeOf((*absser.Parsable)(nil)).Elem()
	timeType     = reflect.TypeOf(time.Time{})
	uuidType     = reflect.TypeOf(uuid.UUID{})
	dateOnlyType = reflect.TypeOf(absser.DateOnly{})
	timeOnlyType = reflect.TypeOf(absser.TimeOnly{})
	durationType = reflect.TypeOf(absser.ISODuration{})
	entityType   = reflect.TypeOf((*models.Entityable)(nil)).Elem()
)

// propertyType is the Go type of the model's getter for prop (nil when it has none).
func propertyType(owner any, prop string) reflect.Type {
	m := reflect.ValueOf(owner).MethodByName("Get" + upperFirst(prop))
	if !m.IsValid() || m.Type().NumIn() != 0 || m.Type().NumOut() != 1 {
		return nil
	}
	return m.Type().Out(0)
}

// edmType names a property's type the way Graph's metadata does, e.g. Edm.Boolean.
func edmType(owner any, prop string) string {
	t := propertyType(owner, prop)
	if t == nil {
		return "Edm.Untyped"
	}
	return edmName(t)
}

func edmName(t reflect.Type) string {
	if t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.Uint8 {
		return "Collection(" + edmName(t.Elem()) + ")"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.String:
		return "Edm.String"
	case t.Kind() == reflect.Bool:
		return "Edm.Boolean"
	case t.Kind() == reflect.Int32:
		return "Edm.Int32"
	case t.Kind() == reflect.Int64:
		return "Edm.Int64"
	case t.Kind() == reflect.Float64:
		return "Edm.Double"
	case t.Kind() == reflect.Float32:
		return "Edm.Single"
	case t.Kind() == reflect.Slice:
		return "Edm.Binary"
	case t == timeType:
		return "Edm.DateTimeOffset"
	case t == uuidType:
		return "Edm.Guid"
	case t == dateOnlyType:
		return "Edm.Date"
	case t == timeOnlyType:
		return "Edm.TimeOfDay"
	case t == durationType:
		return "Edm.Duration"
	case t.Kind() == reflect.Interface:
		// Models are returned as interfaces named after the type plus "able".
		return "microsoft.graph." + lowerFirst(strings.TrimSuffix(t.Name(), "able"))
	default: // enums are named integer types
		return "microsoft.graph." + lowerFirst(t.Name())
	}
}

// readEntity reads a request body as the Graph type ctor builds. On failure it answers 400
// with code itself and returns false. The jsonValue is for what models do not carry, such as
// @odata.bind annotations and the difference between an absent and a null member.
func readEntity(w http.ResponseWriter, r *http.Request, body []byte, ctor absser.ParsableFactory, code string) (absser.Parsable, *jsonValue, bool) {
	p, v, err := decodeEntity(body, ctor)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, code, err.Error())
		return nil, nil, false
	}
	return p, v, true
}

func decodeEntity(body []byte, ctor absser.ParsableFactory) (absser.Parsable, *jsonValue, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil, errors.New(emptyPayload)
	}
	if !json.Valid(body) {
		return nil, nil, errors.New(msgInvalidJSON)
	}
	v, err := parseJSON(body)
	if err != nil {
		var be *bodyError
		if errors.As(err, &be) {
			return nil, nil, be
		}
		return nil, nil, errors.New(msgInvalidJSON)
	}
	if v.kind != '{' {
		return nil, nil, errors.New(msgInvalidJSON)
	}
	p, err := newStrictNode(v).GetObjectValue(ctor)
	if err != nil {
		var be *bodyError
		if errors.As(err, &be) {
			return nil, nil, be
		}
		return nil, nil, fmt.Errorf("%s %w", msgInvalidJSON, err)
	}
	return p, v, nil
}

// jsonString decodes a string member ("" and false when absent or not a string).
func (v *jsonValue) jsonString(key string) (string, bool) {
	m, ok := v.members[key]
	if !ok || m.kind != '"' {
		return "", false
	}
	return m.literal(), true
}

// compact is the member's JSON without insignificant whitespace.
func (v *jsonValue) compact() json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, v.raw); err != nil {
		return append(json.RawMessage(nil), v.raw...)
	}
	return buf.Bytes()
}

// readRef reads a $ref body, {"@odata.id": "<url of a directory object>"}, and returns the
// object id the URL names. On failure it answers Graph's 400 itself and returns false.
func readRef(w http.ResponseWriter, r *http.Request, body []byte) (odataID, id string, ok bool) {
	p, _, ok := readEntity(w, r, body, models.CreateReferenceCreateFromDiscriminatorValue, codeRequestBadRequest)
	if !ok {
		return "", "", false
	}
	odataID = deref(p.(models.ReferenceCreateable).GetOdataId())
	if id = refTarget(odataID); id == "" {
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest,
			"Invalid object identifier: the request body needs an '@odata.id' reference.")
		return "", "", false
	}
	return odataID, id, true
}
