package doctor

import (
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/tenants"
)

// The walk through the funnel of a client's latest attempt, step by step,
// up to the token; what follows the token is mcpstage.go.

type diagnosis struct {
	in      Input
	s       *clientState
	name    string
	all     []tenants.AuditEvent
	attempt []tenants.AuditEvent
	grants  []tenants.Grant
	linked  map[string]bool

	steps map[string]*FunnelStep
	notes []string
}

func (d *diagnosis) mark(step, state string, at time.Time) {
	fs := d.steps[step]
	fs.State = state
	fs.StateLabel = StateLabel(state)
	if !at.IsZero() {
		t := at
		fs.At = &t
	}
}

// find returns the first event of one of actions in evs at or after from.
func find(evs []tenants.AuditEvent, from time.Time, actions ...string) *tenants.AuditEvent {
	return findOutcome(evs, from, "", actions...)
}

// findOutcome is find limited to one outcome ("" = any).
func findOutcome(evs []tenants.AuditEvent, from time.Time, outcome string, actions ...string) *tenants.AuditEvent {
	for i := range evs {
		if evs[i].Time.Before(from) || (outcome != "" && evs[i].Outcome != outcome) {
			continue
		}
		if slices.Contains(actions, evs[i].Action) {
			return &evs[i]
		}
	}
	return nil
}

func (d *diagnosis) run() ([]FunnelStep, *Problem, string) {
	d.steps = map[string]*FunnelStep{}
	for _, st := range steps {
		d.steps[st.step] = &FunnelStep{Step: st.step, Label: st.label, State: StatePending, StateLabel: StateLabel(StatePending)}
	}
	p, status := d.walk()
	out := make([]FunnelStep, 0, len(steps))
	for _, st := range steps {
		out = append(out, *d.steps[st.step])
	}
	return out, p, status
}

func (d *diagnosis) late(since time.Time) bool { return d.in.Now.Sub(since) > d.in.Patience }

func (d *diagnosis) walk() (*Problem, string) {
	now := d.in.Now
	c := d.s.client

	// 1. Registration.
	var regAt time.Time
	if reg := find(d.all, time.Time{}, tenants.ActClientRegistered); reg != nil {
		regAt = reg.Time
		d.mark(StepRegister, StateDone, reg.Time)
	} else if c != nil && c.Kind == tenants.ClientCIMD {
		d.mark(StepRegister, StateSkipped, time.Time{}) // a metadata document, not a registration
		regAt = c.CreatedAt
	} else if c != nil {
		regAt = c.CreatedAt
		d.mark(StepRegister, StateDone, c.CreatedAt)
	} else {
		d.mark(StepRegister, StateDone, time.Time{}) // before the window
	}

	if n := len(d.all); n > 0 && (d.all[n-1].Action == tenants.ActClientDeleted || d.all[n-1].Action == tenants.ActClientExpired) {
		d.notes = append(d.notes, fmt.Sprintf("%s at %s.", Label(d.all[n-1]), fmtTime(d.all[n-1].Time, now)))
		return nil, StatusIdle
	}

	att := d.attempt
	auth := find(att, time.Time{}, tenants.ActAuthorizeStarted)
	tok := findOutcome(att, time.Time{}, tenants.OutcomeSuccess, tenants.ActTokenIssued, tenants.ActTokenRefreshed)
	if auth == nil {
		if tok == nil && !anyMCP(att) {
			if p := d.enterpriseRefused(att); p != nil {
				return p, StatusFailing
			}
			switch {
			case len(d.all) == 0 && c != nil && !d.late(c.CreatedAt):
				return nil, StatusInProgress // just created (e.g. pre-registered)
			case len(d.all) == 0 || regAt.IsZero():
				return nil, StatusIdle // nothing of a connection in the window
			case !d.late(regAt):
				return nil, StatusInProgress
			}
			d.mark(StepAuthorize, StateFailed, time.Time{})
			return newProblem(ProblemAuthorizeNotStarted, regAt,
				fmt.Sprintf("client %s registered at %s but never sent the user to the authorization endpoint.",
					quoteName(d.name), fmtTime(regAt, now))), StatusFailing
		}
		// The flow began before the window: earlier steps are done, times
		// unknown — or, on the enterprise path (ID-JAG), never needed.
		state := StateDone
		if tok != nil && enterpriseLabel(*tok) != "" {
			state = StateSkipped
		}
		d.markBeforeToken(state)
	} else {
		if auth.Outcome == tenants.OutcomeFailure {
			d.mark(StepAuthorize, StateFailed, auth.Time)
			return newProblem(ProblemAuthorizeRefused, auth.Time,
				fmt.Sprintf("the authorization request of client %s at %s was refused: %s.", quoteName(d.name), fmtTime(auth.Time, now), reasonText(*auth))), StatusFailing
		}
		d.mark(StepAuthorize, StateDone, auth.Time)
		if p, st, stop := d.loginToCode(*auth, tok); stop {
			return p, st
		}
	}

	// 6. Token.
	if tok == nil {
		return d.noToken()
	}
	d.mark(StepToken, StateDone, tok.Time)

	// 7. MCP traffic after the token.
	return d.mcpStage(*tok)
}

// markBeforeToken marks the steps between registration and token.
func (d *diagnosis) markBeforeToken(state string) {
	for _, st := range []string{StepAuthorize, StepLogin, StepConsent, StepCode} {
		d.mark(st, state, time.Time{})
	}
}

// noToken: the attempt got (or should have got) a code and no token.
func (d *diagnosis) noToken() (*Problem, string) {
	now := d.in.Now
	codeAt := time.Time{}
	if fs := d.steps[StepCode]; fs.At != nil {
		codeAt = *fs.At
	}
	if bad := findOutcome(d.attempt, codeAt, tenants.OutcomeFailure, tenants.ActTokenIssued); bad != nil {
		d.mark(StepToken, StateFailed, bad.Time)
		return newProblem(ProblemTokenNotIssued, bad.Time,
			fmt.Sprintf("code issued at %s; client %s's token request at %s was refused: %s.",
				fmtTime(codeAt, now), quoteName(d.name), fmtTime(bad.Time, now), reasonText(*bad))), StatusFailing
	}
	if codeAt.IsZero() || !d.late(codeAt) {
		return nil, StatusInProgress
	}
	d.mark(StepToken, StateFailed, time.Time{})
	return newProblem(ProblemTokenNotIssued, codeAt,
		fmt.Sprintf("code issued at %s to client %s, but it never redeemed it at the token endpoint.",
			fmtTime(codeAt, now), quoteName(d.name))).otherCase(), StatusFailing
}

func anyMCP(evs []tenants.AuditEvent) bool {
	return slices.ContainsFunc(evs, func(ev tenants.AuditEvent) bool { return isMCP(ev.Action) })
}

// loginToCode walks login, consent and code after auth. stop reports that
// the walk ends here (with a problem, or in progress).
func (d *diagnosis) loginToCode(auth tenants.AuditEvent, tok *tenants.AuditEvent) (*Problem, string, bool) {
	now, att := d.in.Now, d.attempt

	okLogin := find(att, auth.Time, tenants.ActLoginSucceeded)
	failed := find(att, auth.Time, tenants.ActLoginFailed)
	if failed != nil && (okLogin == nil || okLogin.Time.Before(failed.Time)) {
		d.mark(StepLogin, StateFailed, failed.Time)
		return newProblem(ProblemLoginFailed, failed.Time,
			fmt.Sprintf("authorization started at %s; login at the identity provider failed at %s: %s.",
				fmtTime(auth.Time, now), fmtTime(failed.Time, now), reasonText(*failed))).fixFor(reasonText(*failed)), StatusFailing, true
	}
	switch {
	case okLogin != nil:
		d.mark(StepLogin, StateDone, okLogin.Time)
	case find(att, auth.Time, tenants.ActConsentGranted, tenants.ActCodeIssued) != nil || tok != nil:
		d.mark(StepLogin, StateDone, time.Time{})
	case d.late(auth.Time):
		d.mark(StepLogin, StateFailed, time.Time{})
		return newProblem(ProblemLoginNotCompleted, auth.Time,
			fmt.Sprintf("authorization started at %s for client %s, but no login came back from the identity provider.",
				fmtTime(auth.Time, now), quoteName(d.name))), StatusFailing, true
	default:
		return nil, StatusInProgress, true
	}
	from := auth.Time
	if okLogin != nil {
		from = okLogin.Time
	}

	if denied := find(att, from, tenants.ActConsentDenied); denied != nil && find(att, denied.Time, tenants.ActConsentGranted) == nil {
		d.mark(StepConsent, StateFailed, denied.Time)
		return newProblem(ProblemConsentDenied, denied.Time,
				fmt.Sprintf("%s declined to authorize client %s at %s.", subjectOr(*denied, "the user"), quoteName(d.name), fmtTime(denied.Time, now))),
			StatusFailing, true
	}
	if granted := find(att, from, tenants.ActConsentGranted); granted != nil {
		d.mark(StepConsent, StateDone, granted.Time)
		from = granted.Time
	} else {
		d.mark(StepConsent, StateSkipped, time.Time{}) // remembered, skip_consent, or pre-registered
	}

	if code := find(att, from, tenants.ActCodeIssued); code != nil {
		d.mark(StepCode, StateDone, code.Time)
		return nil, "", false
	}
	if tok != nil {
		d.mark(StepCode, StateDone, time.Time{})
		return nil, "", false
	}
	if !d.late(from) {
		return nil, StatusInProgress, true
	}
	d.mark(StepCode, StateFailed, time.Time{})
	return newProblem(ProblemCodeNotIssued, from,
			fmt.Sprintf("the user logged in at %s for client %s, but the flow stopped before a code was issued.", fmtTime(from, now), quoteName(d.name))),
		StatusFailing, true
}
