package correlate

import (
	"cmp"
	"slices"
)

func sortAlerts(a []alert) {
	slices.SortFunc(a, func(x, y alert) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		return cmp.Compare(x.key, y.key)
	})
}
