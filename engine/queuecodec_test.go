package engine

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/pipelined/pipeline/engine/event"
)

func codecEvents(n int) []*event.Event {
	evs := make([]*event.Event, n)
	for i := range evs {
		e := event.NewMessageAt(fmt.Sprint("m", i), time.Date(2026, 12, 7, 0, 0, 0, i*int(time.Millisecond), time.UTC))
		e.Fields()["n"] = int64(i)
		if i%2 == 0 {
			_ = e.Set(event.MustRef("[@metadata][k]"), fmt.Sprint("v", i))
		}
		evs[i] = e
	}
	return evs
}

// A batch is cut into records of at most the batch size; the records decode
// to the events, metadata included, in order.
func TestEncodeBatchRecords(t *testing.T) {
	evs := codecEvents(300)
	decorated := 0
	_, recs, counts := encodeBatch(nil, evs, 125, func(*event.Event) { decorated++ })
	if decorated != 300 || !reflect.DeepEqual(counts, []uint32{125, 125, 50}) || len(recs) != 3 {
		t.Fatalf("decorated %d, counts %v, %d records", decorated, counts, len(recs))
	}
	var dec event.BinaryDecoder
	var got []*event.Event
	for i, r := range recs {
		n, err := decodeRecord(&dec, r, func(e *event.Event) { got = append(got, e) })
		if err != nil || n != int(counts[i]) {
			t.Fatalf("record %d: %d events, %v", i, n, err)
		}
	}
	for i, e := range got {
		if !reflect.DeepEqual(e.Fields(), evs[i].Fields()) || !reflect.DeepEqual(e.Metadata(), evs[i].Metadata()) {
			t.Fatalf("event %d = %v %v; want %v %v", i, e.Fields(), e.Metadata(), evs[i].Fields(), evs[i].Metadata())
		}
	}
}

// A record of the earlier JSON form decodes, metadata included.
func TestDecodeRecordJSON(t *testing.T) {
	var dec event.BinaryDecoder
	var got *event.Event
	n, err := decodeRecord(&dec, []byte(`{"@metadata":{"k":"v"},"@timestamp":"2026-12-07T00:00:00.000Z","message":"old"}`), func(e *event.Event) { got = e })
	if err != nil || n != 1 {
		t.Fatal(n, err)
	}
	if m, _ := got.Message(); m != "old" || got.Metadata()["k"] != "v" {
		t.Fatalf("got %v %v", got.Fields(), got.Metadata())
	}
}

// Damaged records are errors with the events that still decode, never a
// panic: cut anywhere, or with a byte changed anywhere.
func TestDecodeRecordDamage(t *testing.T) {
	_, recs, _ := encodeBatch(nil, codecEvents(5), 125, nil)
	rec := recs[0]
	var dec event.BinaryDecoder
	for i := range rec {
		if n, err := decodeRecord(&dec, rec[:i], func(*event.Event) {}); err == nil || n == 5 {
			t.Fatalf("cut at %d: %d events, %v", i, n, err)
		}
		b := append([]byte(nil), rec...)
		b[i] ^= 0xff
		_, _ = decodeRecord(&dec, b, func(*event.Event) {})
	}
}

// FuzzDecodeRecord: any bytes decode to events and an error, never a panic.
func FuzzDecodeRecord(f *testing.F) {
	_, recs, _ := encodeBatch(nil, codecEvents(3), 125, nil)
	f.Add(recs[0])
	f.Add([]byte(`{"message":"x"}`))
	f.Add([]byte{recBatch, event.BinaryVersion, 2, 3, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var dec event.BinaryDecoder
		n := 0
		got, _ := decodeRecord(&dec, b, func(e *event.Event) {
			if e == nil || e.Fields() == nil {
				t.Fatal("nil event")
			}
			n++
		})
		if got != n {
			t.Fatalf("reported %d events, gave %d", got, n)
		}
	})
}
