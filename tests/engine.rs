//! The apply executor against a provider that records its calls: dependency order, the
//! parallelism bound, partial failure, and what the state database says afterwards.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};
use vnx::engine::{self, Outcome};
use vnx::plan::{self, kind, Desired, Options, Recorded, ResId};
use vnx::scenario::Span;
use vnx_providers::lab::{Item, Provider, Seen};
use vnx_providers::{Error, Result};

#[derive(Default)]
struct Recording {
    calls: Mutex<Vec<String>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
    fail: Vec<String>,
}

impl Recording {
    async fn work(&self, what: String) -> Result<Value> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.running.fetch_sub(1, Ordering::SeqCst);
        self.calls.lock().unwrap().push(what.clone());
        if self.fail.iter().any(|f| what.ends_with(f)) {
            return Err(Error::Other(format!("{what} broke")));
        }
        Ok(json!({"made_by": what}))
    }
}

impl Provider for Recording {
    async fn refresh(&self, items: &[Item]) -> Vec<Result<Seen>> {
        items.iter().map(|_| Ok(Seen::Present(Default::default()))).collect()
    }
    async fn create(&self, item: Item) -> Result<Value> {
        self.work(format!("create {}.{}", item.kind, item.name)).await
    }
    async fn update(&self, _old: Item, new: Item) -> Result<Value> {
        self.work(format!("update {}.{}", new.kind, new.name)).await
    }
    async fn delete(&self, old: Item) -> Result<()> {
        self.work(format!("delete {}.{}", old.kind, old.name)).await.map(|_| ())
    }
}

fn d(k: &str, name: &str, deps: &[(&str, &str)]) -> Desired {
    Desired {
        id: ResId::new(k, name),
        provider: "test".into(),
        attrs: [("x".to_string(), json!(1))].into_iter().collect(),
        deps: deps.iter().map(|(k, n)| ResId::new(k, *n)).collect(),
        span: Span::default(),
    }
}

/// Eight nodes, each with an interface on one net and addresses on it.
fn lab() -> Vec<Desired> {
    let mut v = vec![d(kind::NET, "n", &[])];
    for i in 0..8 {
        let node = format!("h{i}");
        let ifc = format!("{node}/1");
        v.push(d(kind::NODE, &node, &[]));
        v.push(d(kind::INTERFACE, &ifc, &[(kind::NODE, &node), (kind::NET, "n")]));
        v.push(d(kind::ADDRESSES, &ifc, &[(kind::INTERFACE, &ifc)]));
    }
    v
}

fn run(
    provider: &Recording,
    desired: &[Desired],
    recorded: &[Recorded],
    parallelism: usize,
    state: &vnx_state::State,
) -> engine::Report {
    let p = plan::plan(desired, recorded, &plan::IdMap::default(), &Options::default());
    state.put_scenario("lab", "lab.yaml", "yaml", "").unwrap();
    let id = state.apply_begin("lab", "apply", "{}").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(engine::apply(&p, provider, state, "lab", id, parallelism, &AtomicBool::new(false), |_| {})).unwrap()
}

fn state() -> (tempfile::TempDir, vnx_state::State) {
    let dir = tempfile::tempdir().unwrap();
    let s = vnx_state::State::open(&dir.path().join("state.db")).unwrap();
    (dir, s)
}

#[test]
fn actions_follow_dependencies_within_the_parallelism_bound() {
    let (_dir, st) = state();
    let p = Recording::default();
    let report = run(&p, &lab(), &[], 3, &st);
    assert!(report.ok());
    let calls = p.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 25);
    let pos = |c: &str| calls.iter().position(|x| x == c).unwrap_or_else(|| panic!("{c} not called"));
    for i in 0..8 {
        assert!(pos(&format!("create node.h{i}")) < pos(&format!("create interface.h{i}/1")));
        assert!(pos("create net.n") < pos(&format!("create interface.h{i}/1")));
        assert!(pos(&format!("create interface.h{i}/1")) < pos(&format!("create addresses.h{i}/1")));
    }
    let max = p.max_running.load(Ordering::SeqCst);
    assert!(max <= 3, "{max} at once");
    assert!(max >= 2, "nothing ran in parallel");
    // The state records every resource, with the provider's runtime facts.
    let rows = st.resources("lab").unwrap();
    assert_eq!(rows.len(), 25);
    assert!(rows.iter().all(|r| r.status == "ok"));
    assert_eq!(
        rows.iter().find(|r| r.kind == "node" && r.name == "h3").unwrap().runtime,
        json!({"made_by": "create node.h3"})
    );
    // Destroy: in reverse order.
    let recorded: Vec<Recorded> = rows.iter().cloned().map(Recorded::from_row).collect();
    let p2 = Recording::default();
    let plan = plan::plan(&[], &recorded, &plan::IdMap::default(), &Options { destroy: true, ..Default::default() });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let report = rt.block_on(engine::apply(&plan, &p2, &st, "lab", 2, 4, &AtomicBool::new(false), |_| {})).unwrap();
    assert!(report.ok());
    let calls = p2.calls.lock().unwrap().clone();
    let pos = |c: &str| calls.iter().position(|x| x == c).unwrap();
    assert!(pos("delete addresses.h1/1") < pos("delete interface.h1/1"));
    assert!(pos("delete interface.h1/1") < pos("delete node.h1"));
    assert!(calls.iter().filter(|c| c.contains("interface")).all(|c| pos(c) < pos("delete net.n")));
    assert!(st.resources("lab").unwrap().is_empty());
}

#[test]
fn a_failure_stops_only_what_depends_on_it() {
    let (_dir, st) = state();
    let p = Recording { fail: vec!["interface.h2/1".into()], ..Default::default() };
    let report = run(&p, &lab(), &[], 10, &st);
    assert!(!report.ok());
    assert_eq!(report.failed(), 1);
    assert_eq!(report.skipped(), 1, "only addresses.h2/1 depends on the failure");
    let calls = p.calls.lock().unwrap().clone();
    assert!(!calls.contains(&"create addresses.h2/1".to_string()));
    assert!(calls.contains(&"create addresses.h7/1".to_string()), "independent actions finish");
    // The state says exactly what exists: the failed one is recorded as unfinished.
    let rows = st.resources("lab").unwrap();
    let failed = rows.iter().find(|r| r.kind == "interface" && r.name == "h2/1").unwrap();
    assert_eq!(failed.status, "creating");
    assert!(rows.iter().all(|r| !(r.kind == "addresses" && r.name == "h2/1")));
    // The journal names the error.
    let j = st.journal("lab", 100).unwrap();
    assert!(j.iter().any(|e| e.name == "h2/1" && e.error.as_deref().is_some_and(|x| x.contains("broke"))));
    // The next plan replaces the unfinished interface and creates what was skipped.
    let recorded: Vec<Recorded> = rows.iter().cloned().map(Recorded::from_row).collect();
    let again = plan::plan(&lab(), &recorded, &plan::IdMap::default(), &Options::default());
    let c: Vec<(String, plan::ChangeKind)> = again.changes.iter().map(|c| (c.id.to_string(), c.change)).collect();
    assert_eq!(
        c,
        vec![("interface.h2/1".into(), plan::ChangeKind::Replace), ("addresses.h2/1".into(), plan::ChangeKind::Create)]
    );
    let p2 = Recording::default();
    let report = run(&p2, &lab(), &recorded, 10, &st);
    assert!(report.ok());
    assert!(st.resources("lab").unwrap().iter().all(|r| r.status == "ok"));
}

#[test]
fn a_stop_request_starts_nothing_new() {
    let (_dir, st) = state();
    let p = Recording::default();
    let plan = plan::plan(&lab(), &[], &plan::IdMap::default(), &Options::default());
    st.put_scenario("lab", "lab.yaml", "yaml", "").unwrap();
    let stop = AtomicBool::new(false);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut seen = 0;
    let report = rt
        .block_on(engine::apply(&plan, &p, &st, "lab", 1, 2, &stop, |ev| {
            if let engine::Event::Finished { .. } = ev {
                seen += 1;
                if seen == 3 {
                    stop.store(true, Ordering::SeqCst);
                }
            }
        }))
        .unwrap();
    assert!(report.interrupted);
    let done = report.outcomes.values().filter(|o| **o == Outcome::Done).count();
    assert!((3..=5).contains(&done), "{done} done: running ones finish, no new ones start");
    assert_eq!(st.resources("lab").unwrap().iter().filter(|r| r.status == "ok").count(), done);
}
