package corpus

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// Rate is accepted files out of a total.
type Rate struct{ Accepted, Total int }

func (r Rate) String() string {
	if r.Total == 0 {
		return "–"
	}
	return fmt.Sprintf("%d / %d = %.1f %%", r.Accepted, r.Total, 100*float64(r.Accepted)/float64(r.Total))
}

// BlockerCount is how often one blocker is the first error of a refused file.
type BlockerCount struct {
	Key   string
	Env   bool
	Files int
	Repos int
	Only  int // files refused for this blocker alone
}

// Report sums up a run.
type Report struct {
	Files, Repos, Skipped int
	All, Complete         Rate
	// EnvForgiven counts as accepted the files refused only because a file
	// they name is missing on this machine.
	EnvForgiven Rate
	// CompleteEnvForgiven is EnvForgiven restricted to complete pipelines.
	CompleteEnvForgiven Rate
	// AtStart counts, among the accepted files, those `pipeline run` would
	// refuse when the pipeline starts, as Logstash would (errors of its
	// plugins' register, which its configuration test accepts too).
	AtStart, CompleteAtStart int
	Blockers                 []BlockerCount // ranked by files
}

// Summarize builds the report of a run.
func Summarize(results []Result, skipped int) Report {
	rep := Report{Files: len(results), Skipped: skipped}
	repos := map[string]bool{}
	type agg struct {
		BlockerCount
		repos map[string]bool
	}
	by := map[string]*agg{}
	for _, r := range results {
		repos[r.Repo] = true
		rep.All.Total++
		rep.EnvForgiven.Total++
		if r.Complete {
			rep.Complete.Total++
			rep.CompleteEnvForgiven.Total++
		}
		if r.Accepted {
			if len(r.AtStart) > 0 {
				rep.AtStart++
				if r.Complete {
					rep.CompleteAtStart++
				}
			}
			rep.All.Accepted++
			rep.EnvForgiven.Accepted++
			if r.Complete {
				rep.Complete.Accepted++
				rep.CompleteEnvForgiven.Accepted++
			}
			continue
		}
		if r.EnvOnly {
			rep.EnvForgiven.Accepted++
			if r.Complete {
				rep.CompleteEnvForgiven.Accepted++
			}
		}
		b := r.Blockers[0]
		a := by[b.Key]
		if a == nil {
			a = &agg{BlockerCount: BlockerCount{Key: b.Key, Env: b.Env}, repos: map[string]bool{}}
			by[b.Key] = a
		}
		a.Files++
		a.repos[r.Repo] = true
		if len(r.Blockers) == 1 {
			a.Only++
		}
	}
	rep.Repos = len(repos)
	for _, a := range by {
		a.Repos = len(a.repos)
		rep.Blockers = append(rep.Blockers, a.BlockerCount)
	}
	sort.Slice(rep.Blockers, func(i, j int) bool {
		a, b := rep.Blockers[i], rep.Blockers[j]
		if a.Files != b.Files {
			return a.Files > b.Files
		}
		if a.Repos != b.Repos {
			return a.Repos > b.Repos
		}
		return a.Key < b.Key
	})
	return rep
}

// ByRepos returns the blockers ranked by the repositories they appear in.
func (rep Report) ByRepos() []BlockerCount {
	out := append([]BlockerCount(nil), rep.Blockers...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Repos > out[j].Repos })
	return out
}

// Markdown writes the report as Markdown tables, top rows of each ranking.
func (rep Report) Markdown(w io.Writer, top int) {
	fmt.Fprintf(w, "Corpus: %d pipeline files from %d repositories (%d complete pipelines); %d files skipped (no input, filter or output section).\n\n",
		rep.Files, rep.Repos, rep.Complete.Total, rep.Skipped)
	fmt.Fprintf(w, "| accepted by `pipeline check` | rate |\n|---|---|\n")
	fmt.Fprintf(w, "| all files | %s |\n", rep.All)
	fmt.Fprintf(w, "| complete pipelines (input and output in the file) | %s |\n", rep.Complete)
	fmt.Fprintf(w, "| all files, refusals for missing local files forgiven | %s |\n", rep.EnvForgiven)
	fmt.Fprintf(w, "| complete pipelines, refusals for missing local files forgiven | %s |\n", rep.CompleteEnvForgiven)
	fmt.Fprintf(w, "\nOf the accepted files, %d (%d complete pipelines) have errors `pipeline run` refuses at start, as Logstash does: its plugins find them in register, and `logstash -t` accepts them too.\n",
		rep.AtStart, rep.CompleteAtStart)
	table := func(title string, rows []BlockerCount) {
		fmt.Fprintf(w, "\n%s\n\n| blocker (first error) | files | repositories | only blocker in |\n|---|---|---|---|\n", title)
		for i, b := range rows {
			if i == top {
				break
			}
			key := strings.ReplaceAll(b.Key, "|", `\|`)
			if b.Env {
				key += " (environment)"
			}
			fmt.Fprintf(w, "| %s | %d | %d | %d |\n", key, b.Files, b.Repos, b.Only)
		}
	}
	table("Top blockers by files:", rep.Blockers)
	table("Top blockers by repositories:", rep.ByRepos())
}

// WriteTSV writes one line per file: repository, path, status, blockers.
func WriteTSV(w io.Writer, results []Result) {
	fmt.Fprintln(w, "# repository\tpath\tcomplete\tstatus\tblockers")
	for _, r := range results {
		status := "accepted"
		blockers := r.Blockers
		switch {
		case r.Accepted:
			if len(r.AtStart) > 0 {
				status, blockers = "accepted-start", r.AtStart
			}
		case r.EnvOnly:
			status = "refused-env"
		default:
			status = "refused"
		}
		keys := make([]string, len(blockers))
		for i, b := range blockers {
			keys[i] = b.Key
			if b.Detail != "" {
				keys[i] += " " + b.Detail
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%t\t%s\t%s\n", r.Repo, r.Path, r.Complete, status, strings.Join(keys, "; "))
	}
}
