# `pipeline test examples/rsyslog-to-files/` runs these against pipeline.conf:
# the lines enter at the tcp or udp input (whose codec, type and tags
# apply), grok and date run for real, and what reaches the file output is
# checked. The clock is fixed, so a syslog date without a year gets 2024 and
# an event's own @timestamp is the clock.
config = "pipeline.conf"
clock  = "2024-06-01T12:00:00Z"
ignore = ["[event][original]"]

test "BSD syslog line: parsed, dated with the clock's year" {
  input = "syslog_tcp"
  lines = ["<13>Dec  7 10:00:00 myhost sshd[123]: Accepted password for root"]
  expect "per_host_program" {
    event = {
      "@timestamp"     = "2024-12-07T10:00:00.000Z"
      message          = "<13>Dec  7 10:00:00 myhost sshd[123]: Accepted password for root"
      received_from    = "%%{host}"  # %%{ is HCL for a literal %{
      syslog_hostname  = "myhost"
      syslog_message   = "Accepted password for root"
      syslog_pid       = "123"
      syslog_pri       = "13"
      syslog_program   = "sshd"
      syslog_timestamp = "Dec  7 10:00:00"
      tags             = ["syslog"]
      type             = "syslog"
    }
  }
}

test "RFC 5424 line: only the fields that matter" {
  input = "syslog_udp"
  lines = ["<34>1 2026-12-07T10:00:01.250Z host1 app - ID47 - hello 5424"]
  expect "per_host_program" {
    subset = {
      "@timestamp"   = "2026-12-07T10:00:01.250Z"
      syslog_program = "app"
      syslog_msgid   = "ID47"
    }
  }
}

test "two lines, checked with the pipeline's conditions" {
  input = "syslog_tcp"
  lines = [
    "<13>2026-12-07T10:00:02+01:00 myhost cron: job done",
    "<13>Dec 31 23:59:59 myhost cron: last year's",
  ]
  expect "per_host_program" {
    condition = "[syslog_program] == 'cron' and [@timestamp] and ![syslog_pid]"
  }
  expect "per_host_program" {
    condition = "[syslog_message] =~ /^last/ and \"syslog\" in [tags]"
  }
}

test "not syslog: tagged, no date, written all the same" {
  input  = "syslog_udp"
  events = [{ message = "this is not syslog" }]
  expect "per_host_program" {
    event = {
      "@timestamp" = "2024-06-01T12:00:00.000Z"
      message      = "this is not syslog"
      tags         = ["syslog", "_grokparsefailure"]
      type         = "syslog"
    }
  }
}
