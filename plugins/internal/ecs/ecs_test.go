package ecs

import "testing"

func TestValidate(t *testing.T) {
	for v, ok := range map[string]bool{"disabled": true, "v1": true, "v8": true, "": false, "V8": false, "v2": false} {
		if err := Validate(v); (err == nil) != ok {
			t.Errorf("Validate(%q) = %v", v, err)
		}
	}
	if Enabled(Disabled) || !Enabled(V1) || !Enabled(V8) || Enabled(Default) != true {
		t.Error("Enabled is wrong")
	}
}
