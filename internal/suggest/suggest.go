// Package suggest finds the "did you mean" of a misspelt name: the known
// name closest in spelling (github.com/texttheater/golang-levenshtein's
// edit distance, case ignored), if it is close enough to be a misspelling.
package suggest

import (
	"strings"

	"github.com/texttheater/golang-levenshtein/levenshtein"
)

// Closest returns the candidate nearest to word and true when its edit
// distance, case ignored, is at most a third of word's length (at least 1
// for words of three letters or more; a shorter word only matches itself
// in another case); ties go to the earlier candidate. It returns "", false when no
// candidate is that close, or there are none.
func Closest(word string, candidates []string) (string, bool) {
	w := []rune(strings.ToLower(word))
	best, bestDist := "", -1
	for _, c := range candidates {
		d := levenshtein.DistanceForStrings(w, []rune(strings.ToLower(c)), levenshtein.DefaultOptionsWithSub)
		if bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	limit := len(w) / 3
	if limit < 1 && len(w) >= 3 {
		limit = 1
	}
	if bestDist < 0 || bestDist > limit {
		return "", false
	}
	return best, true
}
