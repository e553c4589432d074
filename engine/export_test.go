package engine

// SetTapHooks turns the tap hooks off or on, for the benchmark of their
// cost (tapHooks).
func SetTapHooks(on bool) { tapHooks = on }
