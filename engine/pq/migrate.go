package pq

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// migrateLegacy takes over the records of queue.db, the bbolt file of
// earlier versions, into a segment, then renames the file queue.db.migrated.
// It is opened read-only, which does not scan the free pages (where bbolt
// panics on damage); a file bbolt cannot open is moved to quarantine with an
// error naming it, and the queue starts without its records.
func (q *Queue) migrateLegacy(acks *ackState) error {
	path := filepath.Join(q.opts.Dir, "queue.db")
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	var buf []byte
	var n int64
	var first, last uint64
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("bbolt: %v", r)
			}
		}()
		db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 2 * time.Second})
		if err != nil {
			return err
		}
		defer db.Close()
		return db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket([]byte("events"))
			if b == nil {
				return nil
			}
			c := b.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				if len(k) != 8 {
					continue
				}
				seq := binary.BigEndian.Uint64(k)
				if seq <= acks.low && acks.low > 0 {
					continue
				}
				if n == 0 {
					first = seq
					buf = append(buf, segHeaderV1...)
				}
				buf = appendRecord(buf, 1, seq, 1, v) // one JSON event each, as version 1
				last = seq
				n++
			}
			return nil
		})
	}()
	if err != nil {
		if qerr := q.quarantine(path); qerr != nil {
			return errors.Join(err, qerr)
		}
		q.log.Error("persisted queue: the queue file of an earlier version could not be read and was moved to quarantine; its events are not replayed",
			"path", path, "err", err)
		return nil
	}
	if n > 0 {
		if err := writeFileSync(filepath.Join(q.opts.Dir, segName(first)), buf); err != nil {
			return err
		}
		acks.raise(first)
	}
	if err := os.Rename(path, path+".migrated"); err != nil {
		return err
	}
	if err := syncDir(q.opts.Dir); err != nil {
		return err
	}
	q.recovery.LegacyMigrated = n
	if n > 0 {
		q.log.Info("persisted queue: took over the events of the queue file of an earlier version", "path", path, "events", n, "last_seq", last)
	}
	return nil
}
