# Deliberately wrong expectations: `pipeline test` must print a diff, the
# file:line of each case and exit 1.
config = "../route/pipeline.conf"
clock  = "2026-12-07T10:00:00Z"

test "exact event, wrong value" {
  input  = "in"
  events = [{ level = "error", n = 1 }]
  expect "errors" {
    event = { "@timestamp" = "2026-12-07T10:00:00.000Z", level = "error", n = 2, seen = "yes" }
  }
}

test "subset, wrong value" {
  input  = "in"
  events = [{ level = "info", n = 1 }]
  expect "infos" {
    subset = { seen = "no" }
  }
}

test "condition false" {
  input  = "in"
  events = [{ level = "info", n = 1 }]
  expect "infos" {
    condition = "[n] > 1"
  }
}

test "output not expected to see anything" {
  input     = "in"
  events    = [{ level = "error", n = 1 }]
  no_output = ["errors"]
}

test "right" {
  input     = "in"
  events    = [{ level = "debug" }]
  no_output = ["errors", "infos"]
}
