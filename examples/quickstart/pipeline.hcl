# Quickstart: the product's main job on embedded defaults, no external server.
#   go run . run -f examples/quickstart/pipeline.hcl && go run . verify
# Windows security audit events, shaped as Winlogbeat sends them, go through
# the filters into a tamper-evident immudb store inside this process
# (data/immudb: one row per event, keyed by the SHA-256 of its JSON) and into
# a daily JSON-lines file (data/quickstart/audit-YYYY.MM.DD.log). Failed
# logons are tagged; `pipeline verify` then proves every row of the store.

input "generator" "winlogbeat" {
  lines = [
    "{\"event\":{\"code\":\"4624\",\"action\":\"logged-in\",\"outcome\":\"success\"},\"winlog\":{\"channel\":\"Security\",\"computer_name\":\"DC01.corp.example\",\"event_id\":\"4624\",\"event_data\":{\"TargetUserName\":\"alice\",\"LogonType\":\"10\",\"IpAddress\":\"10.0.0.5\"}},\"message\":\"An account was successfully logged on.\"}",
    "{\"event\":{\"code\":\"4625\",\"action\":\"logon-failed\",\"outcome\":\"failure\"},\"winlog\":{\"channel\":\"Security\",\"computer_name\":\"DC01.corp.example\",\"event_id\":\"4625\",\"event_data\":{\"TargetUserName\":\"admin\",\"LogonType\":\"3\",\"IpAddress\":\"203.0.113.7\"}},\"message\":\"An account failed to log on.\"}",
    "{\"event\":{\"code\":\"4672\",\"action\":\"logged-in-special\",\"outcome\":\"success\"},\"winlog\":{\"channel\":\"Security\",\"computer_name\":\"DC01.corp.example\",\"event_id\":\"4672\",\"event_data\":{\"SubjectUserName\":\"alice\"}},\"message\":\"Special privileges assigned to new logon.\"}",
  ]
  count = 2
  codec "json" {}
}

if "[event][code] == \"4625\"" {
  filter "mutate" "failed_logon" {
    add_tag = ["failed_logon"]
  }
}

filter "mutate" "normalise" {
  rename = {
    "[winlog][event_data][TargetUserName]" = "[user][name]"
  }
}

output "immudb" "store" {}

output "file" "daily" {
  path = "${QUICKSTART_OUT:data/quickstart}/audit-%{+YYYY.MM.dd}.log"
}

output "stdout" "console" {
  codec "rubydebug" {}
}
