package correlate

import (
	"cmp"
	"slices"
	"time"
)

func sortAlerts(a []alert) {
	slices.SortFunc(a, func(x, y alert) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		return cmp.Compare(x.key, y.key)
	})
}

// item is a key due at a time.
type item struct {
	at  time.Time
	ent *entry
}

// deadlines is a min-heap of items by time (container/heap).
type deadlines []item

func (d deadlines) Len() int           { return len(d) }
func (d deadlines) Less(i, j int) bool { return d[i].at.Before(d[j].at) }
func (d deadlines) Swap(i, j int)      { d[i], d[j] = d[j], d[i] }
func (d *deadlines) Push(x any)        { *d = append(*d, x.(item)) }
func (d *deadlines) Pop() any {
	old := *d
	it := old[len(old)-1]
	old[len(old)-1] = item{}
	*d = old[:len(old)-1]
	return it
}
