//! A job's life as a small state machine: which moves are allowed and what each one records.
//! Pure: the caller supplies the time.

use chrono::{DateTime, Utc};
use hubdex_ipc::{Job, JobId, JobParams, JobProgress, JobState};

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// Everything asked was done; the summary says what.
    Succeeded(String),
    /// It failed; the message says what went wrong and what to do.
    Failed(String),
    /// It was cancelled.
    Cancelled,
}

/// A move the state machine does not allow (a bug in the caller, reported, never panicked).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("job {id} cannot go from {from} to {to}")]
pub(crate) struct BadTransition {
    id: JobId,
    from: JobState,
    to: JobState,
}

/// A new queued job.
pub(crate) fn new_job(id: JobId, params: JobParams, now: DateTime<Utc>) -> Job {
    Job {
        id,
        params,
        state: JobState::Queued,
        progress: JobProgress::default(),
        error: None,
        summary: None,
        commit: None,
        created_at: now,
        started_at: None,
        finished_at: None,
    }
}

fn check(job: &Job, allowed: &[JobState], to: JobState) -> Result<(), BadTransition> {
    if allowed.contains(&job.state) {
        Ok(())
    } else {
        Err(BadTransition {
            id: job.id,
            from: job.state,
            to,
        })
    }
}

/// `queued → running`.
pub(crate) fn start(job: &mut Job, now: DateTime<Utc>) -> Result<(), BadTransition> {
    check(job, &[JobState::Queued], JobState::Running)?;
    job.state = JobState::Running;
    job.started_at = Some(now);
    job.error = None;
    Ok(())
}

/// `running → succeeded | failed | cancelled`, or `queued → cancelled`.
pub(crate) fn finish(
    job: &mut Job,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Result<(), BadTransition> {
    let to = match &outcome {
        Outcome::Succeeded(_) => JobState::Succeeded,
        Outcome::Failed(_) => JobState::Failed,
        Outcome::Cancelled => JobState::Cancelled,
    };
    let allowed: &[JobState] = if to == JobState::Cancelled {
        &[JobState::Queued, JobState::Running]
    } else {
        &[JobState::Running]
    };
    check(job, allowed, to)?;
    job.state = to;
    job.finished_at = Some(now);
    job.progress.active.clear();
    job.progress.rate = 0.0;
    job.progress.eta_secs = None;
    match outcome {
        Outcome::Succeeded(summary) => job.summary = Some(summary),
        Outcome::Failed(error) => job.error = Some(error),
        Outcome::Cancelled => job.summary = Some("cancelled on request".to_string()),
    }
    Ok(())
}

/// After a restart, a job that was running goes back to the queue and will resume from its
/// partial files. Returns true when the job must be run (again).
pub(crate) fn recover(job: &mut Job) -> bool {
    match job.state {
        JobState::Running => {
            job.state = JobState::Queued;
            job.progress.active.clear();
            job.progress.rate = 0.0;
            job.progress.eta_secs = None;
            true
        }
        JobState::Queued => true,
        JobState::Succeeded | JobState::Failed | JobState::Cancelled => false,
    }
}

#[cfg(test)]
mod tests {
    use hubdex_ipc::DeleteParams;

    use super::*;

    fn job() -> Job {
        let params = JobParams::Delete(DeleteParams {
            dataset: "acme/tiny".parse().unwrap(),
            revision: None,
            all: true,
        });
        new_job(7, params, Utc::now())
    }

    #[test]
    fn a_job_runs_then_finishes_once() {
        let mut j = job();
        assert_eq!(j.state, JobState::Queued);
        start(&mut j, Utc::now()).unwrap();
        assert_eq!(j.state, JobState::Running);
        assert!(j.started_at.is_some());
        finish(&mut j, Outcome::Succeeded("freed 3 B".into()), Utc::now()).unwrap();
        assert_eq!(j.state, JobState::Succeeded);
        assert_eq!(j.summary.as_deref(), Some("freed 3 B"));
        assert!(j.finished_at.is_some());
        let again = finish(&mut j, Outcome::Failed("late".into()), Utc::now());
        assert!(again.is_err());
        assert_eq!(j.state, JobState::Succeeded, "a finished job never changes");
        assert!(start(&mut j, Utc::now()).is_err());
    }

    #[test]
    fn a_queued_job_can_be_cancelled_but_not_failed() {
        let mut j = job();
        assert!(finish(&mut j, Outcome::Failed("x".into()), Utc::now()).is_err());
        finish(&mut j, Outcome::Cancelled, Utc::now()).unwrap();
        assert_eq!(j.state, JobState::Cancelled);
        assert!(start(&mut j, Utc::now()).is_err());
    }

    #[test]
    fn failures_keep_their_message_and_drop_live_progress() {
        let mut j = job();
        start(&mut j, Utc::now()).unwrap();
        j.progress.rate = 1e6;
        j.progress.active.push(hubdex_ipc::FileProgress {
            path: "a".into(),
            bytes_done: 1,
            bytes_total: 2,
        });
        finish(
            &mut j,
            Outcome::Failed("the Hub said 404".into()),
            Utc::now(),
        )
        .unwrap();
        assert_eq!(j.error.as_deref(), Some("the Hub said 404"));
        assert!(j.progress.active.is_empty());
        assert_eq!(j.progress.rate, 0.0);
    }

    #[test]
    fn after_a_restart_running_jobs_queue_again_and_finished_ones_stay() {
        let mut running = job();
        start(&mut running, Utc::now()).unwrap();
        assert!(recover(&mut running));
        assert_eq!(running.state, JobState::Queued);
        let mut queued = job();
        assert!(recover(&mut queued));
        let mut done = job();
        finish(&mut done, Outcome::Cancelled, Utc::now()).unwrap();
        assert!(!recover(&mut done));
        assert_eq!(done.state, JobState::Cancelled);
    }
}
