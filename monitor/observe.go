package monitor

import (
	"strconv"
	"time"
)

// observation is what the grid and the proxy say about a tool that asks for
// a web service, and the action that follows from that alone: none, wait or
// restart (which the restart tracker may still turn into hold or give-up).
type observation struct {
	action     Action
	code       Code
	reason     string
	phase      Phase // "" when the grid could not be read
	registered *bool // nil when the registration is unknown or not checked
}

// observe reads the tool's job, then, for a running job, its registration.
func observe(v *toolView, in *Inputs, p *Policy) observation {
	if in.GridErr != nil {
		return observation{action: ActionWait, code: CodeGridUnknown,
			reason: "grid state unknown (qstat failed this cycle); not restarting"}
	}
	job := v.job
	if job == nil {
		return observation{phase: PhaseNone, action: ActionRestart, code: CodeNoJob,
			reason: "no " + v.manifest.Web + "-" + v.tool + " job on the grid"}
	}
	o := observation{phase: Classify(job.State)}
	// Sentences are built in one buffer: this runs for every tool, every
	// cycle, and each step of a concatenation would allocate.
	var buf [256]byte
	is, letters := jobIs(buf[:0], v), job.State
	switch o.phase {
	case PhaseError:
		o.action, o.code = ActionRestart, CodeJobError
		o.reason = string(cat(is, "stuck in error state ", letters))
	case PhaseDeleting:
		return observeDeleting(v, cat(is, "being deleted (", letters, ")"), in.Now, p)
	case PhaseSuspended:
		o.action, o.code = ActionWait, CodeSuspended
		o.reason = string(cat(is, "suspended (", letters, "); a suspended job is not restarted"))
	case PhaseHeld:
		o.action, o.code = ActionWait, CodeHeld
		o.reason = string(cat(is, "on hold (", letters, "); a held job is not restarted"))
	case PhaseUnknown:
		o.action, o.code = ActionWait, CodeUnknownState
		o.reason = string(cat(strconv.AppendQuote(cat(is, "in state letters "), letters),
			" this supervisor does not know; not touching it"))
	case PhasePending:
		return observePending(v, cat(is, "pending (", letters, ")"), in.Now, p)
	case PhaseRunning:
		return observeRegistration(v, cat(is, "running (", letters, ")"), in, p)
	}
	return o
}

// jobIs appends the start of every sentence about the tool's job:
// "job 42 (lighttpd-a) is ", or, when the tool has several jobs of that
// name, each of the others named: "job 42 (lighttpd-a; also job 41 in
// Eqw) is ".
func jobIs(b []byte, v *toolView) []byte {
	b = strconv.AppendInt(append(b, "job "...), int64(v.job.Number), 10)
	b = cat(b, " (", v.manifest.Web, "-", v.tool)
	for i, other := range v.others {
		if i == 0 {
			b = append(b, "; also "...)
		} else {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(append(b, "job "...), int64(other.Number), 10)
		b = cat(b, " in ", other.State)
	}
	return append(b, ") is "...)
}

// cat appends the parts of a sentence to b.
func cat(b []byte, parts ...string) []byte {
	for _, s := range parts {
		b = append(b, s...)
	}
	return b
}

// observePending tells a job waiting for a slot from one stuck in the queue;
// pending is the sentence so far ("job N (web-tool) is pending (qw)").
func observePending(v *toolView, pending []byte, now time.Time, p *Policy) observation {
	o := observation{phase: PhasePending, action: ActionWait, code: CodePending}
	if !v.job.Submitted.IsZero() {
		waited := now.Sub(v.job.Submitted)
		pending = cat(pending, " for ", roundDuration(waited).String())
		if p.PendingTooLong > 0 && waited > p.PendingTooLong {
			o.code = CodePendingTooLong
			pending = cat(pending, ", longer than ", roundDuration(p.PendingTooLong).String(), ": check the queue")
		}
	}
	o.reason = string(pending)
	return o
}

// observeDeleting tells a job whose deletion is on its way from one stuck
// being deleted (a dead execution host leaves it in dr until a grid
// manager forces it out); deleting is the sentence so far. How long it has
// been so is counted from when its tool was first seen down.
func observeDeleting(v *toolView, deleting []byte, now time.Time, p *Policy) observation {
	o := observation{phase: PhaseDeleting, code: CodeJobDeleting}
	since := v.previous.DownSince
	if since.IsZero() || since.After(now) {
		since = now
	}
	if until := since.Add(p.DeletingTooLong); now.Before(until) {
		o.action = ActionWait
		o.reason = string(cat(deleting, "; waiting until ", stamp(until), " before clearing it"))
		return o
	}
	o.action = ActionRestart
	o.reason = string(cat(deleting, " for ", roundDuration(now.Sub(since)).String(), " or more"))
	return o
}

// observeRegistration decides a running job by its registration with the
// proxy; running is the sentence so far ("job N (web-tool) is running (r)").
func observeRegistration(v *toolView, running []byte, in *Inputs, p *Policy) observation {
	o := observation{phase: PhaseRunning}
	switch {
	case in.ProxyErr != nil:
		o.action, o.code = ActionWait, CodeProxyUnknown
		o.reason = string(cat(running, "; registration unknown (proxy /list failed this cycle); not restarting"))
		return o
	case !in.Proxy.Enabled:
		o.action, o.code = ActionNone, CodeUnchecked
		o.reason = string(cat(running, "; proxy registration checking is off (empty active-proxy file)"))
		return o
	}
	o.registered = v.registered
	proxyName, started := in.Proxy.Proxy, v.job.Started
	switch {
	case *v.registered:
		o.action, o.code = ActionNone, CodeHealthy
		o.reason = string(cat(running, " and registered with proxy ", proxyName))
	case !started.IsZero() && in.Now.Sub(started) < p.RegistrationGrace:
		o.action, o.code = ActionWait, CodeRegistering
		o.reason = string(cat(running, " since ", roundDuration(in.Now.Sub(started)).String(), "; waiting up to ",
			roundDuration(p.RegistrationGrace).String(), " for it to register with proxy ", proxyName))
	case v.listed:
		o.action, o.code = ActionRestart, CodeUnregistered
		o.reason = string(strconv.AppendQuote(cat(running, " but its registration with proxy ", proxyName, " is "), v.status))
	default:
		o.action, o.code = ActionRestart, CodeUnregistered
		o.reason = string(cat(running, " but not registered with proxy ", proxyName))
	}
	return o
}

// roundDuration rounds a duration for a sentence: to the second from a
// minute up, to a tenth of a second below.
func roundDuration(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
