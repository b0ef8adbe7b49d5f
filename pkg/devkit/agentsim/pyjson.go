package agentsim

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
)

// pyObj is a JSON object whose keys keep their order, as a Python dict does.
type pyObj []pyKV

type pyKV struct {
	K string
	V any
}

// pyStyle selects how Python writes JSON.
type pyStyle struct {
	compact  bool // separators (",", ":") instead of (", ", ": ")
	sortKeys bool
}

var (
	// aiohttpJSON is aiohttp's json_response: json.dumps with its defaults.
	aiohttpJSON = pyStyle{}
	// flaskJSON is Flask's jsonify outside debug mode: compact, sorted keys.
	flaskJSON = pyStyle{compact: true, sortKeys: true}
)

// pyDumps writes v as Python's json.dumps does with ensure_ascii=True. v is
// built from nil, bool, string, int, int64, float64, []any, []pyObj and pyObj.
func pyDumps(v any, st pyStyle) []byte {
	var b bytes.Buffer
	pyWrite(&b, v, st)
	return b.Bytes()
}

func pyWrite(b *bytes.Buffer, v any, st pyStyle) {
	item, kv := ", ", ": "
	if st.compact {
		item, kv = ",", ":"
	}
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		pyString(b, v)
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		b.WriteString(pyFloat(v))
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(item)
			}
			pyWrite(b, e, st)
		}
		b.WriteByte(']')
	case []pyObj:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(item)
			}
			pyWrite(b, e, st)
		}
		b.WriteByte(']')
	case pyObj:
		if st.sortKeys {
			v = slices.Clone(v)
			slices.SortStableFunc(v, func(a, b pyKV) int { return strings.Compare(a.K, b.K) })
		}
		b.WriteByte('{')
		for i, e := range v {
			if i > 0 {
				b.WriteString(item)
			}
			pyString(b, e.K)
			b.WriteString(kv)
			pyWrite(b, e.V, st)
		}
		b.WriteByte('}')
	default:
		panic(fmt.Sprintf("agentsim: pyWrite: unsupported %T", v))
	}
}

// pyString writes s as json.dumps does with ensure_ascii=True: short escapes
// for the usual control characters and \uXXXX (surrogate pairs above U+FFFF)
// for every other character outside printable ASCII, DEL included.
func pyString(b *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	u4 := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&0xf])
		b.WriteByte(hex[r>>8&0xf])
		b.WriteByte(hex[r>>4&0xf])
		b.WriteByte(hex[r&0xf])
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || r == 0x7f:
			u4(r)
		case r < 0x7f:
			b.WriteRune(r)
		case r > 0xffff:
			r1, r2 := utf16.EncodeRune(r)
			u4(r1)
			u4(r2)
		default:
			u4(r)
		}
	}
	b.WriteByte('"')
}

// pyFloat formats f as Python's float repr.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e16) {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// Reply pages of the two frameworks.

// aiohttp500 is the page aiohttp 3.3/3.4 sends for an unhandled exception.
const aiohttp500 = "<html><head><title>500 Internal Server Error</title></head><body>" +
	"<h1>500 Internal Server Error</h1>Server got itself in trouble</body></html>"

// aiohttpText is the default text of aiohttp's HTTPException: "404: Not Found".
func aiohttpText(status int) string {
	return fmt.Sprintf("%d: %s", status, http.StatusText(status))
}

// werkzeugDescriptions are the default descriptions of Werkzeug's exceptions.
var werkzeugDescriptions = map[int]string{
	400: "The browser (or proxy) sent a request that this server could not understand.",
	404: "The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.",
	405: "The method is not allowed for the requested URL.",
	500: "The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.",
	502: "The proxy server received an invalid response from an upstream server.",
	503: "The server is temporarily unable to service your request due to maintenance downtime or capacity problems. Please try again later.",
	504: "The connection to an upstream server timed out.",
}

// werkzeugPage is the HTML error page of Werkzeug ≥ 2.1 (Flask's abort).
// An empty description takes the exception's default.
func werkzeugPage(status int, description string) string {
	if description == "" {
		description = werkzeugDescriptions[status]
	}
	name := http.StatusText(status)
	return "<!doctype html>\n<html lang=en>\n" +
		"<title>" + strconv.Itoa(status) + " " + name + "</title>\n" +
		"<h1>" + name + "</h1>\n" +
		"<p>" + description + "</p>\n"
}
