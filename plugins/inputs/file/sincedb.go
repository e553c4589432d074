package file

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pipelined/pipeline/plugins/internal/atomicfile"
)

// sincedb holds the position of every file seen, in Logstash's format: one
// line per file, "inode major minor position last_active path".
type sincedb struct {
	path    string // "" keeps nothing
	entries map[fileID]*dbEntry
}

type dbEntry struct {
	pos  int64
	last time.Time
	path string
}

// loadSincedb reads the positions. A line that does not parse is skipped
// with a warning naming the file and the line: the file it described is read
// as one never seen.
// maxSincedbLineBytes bounds one line of the sincedb read at start; a
// longer one is damage (a line is four numbers, a time and a path), skipped
// as a line that does not parse is.
const maxSincedbLineBytes = 1 << 20

func loadSincedb(path string, log *slog.Logger) (*sincedb, error) {
	db := &sincedb{path: path, entries: map[fileID]*dbEntry{}}
	if path == "" {
		return db, nil
	}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return db, nil
	}
	if err != nil {
		return nil, fmt.Errorf("file: sincedb %s: %w", path, err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	var line []byte
	for n := 1; ; n++ {
		// A line over the budget is read to its end and skipped; the lines
		// after it are read. A read error fails the start: starting with
		// part of the positions would take the other files for new ones.
		line, err = readDBLine(r, line[:0])
		if len(line) > 0 {
			if id, e, ok := parseDBLine(strings.TrimSuffix(string(line), "\n")); ok && len(line) <= maxSincedbLineBytes+1 {
				db.entries[id] = e
			} else {
				log.Warn("file: sincedb line skipped", "sincedb", path, "line", n)
			}
		}
		if err == io.EOF {
			return db, nil
		}
		if err != nil {
			return nil, fmt.Errorf("file: sincedb %s: %w", path, err)
		}
	}
}

// readDBLine appends the next line (with its newline) to buf, keeping at
// most maxSincedbLineBytes+2 bytes of it: a longer line comes back longer
// than maxSincedbLineBytes+1, for the caller to skip.
func readDBLine(r *bufio.Reader, buf []byte) ([]byte, error) {
	for {
		chunk, err := r.ReadSlice('\n')
		if room := maxSincedbLineBytes + 2 - len(buf); room > 0 {
			buf = append(buf, chunk[:min(len(chunk), room)]...)
		}
		if err != bufio.ErrBufferFull {
			return buf, err
		}
	}
}

func parseDBLine(s string) (fileID, *dbEntry, bool) {
	f := strings.SplitN(s, " ", 6)
	if len(f) < 4 {
		return fileID{}, nil, false
	}
	var nums [4]uint64
	for i := range 4 {
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return fileID{}, nil, false
		}
		nums[i] = v
	}
	if nums[3] > math.MaxInt64 {
		return fileID{}, nil, false // a damaged position: the file is read as never seen
	}
	e := &dbEntry{pos: int64(nums[3]), last: time.Now()}
	if len(f) > 4 {
		if sec, err := strconv.ParseFloat(f[4], 64); err == nil {
			e.last = time.Unix(0, int64(sec*1e9))
		}
	}
	if len(f) > 5 {
		e.path = f[5]
	}
	return fileID{ino: nums[0], major: nums[1], minor: nums[2]}, e, true
}

func (db *sincedb) position(id fileID) (int64, bool) {
	e, ok := db.entries[id]
	if !ok {
		return 0, false
	}
	return e.pos, true
}

func (db *sincedb) set(id fileID, pos int64, path string) {
	db.entries[id] = &dbEntry{pos: pos, last: time.Now(), path: path}
}

// render is the sincedb's content, forgetting files not seen for
// cleanAfter: taken under the watcher's lock, while store (a synced write)
// runs outside it.
func (db *sincedb) render(cleanAfter time.Duration) []byte {
	var b strings.Builder
	for id, e := range db.entries {
		if cleanAfter > 0 && time.Since(e.last) > cleanAfter {
			delete(db.entries, id)
			continue
		}
		fmt.Fprintf(&b, "%d %d %d %d %.6f %s\n", id.ino, id.major, id.minor, e.pos,
			float64(e.last.UnixNano())/1e9, e.path)
	}
	return []byte(b.String())
}

// store writes what render made. Synced before the rename: a sincedb lost
// to a power cut makes every file start over (or at its end, losing lines).
func (db *sincedb) store(b []byte) error {
	if db.path == "" {
		return nil
	}
	return atomicfile.Write(db.path, b, 0o640)
}
