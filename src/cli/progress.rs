//! What apply and destroy say while they work. On a terminal: one live progress bar per phase
//! (destroying, creating, updating), with the resource being worked on. Elsewhere (CI logs, a
//! pipe): one timestamped line per finished action. `-q` keeps only errors and the summary;
//! `-v` / `-vv` and `VNX_LOG` add tracing's log lines.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::Outcome;
use crate::plan::{Op, Plan, ResId};

/// How much to say: 0 quiet, 1 normal, 2 verbose, 3 very verbose.
static LEVEL: AtomicU8 = AtomicU8::new(1);

/// Sets the level from `-q` and the number of `-v`s, and starts tracing's logger on stderr:
/// `VNX_LOG` (an `EnvFilter`, such as `vnx=debug`) wins over the flags.
pub fn init(quiet: bool, verbose: u8) {
    let level = if quiet { 0 } else { 1 + verbose.min(2) };
    LEVEL.store(level, Ordering::Relaxed);
    let default = match level {
        0 => "error",
        1 => "warn",
        2 => "info",
        _ => "debug",
    };
    let filter =
        std::env::var("VNX_LOG").ok().and_then(|f| tracing_subscriber::EnvFilter::try_new(f).ok()).unwrap_or_else(
            || tracing_subscriber::EnvFilter::new(format!("vnx={default},vnx_providers={default},vnx_state={default}")),
        );
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

pub fn quiet() -> bool {
    LEVEL.load(Ordering::Relaxed) == 0
}

/// `-v` or more.
pub fn verbose() -> bool {
    LEVEL.load(Ordering::Relaxed) >= 2
}

/// The progress of one apply or destroy.
pub struct Progress {
    bars: Option<(MultiProgress, BTreeMap<Op, ProgressBar>)>,
    total: usize,
    finished: usize,
}

fn phase(op: Op) -> &'static str {
    match op {
        Op::Delete => "destroying",
        Op::Create => "creating",
        Op::Update => "updating",
    }
}

impl Progress {
    pub fn new(plan: &Plan) -> Progress {
        let mut counts: BTreeMap<Op, u64> = BTreeMap::new();
        for a in &plan.actions {
            *counts.entry(a.op).or_default() += 1;
        }
        let bars = (!quiet() && std::io::stderr().is_terminal()).then(|| {
            let mp = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(10));
            let style = ProgressStyle::with_template("{prefix:>11} [{bar:30}] {pos}/{len} {elapsed:>4} {wide_msg}")
                .expect("a valid template")
                .progress_chars("=> ");
            let bars = counts
                .iter()
                .map(|(op, n)| {
                    let b = mp.add(ProgressBar::new(*n).with_style(style.clone()).with_prefix(phase(*op)));
                    b.enable_steady_tick(Duration::from_millis(200));
                    (*op, b)
                })
                .collect();
            (mp, bars)
        });
        Progress { bars, total: plan.actions.len(), finished: 0 }
    }

    pub fn started(&self, op: Op, id: &ResId) {
        tracing::debug!("{} {id}", phase(op));
        if let Some((_, bars)) = &self.bars {
            bars[&op].set_message(id.to_string());
        }
    }

    pub fn finished(&mut self, op: Op, id: &ResId, took: Duration, outcome: &Outcome) {
        self.finished += 1;
        let verb = match op {
            Op::Create => "created",
            Op::Update => "updated",
            Op::Delete => "destroyed",
        };
        let line = match outcome {
            Outcome::Done => format!("[{}/{}] {id}: {verb} ({} ms)", self.finished, self.total, took.as_millis()),
            Outcome::Failed(e) => format!("[{}/{}] {id}: FAILED: {e}", self.finished, self.total),
            Outcome::Skipped(_) => return,
        };
        // Said once: as a log line where bars are drawn, else as the line below.
        if self.bars.is_some() {
            tracing::info!("{line}");
        }
        match &self.bars {
            Some((mp, bars)) => {
                bars[&op].inc(1);
                if matches!(outcome, Outcome::Failed(_)) {
                    let _ = mp.println(line);
                }
            }
            None if quiet() && matches!(outcome, Outcome::Done) => {}
            None => eprintln!("{} {line}", vnx_state::now()),
        }
    }

    /// Ends the bars (left on screen, complete).
    pub fn done(self) {
        if let Some((_, bars)) = self.bars {
            for b in bars.values() {
                b.finish();
            }
        }
    }
}
