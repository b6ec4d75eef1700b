//! The supervisor's logic against a scripted fake compositor: retries with back-off, stalls,
//! start timeouts, restarts on apply and the coalescing of update floods.
//!
//! Every test runs on tokio's paused clock: the supervisor and the fake compositor keep time
//! with `tokio::time` only, so time moves exactly to the next timer when all of them wait, and
//! back-off, timeouts and debounce are asserted to the millisecond, whatever the machine's load.

use super::*;

/// Milliseconds from `t0` to each compositor start so far.
fn start_times(log: &Mutex<FakeLog>, t0: Instant) -> Vec<u128> {
    let log = log.lock().unwrap();
    log.starts.iter().map(|s| (s.0 - t0).as_millis()).collect()
}

/// The next state reported and the milliseconds from `t0` at which it was.
async fn next_state_at(
    rx: &mut UnboundedReceiver<(TaskKey, TaskState)>,
    t0: Instant,
) -> (TaskState, u128) {
    let (_, s) = next_state(rx, 60).await;
    (s, t0.elapsed().as_millis())
}

#[tokio::test(start_paused = true)]
async fn supervisor_failures_retry_with_backoff_and_report_once() {
    let t0 = Instant::now();
    let (runner, log) = FakeRunner::new(vec![], Script::Exit("boom"));
    let (sup, mut rx) = quick_supervisor(runner);
    sup.apply(key("t"), fake_spec("t"));
    assert_eq!(
        next_state(&mut rx, 2).await,
        (
            key("t"),
            TaskState::Failed(Failure::from_engine("boom".into()))
        )
    );
    tokio::time::sleep(Duration::from_millis(1700)).await;
    // Same reason again and again: reported once.
    assert!(rx.try_recv().is_err(), "a repeated Failed was reported");
    // Back-off from 100 ms, doubling, capped at 400 ms: starts at 0, +100, +200, +400, +400 ...
    assert_eq!(start_times(&log, t0), vec![0, 100, 300, 700, 1100, 1500]);
    sup.stop(&key("t"));
    assert_eq!(next_state(&mut rx, 2).await, (key("t"), TaskState::Ended));
    sup.stop(&key("t"));
    sup.shutdown().await;
    assert!(rx.try_recv().is_err(), "Ended reported twice");
}

#[tokio::test(start_paused = true)]
async fn supervisor_stall_kills_and_recovers() {
    let t0 = Instant::now();
    let (runner, log) = FakeRunner::new(
        vec![Script::ProgressThenHang(3), Script::Exit("input gone")],
        Script::Healthy,
    );
    let (sup, mut rx) = quick_supervisor(runner);
    sup.apply(key("s"), fake_spec("s"));
    // Progress every 50 ms: pushing at the first.
    assert_eq!(next_state_at(&mut rx, t0).await, (TaskState::Pushing, 50));
    // The last progress at 150 ms; stuck 300 ms later.
    match next_state_at(&mut rx, t0).await {
        (TaskState::Failed(r), 450) => assert_eq!(r.code, FailCode::Stalled, "{r:?}"),
        s => panic!("expected Failed at 450 ms, got {s:?}"),
    }
    assert_eq!(
        log.lock().unwrap().kills,
        1,
        "the stuck compositor was killed"
    );
    // Retried after 100 ms; that one exits at once, and the next waits 200 ms.
    assert_eq!(
        next_state_at(&mut rx, t0).await,
        (
            TaskState::Failed(Failure::from_engine("input gone".into())),
            550
        )
    );
    assert_eq!(next_state_at(&mut rx, t0).await, (TaskState::Pushing, 800));
    assert_eq!(start_times(&log, t0), vec![0, 550, 750]);
    sup.shutdown().await;
    assert_eq!(next_state(&mut rx, 2).await.1, TaskState::Ended);
    assert_eq!(log.lock().unwrap().kills, 3);
    assert!(rx.try_recv().is_err());
}

#[tokio::test(start_paused = true)]
async fn supervisor_start_timeout_when_no_output() {
    let t0 = Instant::now();
    let (runner, _log) = FakeRunner::new(vec![Script::ProgressThenHang(0)], Script::Healthy);
    let (sup, mut rx) = quick_supervisor(runner);
    sup.apply(key("n"), fake_spec("n"));
    // No progress within the 400 ms start timeout; the retry 100 ms later pushes 50 ms after.
    match next_state_at(&mut rx, t0).await {
        (TaskState::Failed(r), 400) => assert_eq!(r.code, FailCode::NoOutput, "{r:?}"),
        s => panic!("expected Failed at 400 ms, got {s:?}"),
    }
    assert_eq!(next_state_at(&mut rx, t0).await, (TaskState::Pushing, 550));
    sup.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn supervisor_apply_restarts_without_ended() {
    let t0 = Instant::now();
    let (runner, log) = FakeRunner::new(vec![], Script::Healthy);
    let (sup, mut rx) = quick_supervisor(runner);
    sup.apply(key("u"), fake_spec("u"));
    assert_eq!(next_state(&mut rx, 2).await.1, TaskState::Pushing);
    let mut changed = fake_spec("u");
    changed.task.layout.canvas.color = 0xFF0000;
    sup.apply(key("u"), changed.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Applied at 50 ms (when pushing), restarted after the 20 ms debounce.
    assert_eq!(start_times(&log, t0), vec![0, 70]);
    {
        let l = log.lock().unwrap();
        assert_eq!(l.starts[1].1, changed);
        assert_eq!(l.kills, 1);
    }
    // Still pushing: nothing new to report.
    assert!(rx.try_recv().is_err());
    assert_eq!(sup.keys(), vec![key("u")]);
    sup.stop(&key("u"));
    // Stop, then the same key again at once: Ended comes before anything of the new run.
    sup.apply(key("u"), fake_spec("u"));
    assert_eq!(next_state(&mut rx, 2).await.1, TaskState::Ended);
    assert_eq!(next_state(&mut rx, 2).await.1, TaskState::Pushing);
    sup.shutdown().await;
    assert_eq!(next_state(&mut rx, 2).await.1, TaskState::Ended);
    // After shutdown, apply is ignored.
    sup.apply(key("v"), fake_spec("v"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(rx.try_recv().is_err());
    assert!(sup.keys().is_empty());
}

#[tokio::test(start_paused = true)]
async fn supervisor_coalesces_an_update_flood_and_stop_preempts_it() {
    let (runner, log) = FakeRunner::new(vec![], Script::Healthy);
    let (sup, mut rx) = quick_supervisor(runner);
    sup.apply(key("f"), fake_spec("f"));
    assert_eq!(next_state(&mut rx, 2).await.1, TaskState::Pushing);
    // The same spec again: nothing to do.
    sup.apply(key("f"), fake_spec("f"));
    // 200 different specs at once, then the task is stopped (its room ended).
    for i in 0..200u32 {
        let mut s = fake_spec("f");
        s.task.layout.canvas.color = i;
        sup.apply(key("f"), s);
    }
    sup.stop(&key("f"));
    assert_eq!(next_state(&mut rx, 5).await.1, TaskState::Ended);
    let starts = log.lock().unwrap().starts.len();
    assert!(starts <= 2, "{starts} compositor starts for one task");
    // After `Ended` the task is gone: nothing restarts it.
    assert!(sup.keys().is_empty());
    sup.shutdown().await;
    assert_eq!(log.lock().unwrap().starts.len(), starts);
}

#[tokio::test(start_paused = true)]
async fn supervisor_restarts_once_with_the_last_of_a_burst() {
    let (runner, log) = FakeRunner::new(vec![], Script::Healthy);
    let (sup, mut rx) = quick_supervisor(runner);
    sup.apply(key("b"), fake_spec("b"));
    assert_eq!(next_state(&mut rx, 2).await.1, TaskState::Pushing);
    let mut last = fake_spec("b");
    for i in 1..=50u32 {
        last = fake_spec("b");
        last.task.layout.canvas.color = i;
        sup.apply(key("b"), last.clone());
    }
    wait_for("the restart with the last spec", 5, || {
        log.lock().unwrap().starts.last().map(|s| &s.1) == Some(&last)
    })
    .await;
    assert_eq!(
        log.lock().unwrap().starts.len(),
        2,
        "one restart for the burst"
    );
    sup.shutdown().await;
}

/// A compositor that stops taking scenes (its stdin no longer read) cannot hold the task: the
/// update gives up after the stall timeout, the compositor is restarted, and a stop still ends
/// the task.
#[tokio::test(start_paused = true)]
async fn a_compositor_that_takes_no_scene_is_restarted_and_stops() {
    let (runner, log) = FakeRunner::new(vec![Script::Deaf], Script::Healthy);
    let (sup, mut rx) = quick_supervisor(runner);
    sup.apply(key("d"), fake_spec("d"));
    assert_eq!(next_state(&mut rx, 2).await.1, TaskState::Pushing);
    let mut other = fake_spec("d");
    other.task.layout.canvas.color = 7;
    sup.apply(key("d"), other);
    // The deaf one is killed and a new one started with the new spec.
    wait_for("a second start", 10, || {
        log.lock().unwrap().starts.len() == 2
    })
    .await;
    assert_eq!(log.lock().unwrap().kills, 1);
    assert_eq!(log.lock().unwrap().starts[1].1.task.layout.canvas.color, 7);
    sup.stop(&key("d"));
    loop {
        if next_state(&mut rx, 5).await.1 == TaskState::Ended {
            break;
        }
    }
    sup.shutdown().await;
}
