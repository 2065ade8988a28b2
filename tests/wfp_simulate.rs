//! The WFP adapter's enforcement code path, run against its model of the documented WFP
//! API (`--simulate`): the call sequence, the engine options, transactions and aborts,
//! block events and alerts, updates and an engine restart. The example's own code is
//! compiled into this test; the JSON lines it prints are parsed back.

#![cfg(feature = "serde")]

#[cfg_attr(windows, allow(dead_code))]
#[path = "../examples/wfp_adapter/main.rs"]
mod wfp_adapter;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use c2trie::{Compiler, List};
use serde_json::Value;

/// A `Write` whose bytes the test reads back.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Compiles the shipped sample lists (`examples/data`) with `global` as the global feed.
fn sample(dir: &Path, global: &str, version: u64) -> PathBuf {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data");
    let mut c = Compiler::new();
    c.list_version(version).created_unix(0);
    for (list, file) in [
        (List::Global, global),
        (List::Blocked, "blocked.txt"),
        (List::Approved, "approved.txt"),
    ] {
        let f =
            c2trie::feed::read_file(data.join(file), &c2trie::feed::FeedOptions::new()).unwrap();
        c.add_feed(list, &f).unwrap();
    }
    let path = dir.join(format!("{global}.{version}.c2t"));
    std::fs::write(&path, c.to_vec().unwrap()).unwrap();
    path
}

/// Runs `wfp_adapter ARGS --simulate`; returns whether it succeeded and the lines printed.
fn simulate(args: &[&str]) -> (bool, Vec<Value>) {
    let mut argv: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    argv.push("--simulate".into());
    let a = wfp_adapter::parse_args(argv.into_iter()).unwrap();
    let buf = Buf::default();
    let out: wfp_adapter::api::Out = Arc::new(Mutex::new(Box::new(buf.clone())));
    let ok = wfp_adapter::simulate(&a, out).is_ok();
    let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    (ok, lines)
}

fn calls<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["call"] == name).collect()
}

fn events(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|l| l.get("event.action").is_some())
        .collect()
}

/// Every line of a successful run succeeded, and options were changed only on a
/// non-dynamic session outside any transaction.
fn check_calls(lines: &[Value]) {
    for l in lines.iter().filter(|l| l.get("call").is_some()) {
        assert_eq!(l["result"], "0x00000000", "{l}");
    }
    for l in calls(lines, "FwpmEngineSetOption0") {
        assert_eq!(l["dynamic"], false, "{l}");
        assert_eq!(l["txn"], false, "{l}");
    }
    for l in calls(lines, "FwpmFilterAdd0") {
        assert_eq!(l["txn"], true, "{l}");
        assert_eq!(l["dynamic"], true, "{l}");
        assert!(!l["remote"].as_str().unwrap().starts_with("::ffff:"), "{l}");
    }
}

#[test]
fn log_mode_sets_and_restores_the_options_and_logs_listed_connections() {
    let dir = tempfile::tempdir().unwrap();
    let t = sample(dir.path(), "global.txt", 1);
    let (ok, lines) = simulate(&[
        "--table",
        t.to_str().unwrap(),
        "--mode",
        "log",
        "--simulate-connect",
        "192.0.2.1",
        "--simulate-connect",
        "192.0.2.200",
    ]);
    assert!(ok);
    check_calls(&lines);
    let sets = calls(&lines, "FwpmEngineSetOption0");
    // On: the classify-allow keyword (16); off again at exit: the old value, 0.
    let kw: Vec<u64> = sets
        .iter()
        .filter(|l| l["option"] == "FWPM_ENGINE_NET_EVENT_MATCH_ANY_KEYWORDS")
        .map(|l| l["value"].as_u64().unwrap())
        .collect();
    assert_eq!(kw, [16, 0]);
    // The restore comes after the dynamic session is closed.
    let pos = |p: &dyn Fn(&Value) -> bool| lines.iter().rposition(p).unwrap();
    assert!(
        pos(&|l| l["call"] == "FwpmEngineSetOption0")
            > pos(&|l| l["call"] == "FwpmEngineClose0" && l["dynamic"] == true)
    );
    let ev = events(&lines);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["event.action"], "log");
    assert_eq!(ev[0]["destination.ip"], "192.0.2.1");
    assert_eq!(ev[0]["c2trie.list"], "global");
    assert!(calls(&lines, "WTSSendMessageW").is_empty());
}

#[test]
fn block_mode_blocks_alerts_and_never_writes_mapped_filters() {
    let dir = tempfile::tempdir().unwrap();
    let t = sample(dir.path(), "global.txt", 1);
    let (ok, lines) = simulate(&[
        "--table",
        t.to_str().unwrap(),
        "--simulate-connect",
        "192.0.2.1:8443",
        "--simulate-connect",
        "192.0.2.200",
        "--simulate-connect",
        "127.0.0.1",
    ]);
    assert!(ok);
    check_calls(&lines);
    let sub = calls(&lines, "FwpmSubLayerAdd0");
    assert_eq!(sub.len(), 1);
    assert_eq!(sub[0]["weight"], 65535);
    assert_eq!(sub[0]["txn"], true);
    assert!(calls(&lines, "FwpmFilterAdd0").len() > 20);
    // Block mode needs no option change: net events are collected by default.
    assert!(calls(&lines, "FwpmEngineSetOption0").is_empty());
    let ev = events(&lines);
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(ev[0]["event.action"], "block");
    assert_eq!(ev[0]["destination.port"], 8443);
    assert_eq!(ev[0]["c2trie.list_version"], 1);
    assert_eq!(ev[0]["c2trie.prefix"], "192.0.2.1/32");
    let alerts = calls(&lines, "WTSSendMessageW");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["wait"], false);
    assert!(alerts[0]["text"].as_str().unwrap().contains("192.0.2.1"));
    let conn: Vec<&Value> = lines
        .iter()
        .filter(|l| l["simulate"] == "connect")
        .collect();
    let actions: Vec<&str> = conn.iter().map(|l| l["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["block", "permit", "permit"]);
}

#[test]
fn a_failed_commit_is_aborted_and_the_run_fails() {
    let dir = tempfile::tempdir().unwrap();
    let t = sample(dir.path(), "global.txt", 1);
    let (ok, lines) = simulate(&[
        "--table",
        t.to_str().unwrap(),
        "--simulate-fail",
        "FwpmTransactionCommit0",
    ]);
    assert!(!ok);
    let i = lines
        .iter()
        .position(|l| l["call"] == "FwpmTransactionCommit0")
        .unwrap();
    assert_ne!(lines[i]["result"], "0x00000000");
    assert_eq!(lines[i + 1]["call"], "FwpmTransactionAbort0");
    assert_eq!(lines[i + 1]["result"], "0x00000000");
    // The session is closed; nothing is left behind.
    assert_eq!(lines.last().unwrap()["call"], "FwpmEngineClose0");
}

#[test]
fn an_update_is_one_transaction_deleting_what_left() {
    let dir = tempfile::tempdir().unwrap();
    let t1 = sample(dir.path(), "global.txt", 1);
    let t2 = sample(dir.path(), "global-update.txt", 2);
    let (ok, lines) = simulate(&[
        "--table",
        t1.to_str().unwrap(),
        "--then",
        t2.to_str().unwrap(),
        "--simulate-connect",
        "192.0.2.1",
        "--simulate-connect",
        "203.0.113.99",
    ]);
    assert!(ok);
    check_calls(&lines);
    let begins: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l["call"] == "FwpmTransactionBegin0")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        begins.len(),
        3,
        "provider and sublayer, the plan, the update"
    );
    let update = &lines[begins[2]..];
    let end = update
        .iter()
        .position(|l| l["call"] == "FwpmTransactionCommit0")
        .unwrap();
    let deleted: Vec<u64> = update[..end]
        .iter()
        .filter(|l| l["call"] == "FwpmFilterDeleteById0")
        .map(|l| l["id"].as_u64().unwrap())
        .collect();
    // 192.0.2.1 left: its filters (two IPv4 layers, two NAT64 images) are deleted.
    let gone: Vec<u64> = calls(&lines, "FwpmFilterAdd0")
        .iter()
        .filter(|l| {
            let r = l["remote"].as_str().unwrap();
            r == "192.0.2.1/32" || r == "64:ff9b::c000:201/128"
        })
        .map(|l| l["id"].as_u64().unwrap())
        .collect();
    assert_eq!(deleted, gone);
    let conn: Vec<&str> = lines
        .iter()
        .filter(|l| l["simulate"] == "connect")
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(conn, ["block", "permit", "permit", "block"]);
}

#[test]
fn a_failed_update_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let t1 = sample(dir.path(), "global.txt", 1);
    let t2 = sample(dir.path(), "global-update.txt", 2);
    // The first FwpmFilterDeleteById0 is the update's: it fails, the update is aborted
    // and retried; the run reports the failure.
    let (ok, lines) = simulate(&[
        "--table",
        t1.to_str().unwrap(),
        "--then",
        t2.to_str().unwrap(),
        "--simulate-fail",
        "FwpmFilterDeleteById0",
        "--simulate-connect",
        "203.0.113.99",
    ]);
    assert!(!ok);
    let aborts = calls(&lines, "FwpmTransactionAbort0");
    assert_eq!(aborts.len(), 1);
    let conn: Vec<&str> = lines
        .iter()
        .filter(|l| l["simulate"] == "connect")
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        conn,
        ["permit", "block"],
        "the retry installed the new filters"
    );
}

#[test]
fn an_engine_restart_is_noticed_and_everything_installed_again() {
    let dir = tempfile::tempdir().unwrap();
    let t = sample(dir.path(), "global.txt", 1);
    let (ok, lines) = simulate(&[
        "--table",
        t.to_str().unwrap(),
        "--simulate-engine-restart",
        "--simulate-connect",
        "192.0.2.1",
    ]);
    assert!(ok);
    let check = calls(&lines, "FwpmSubLayerGetByKey0");
    assert_eq!(check.len(), 1);
    assert_eq!(check[0]["result"], "0x800706ba");
    assert_eq!(calls(&lines, "FwpmSubLayerAdd0").len(), 2);
    let conn: Vec<&str> = lines
        .iter()
        .filter(|l| l["simulate"] == "connect")
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(conn, ["block", "block"]);
}

#[test]
fn the_recovery_command_uses_a_non_dynamic_session() {
    let (ok, lines) = simulate(&["--set-engine-options", "0,0"]);
    assert!(ok);
    check_calls(&lines);
    assert_eq!(calls(&lines, "FwpmEngineSetOption0").len(), 2);
    assert_eq!(calls(&lines, "FwpmEngineOpen0")[0]["dynamic"], false);
}

/// The model enforces the documented rules the adapter once broke.
#[test]
fn the_model_refuses_what_the_documentation_forbids() {
    use wfp_adapter::api::*;
    use wfp_adapter::model::Model;
    let mut m = Model::new(Vec::new());
    let d = m.engine_open(true).unwrap();
    assert_eq!(
        m.option_set(d, EngineOption::CollectNetEvents, 1),
        Err(FWP_E_DYNAMIC_SESSION_IN_PROGRESS)
    );
    let s = m.engine_open(false).unwrap();
    m.transaction_begin(s).unwrap();
    assert_eq!(m.transaction_begin(s), Err(FWP_E_TXN_IN_PROGRESS));
    assert_eq!(
        m.option_set(s, EngineOption::CollectNetEvents, 1),
        Err(FWP_E_TXN_IN_PROGRESS)
    );
    let sink: Sink = Arc::new(|_| {});
    assert_eq!(m.subscribe(s, sink).err(), Some(FWP_E_TXN_IN_PROGRESS));
    m.transaction_abort(s).unwrap();
    assert_eq!(m.transaction_commit(s), Err(FWP_E_NO_TXN_IN_PROGRESS));
    m.option_set(s, EngineOption::CollectNetEvents, 1).unwrap();
    // Dynamic objects go with their session; an aborted transaction leaves nothing.
    m.transaction_begin(d).unwrap();
    m.provider_add(d).unwrap();
    m.sublayer_add(d, 0xFFFF).unwrap();
    let f = c2trie::wfp::Filter::new(
        c2trie::wfp::Layer::AleAuthConnectV4,
        "192.0.2.0/24".parse().unwrap(),
    );
    m.filter_add(d, &f).unwrap();
    m.transaction_abort(d).unwrap();
    assert_eq!(m.filter_count(), 0);
    assert_eq!(m.filter_add(d, &f), Err(FWP_E_PROVIDER_NOT_FOUND));
    m.provider_add(d).unwrap();
    m.sublayer_add(d, 0xFFFF).unwrap();
    m.filter_add(d, &f).unwrap();
    assert_eq!(m.filter_count(), 1);
    m.engine_close(d).unwrap();
    assert_eq!(m.filter_count(), 0);
}

/// An adapter in block mode over the model, on the sample lists, started.
fn started(
    dir: &Path,
    fail: &[&str],
) -> (
    wfp_adapter::adapter::Adapter<wfp_adapter::api::Traced<wfp_adapter::model::Model>>,
    Buf,
) {
    use wfp_adapter::api::{Out, Traced};
    let t = sample(dir, "global.txt", 1);
    let buf = Buf::default();
    let out: Out = Arc::new(Mutex::new(Box::new(buf.clone())));
    let model = wfp_adapter::model::Model::new(fail.iter().map(|s| s.to_string()).collect());
    let live = Arc::new(c2trie::LiveTable::new(
        c2trie::Table::read_file(&t).unwrap(),
        c2trie::FailMode::Open,
    ));
    let argv = ["--table", "x"].map(String::from);
    let args = wfp_adapter::parse_args(argv.into_iter()).unwrap();
    let mut a = wfp_adapter::adapter::Adapter::new(
        Traced::new(model, Arc::clone(&out)),
        out,
        c2trie::Mode::Block,
        wfp_adapter::policy(&args),
        wfp_adapter::plan_options(&args),
        live,
    );
    a.set_options().unwrap();
    a.start().unwrap();
    (a, buf)
}

fn lines_of(buf: &Buf) -> Vec<Value> {
    String::from_utf8(buf.0.lock().unwrap().clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every session opened was closed.
fn sessions_paired(lines: &[Value]) {
    let ok = |name: &str| {
        calls(lines, name)
            .iter()
            .filter(|l| l["result"] == "0x00000000")
            .count()
    };
    assert_eq!(ok("FwpmEngineOpen0"), ok("FwpmEngineClose0"));
}

/// A reinstall after an engine restart that fails halfway is not mistaken for a healthy
/// session: the next check installs everything again.
#[test]
fn a_reinstall_that_fails_halfway_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, buf) = started(dir.path(), &[]);
    a.api.inner.restart_engine();
    // The model's failures are consumed in order: the next FwpmFilterAdd0 is the
    // reinstall's.
    a.api.inner.fail_next("FwpmFilterAdd0");
    assert!(a.check_engine().is_err());
    assert_eq!(a.api.inner.filter_count(), 0);
    assert!(a.check_engine().unwrap(), "the next check installs again");
    assert!(a.api.inner.filter_count() > 20);
    let c = a.api.inner.connect(
        "192.0.2.1".parse().unwrap(),
        443,
        std::time::SystemTime::now(),
    );
    assert!(c.filter.is_some());
    a.drain_events();
    assert!(!a.check_engine().unwrap(), "healthy now");
    a.shutdown().unwrap();
    let lines = lines_of(&buf);
    assert_eq!(events(&lines).len(), 1, "the reinstalled filters are ours");
    // The lost session and the half-installed one were both closed.
    let closes = calls(&lines, "FwpmEngineClose0").len();
    assert_eq!(closes, calls(&lines, "FwpmEngineOpen0").len());
}

/// A transient RPC failure of the health check closes the old session before opening a
/// new one, so nothing is left installed and untracked.
#[test]
fn a_transient_rpc_error_leaves_nothing_untracked() {
    let dir = tempfile::tempdir().unwrap();
    let (mut a, buf) = started(dir.path(), &[]);
    let before = a.api.inner.filter_count();
    a.api.inner.fail_next("FwpmSubLayerGetByKey0");
    assert!(a.check_engine().unwrap());
    assert_eq!(a.api.inner.filter_count(), before, "no duplicates");
    let c = a.api.inner.connect(
        "192.0.2.1".parse().unwrap(),
        443,
        std::time::SystemTime::now(),
    );
    a.drain_events();
    assert!(c.filter.is_some());
    a.shutdown().unwrap();
    let lines = lines_of(&buf);
    assert_eq!(
        events(&lines).len(),
        1,
        "drops by the new filters are recognised"
    );
    sessions_paired(&lines);
    assert_eq!(a.api.inner.filter_count(), 0);
}

/// An update that is refused (older list version, unreadable file) is logged, not fatal,
/// and the run still shuts down cleanly.
#[test]
fn a_refused_update_keeps_the_table_and_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let t1 = sample(dir.path(), "global.txt", 5);
    let old = sample(dir.path(), "global-update.txt", 4);
    for then in [old.to_str().unwrap(), "/nonexistent/table.c2t"] {
        let (ok, lines) = simulate(&[
            "--table",
            t1.to_str().unwrap(),
            "--mode",
            "log",
            "--then",
            then,
            "--simulate-connect",
            "192.0.2.1",
        ]);
        assert!(ok, "{then}");
        check_calls(&lines);
        sessions_paired(&lines);
        assert_eq!(calls(&lines, "FwpmTransactionBegin0").len(), 2, "no update");
        let kw: Vec<u64> = calls(&lines, "FwpmEngineSetOption0")
            .iter()
            .map(|l| l["value"].as_u64().unwrap())
            .collect();
        assert_eq!(kw, [16, 0], "the keyword is restored");
    }
}

/// Whatever call fails, the run ends with every session closed, no transaction open and
/// the engine options back where they were.
#[test]
fn every_injected_failure_ends_clean() {
    let dir = tempfile::tempdir().unwrap();
    let t1 = sample(dir.path(), "global.txt", 1);
    let t2 = sample(dir.path(), "global-update.txt", 2);
    for call in [
        "FwpmEngineOpen0",
        "FwpmEngineGetOption0",
        "FwpmEngineSetOption0",
        "FwpmTransactionBegin0",
        "FwpmProviderAdd0",
        "FwpmSubLayerAdd0",
        "FwpmFilterAdd0",
        "FwpmTransactionCommit0",
        "FwpmNetEventSubscribe1",
        "FwpmFilterDeleteById0",
        "WTSSendMessageW",
    ] {
        let (_, lines) = simulate(&[
            "--table",
            t1.to_str().unwrap(),
            "--mode",
            "log",
            "--then",
            t2.to_str().unwrap(),
            "--simulate-fail",
            call,
            "--simulate-connect",
            "192.0.2.1",
        ]);
        // Every session opened is closed, and the keyword ends where it began.
        sessions_paired(&lines);
        let kw: Vec<u64> = calls(&lines, "FwpmEngineSetOption0")
            .iter()
            .filter(|l| l["result"] == "0x00000000")
            .map(|l| l["value"].as_u64().unwrap())
            .collect();
        assert!(kw.is_empty() || kw.last() == Some(&0), "{call}: {kw:?}");
        // No transaction is left open.
        let open = lines
            .iter()
            .filter(|l| l["call"] == "FwpmTransactionBegin0" && l["result"] == "0x00000000")
            .count();
        let closed = lines
            .iter()
            .filter(|l| {
                (l["call"] == "FwpmTransactionCommit0" || l["call"] == "FwpmTransactionAbort0")
                    && l["result"] == "0x00000000"
            })
            .count();
        assert_eq!(open, closed, "{call}");
    }
}
