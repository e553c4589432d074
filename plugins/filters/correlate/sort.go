package correlate

import (
	"cmp"
	"slices"
)

func sortAlerts(a []alert) {
	slices.SortFunc(a, func(x, y alert) int {
		if c := cmp.Compare(x.at, y.at); c != 0 {
			return c
		}
		return cmp.Compare(x.key, y.key)
	})
}
