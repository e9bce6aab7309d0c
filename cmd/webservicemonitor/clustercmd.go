package main

// The commands when the history is shared through etcd (etcd-endpoints):
// the admin actions, status, state export and import and check-config talk
// to etcd from any host, without this host's state file or daemon lock.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"webservicemonitor/ha"
	"webservicemonitor/internal/config"
	"webservicemonitor/state"
	"webservicemonitor/state/etcdstore"
)

// shared says whether the history is in etcd rather than the state file.
func shared(cfg *config.Config) bool { return len(cfg.EtcdEndpoints) > 0 }

// etcdAt names the store for an admin: the endpoints and the prefix.
func etcdAt(cfg *config.Config) string {
	return fmt.Sprintf("etcd %s (prefix %s)", strings.Join(cfg.EtcdEndpoints, ","), cfg.EtcdPrefix)
}

// dialCluster connects one command to etcd. Nothing is started: the
// elector campaigns only if the command runs it (state import).
func dialCluster(cfg *config.Config) (*cluster, error) {
	cl, err := joinCluster(cfg, zerolog.Nop())
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", etcdAt(cfg), err)
	}
	return cl, nil
}

// disconnect closes a command's connection (one that did not campaign).
func disconnect(cl *cluster) { cl.cli.Close() }

// errEtcdSilent is why a command did nothing: etcd did not answer.
var errEtcdSilent = errors.New("etcd did not answer (unreachable, or no quorum of members up)")

// readLeader is who leads now; nil when no host does.
func readLeader(ctx context.Context, cfg *config.Config, cl *cluster) (*ha.LeaderInfo, error) {
	rctx, cancel := context.WithTimeout(ctx, etcdRequestTimeout)
	defer cancel()
	info, ok, err := cl.elector.Leader(rctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %w", etcdAt(cfg), errEtcdSilent, err)
	}
	if !ok {
		return nil, nil
	}
	return &info, nil
}

// leaderSentence is the first line of status: who acts, since when.
func leaderSentence(l *ha.LeaderInfo) string {
	if l == nil {
		return "no leader: no host is acting now (each standby campaigns; one takes over within leader-ttl)"
	}
	return fmt.Sprintf("leader: %s (pid %d) since %s", l.Host, l.PID, l.Since.UTC().Format(time.DateTime+" MST"))
}

// statusLeader is the leader in status's JSON.
type statusLeader struct {
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

func leaderJSON(l *ha.LeaderInfo) *statusLeader {
	if l == nil {
		return nil
	}
	return &statusLeader{Host: l.Host, PID: l.PID, Since: l.Since.UTC()}
}

// lostAnswerError is an action whose write etcd may have applied without
// the answer coming back: trying again could record it twice.
type lostAnswerError struct{ err error }

func (e *lostAnswerError) Error() string {
	return fmt.Sprintf("%v: the action may or may not have been recorded: run `webservicemonitor status` to see whether it was before running the command again", e.err)
}

func (e *lostAnswerError) Unwrap() error { return e.err }

// recordSharedAction records a in etcd from any host: not fenced (admins
// are not the leader), numbered after the last action any host recorded.
// The leader's next cycle reads it.
func recordSharedAction(ctx context.Context, cfg *config.Config, a state.Action) (state.Action, *ha.LeaderInfo, []string, error) {
	cl, err := dialCluster(cfg)
	if err != nil {
		return a, nil, nil, err
	}
	defer disconnect(cl)
	leader, err := readLeader(ctx, cfg, cl)
	if err != nil {
		return a, nil, nil, fmt.Errorf("%w: nothing was recorded", err)
	}
	var notes []string
	if a.Kind == state.ActionForget {
		snap, err := cl.store.Read(ctx)
		if err != nil {
			return a, nil, nil, fmt.Errorf("%w: nothing was recorded", err)
		}
		notes = withoutHistory(snap.Records, a)
	}
	recorded, err := cl.store.RecordAction(ctx, a)
	switch {
	case errors.Is(err, etcdstore.ErrAnswerLost):
		return a, leader, notes, &lostAnswerError{err}
	case err != nil:
		return a, leader, notes, fmt.Errorf("%w: nothing was recorded", err)
	}
	return recorded, leader, notes, nil
}

// actingHost is how an admin command names who will act on its action.
func actingHost(l *ha.LeaderInfo) string {
	if l == nil {
		return "no leader now: the next host to lead acts on it"
	}
	return "leader: " + l.Host
}

// oldestEtcd is the oldest etcd release the election and transactions
// were checked against (Debian 12's is 3.4).
var oldestEtcd = [2]int{3, 4}

// checkEtcd is check-config's part with etcd-endpoints: the TLS files,
// then each member's answer and release. etcd not answering at all is a
// warning, not a failure: the unit's ExecStartPre runs this check, and a
// daemon must start during an etcd outage — it stands by, restarts
// nothing and pages until etcd answers — rather than not run at all.
func checkEtcd(cfg *config.Config, stdout, stderr io.Writer) error {
	if _, err := etcdTLS(cfg); err != nil {
		return err
	}
	cl, err := dialCluster(cfg)
	if err != nil {
		return err
	}
	defer disconnect(cl)
	var silent []string
	for _, ep := range cfg.EtcdEndpoints {
		ctx, cancel := context.WithTimeout(context.Background(), etcdDialTimeout)
		st, err := cl.cli.Status(ctx, ep)
		cancel()
		if err != nil {
			silent = append(silent, fmt.Sprintf("%s: %v", ep, err))
			fmt.Fprintf(stderr, "warning: etcd member %s did not answer: %v\n", ep, err)
			continue
		}
		fmt.Fprintf(stdout, "etcd member %s: etcd %s\n", ep, st.Version)
		if olderThan(st.Version, oldestEtcd) {
			fmt.Fprintf(stderr, "warning: etcd member %s runs etcd %s, older than %d.%d, the oldest this release was tested against\n",
				ep, st.Version, oldestEtcd[0], oldestEtcd[1])
		}
	}
	if len(silent) == len(cfg.EtcdEndpoints) {
		fmt.Fprintf(stderr, "warning: etcd-endpoints: no member answered (%s): a daemon started now stands by, restarting nothing, and its state source fails (and pages) until etcd answers\n",
			strings.Join(silent, "; "))
		return nil
	}
	leader, err := readLeader(context.Background(), cfg, cl)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "etcd prefix %s: %s\n", cfg.EtcdPrefix, leaderSentence(leader))
	return checkSharedHistory(cfg, cl, stdout, stderr)
}

// checkSharedHistory reads the history in etcd as a standby would: one
// lost (as this host's marks say) or of a newer release fails the check,
// as a lost or newer state file does on a single host; etcd not answering
// is only a warning (see checkEtcd).
func checkSharedHistory(cfg *config.Config, cl *cluster, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*etcdRequestTimeout)
	defer cancel()
	snap, err := ha.EtcdHistory{Store: cl.store, ReadOnly: true, Marks: cl.marks}.Read(ctx)
	switch {
	case errors.Is(err, state.ErrHistoryLost), errors.Is(err, state.ErrNewerSchema):
		return err
	case err != nil:
		fmt.Fprintf(stderr, "warning: reading the history in etcd at %s: %v\n", cfg.EtcdPrefix, err)
		return nil
	case snap.Note != "":
		fmt.Fprintf(stdout, "etcd prefix %s: %s\n", cfg.EtcdPrefix, snap.Note)
	default:
		fmt.Fprintf(stdout, "etcd prefix %s: the history of %d tools, %d admin actions, last cycle %s\n",
			cfg.EtcdPrefix, len(snap.Records), len(snap.Actions), snap.LastCycle.UTC().Format(time.RFC3339))
	}
	return nil
}

// olderThan says whether version ("3.4.23") is older than major.minor; a
// version that does not parse is not called old.
func olderThan(version string, oldest [2]int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return major < oldest[0] || (major == oldest[0] && minor < oldest[1])
}

// insteadInHA is what to use, with the history in etcd, instead of what
// unshared refused: those only know this host's state file.
func insteadInHA(what string) string {
	switch what {
	case "--migrate-down":
		return "to go back to a release without HA, stop the daemons, `state export` from etcd, `state import` the file into a state file with no etcd-endpoints, then run --migrate-down on that host"
	case "--reset-history":
		return "the history in etcd is replaced with `state import --replace FILE` (with etcd-endpoints, the daemons stopped); without etcd-endpoints --reset-history sets this host's state file aside"
	}
	return ""
}
