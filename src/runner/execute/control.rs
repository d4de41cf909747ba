//! Steps that judge without talking to the server themselves: `one_of`
//! (alternatives replayed over the same bytes, graded) and `assert`.

use super::LastResponse;
use super::{Executor, StepFail, StepResult};
use crate::scenario::{Alternative, Assertion, Grade, Step};

impl Executor<'_> {
    pub(super) async fn one_of(&mut self, step: &Step, alternatives: &[Alternative]) -> StepResult {
        let before: Vec<(String, bool)> = self
            .sessions
            .iter_mut()
            .map(|(n, s)| (n.clone(), s.conn.set_rewindable(true)))
            .collect();
        let result = self.try_alternatives(step, alternatives).await;
        for (n, was) in before {
            if let Some(s) = self.sessions.get_mut(&n) {
                s.conn.set_rewindable(was);
            }
        }
        result
    }

    async fn try_alternatives(&mut self, step: &Step, alternatives: &[Alternative]) -> StepResult {
        // Each alternative reads the same bytes, so it starts from the same
        // idea of where the stream stands.
        let marks: Vec<(String, usize, Option<String>, Option<LastResponse>)> = self
            .sessions
            .iter()
            .map(|(n, s)| {
                (
                    n.clone(),
                    s.conn.mark(),
                    s.out_of_step.clone(),
                    s.last_response.clone(),
                )
            })
            .collect();
        let vars = self.vars.clone();
        let transcript_len = self.rec.lines.len();
        let mut reasons = Vec::new();
        let mut any_fail = false;
        // An allowed behaviour (close after -ERR, LOGIN-DELAY) that kept an
        // alternative from being asked explains the whole step.
        let mut allowed_skip = None;
        for (i, alt) in alternatives.iter().enumerate() {
            for (n, m, out_of_step, last_response) in &marks {
                if let Some(s) = self.sessions.get_mut(n) {
                    s.conn.rewind(*m);
                    s.out_of_step = out_of_step.clone();
                    s.last_response = last_response.clone();
                }
            }
            self.vars = vars.clone();
            self.rec.lines.truncate(transcript_len);
            let mut failed = None;
            for s in &alt.steps {
                if let Err(e) = self.step(s).await {
                    failed = Some(e);
                    break;
                }
            }
            match failed {
                None => {
                    let note = alt
                        .note
                        .clone()
                        .unwrap_or_else(|| format!("alternative {} of one_of matched", i + 1));
                    return match alt.grade {
                        Grade::Pass => Ok(None),
                        Grade::NonStrict => {
                            let f =
                                self.finding(Some(step), format!("SHOULD-level deviation: {note}"));
                            Ok(Some((f, note)))
                        }
                        Grade::Fail => Err(self.fail(step, note, vec![], vec![], false)),
                        Grade::Skip => Err(StepFail::skip(self.finding(Some(step), note))),
                    };
                }
                Some(StepFail::Skip(f)) => {
                    allowed_skip.get_or_insert(f);
                }
                Some(e) => {
                    any_fail |= matches!(e, StepFail::Fail(_));
                    reasons.push(format!(
                        "alternative {} ({}): {}",
                        i + 1,
                        grade_name(alt.grade),
                        e.finding().message
                    ));
                }
            }
        }
        if let Some(f) = allowed_skip {
            return Err(StepFail::Skip(f));
        }
        let f = self.finding(
            Some(step),
            format!("no alternative matched: {}", reasons.join("; ")),
        );
        Err(if any_fail {
            StepFail::fail(f)
        } else {
            StepFail::error(f)
        })
    }

    /// `assert`: a comparison over variables captured earlier.
    pub(super) fn assert(&self, step: &Step, a: &Assertion) -> StepResult {
        match a.evaluate(&self.vars) {
            Ok(ev) if ev.holds => Ok(None),
            Ok(ev) => Err(self.fail(
                step,
                format!("assertion `{}` does not hold", a.source),
                vec![a.source.clone()],
                vec![format!(
                    "left side = {}, right side = {}",
                    ev.left, ev.right
                )],
                false,
            )),
            Err(e) => Err(self.fail(
                step,
                format!("assertion `{}` cannot be evaluated: {e}", a.source),
                vec![],
                vec![],
                false,
            )),
        }
    }
}

fn grade_name(g: Grade) -> &'static str {
    match g {
        Grade::Pass => "pass",
        Grade::NonStrict => "non-strict",
        Grade::Fail => "fail",
        Grade::Skip => "skip",
    }
}
