package policy

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendCUE appends plain Go values (map[string]any, []any, string, int,
// int64, float64, bool, nil) to b as CUE data (JSON, but floats stay
// floats: 3.0, not 3), for cue.Context.CompileBytes: the values then
// evaluate exactly as the same data in a .cue or .json file would.
// (cue.Context.Encode is cheaper, but in CUE v0.17.1 a value it makes,
// once shared, loses its fields when unified with a struct: x & {...} is
// {} and len(x & {...}) is 0, which breaks the built-in policies when
// input is not unified with #Input.)
func appendCUE(b []byte, v any) []byte {
	switch x := v.(type) {
	case map[string]any:
		keys := slices.Sorted(maps.Keys(x))
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendCUE(b, x[k])
		}
		return append(b, '}')
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendCUE(b, e)
		}
		return append(b, ']')
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x)
	case nil:
		return append(b, "null"...)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(b, "_|_"...) // not a CUE number
		}
		n := len(b)
		b = strconv.AppendFloat(b, x, 'g', -1, 64)
		for _, c := range b[n:] {
			if c == '.' || c == 'e' {
				return b
			}
		}
		return append(b, ".0"...)
	}
	panic("policy: a value of input that is not plain data")
}

// appendString appends s as a double-quoted CUE (and JSON) string.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
			i++
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			i++
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
		}
	}
	return append(b, '"')
}
