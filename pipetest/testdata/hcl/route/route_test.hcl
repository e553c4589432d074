config = "pipeline.conf"
clock  = "2026-12-07T10:00:00Z"

test "errors and infos part ways" {
  input  = "in"
  events = [{ level = "error", n = 1 }, { level = "info", n = 2 }, { level = "error", n = 3 }]
  expect "errors" {
    event = { "@timestamp" = "2026-12-07T10:00:00.000Z", level = "error", n = 1, seen = "yes" }
  }
  expect "errors" {
    subset = { n = 3 }
  }
  expect "infos" {
    condition = "[n] == 2 and [seen] == 'yes'"
  }
}

test "debug is dropped, warn goes nowhere" {
  input     = "in"
  events    = [{ level = "debug" }, { level = "warn" }]
  no_output = ["errors", "infos"]
}
