//! Enforce a compiled table on Windows with the Windows Filtering Platform (WFP), user mode
//! only, no driver.
//!
//! ```text
//! wfp_adapter --table PATH [--mode block|log] [--watch] [--interval SECS] [--ranges]
//!             [--embedded LIST] [--no-exemptions] [--dry-run | --simulate ...]
//! wfp_adapter --set-engine-options COLLECT,KEYWORDS [--simulate]
//! ```
//!
//! `--mode` is the global (vendor) list's mode, `block` by default; the user's blocked list
//! always blocks and the approved list always allows (the policy is
//! `Policy::new(mode, Mode::Block)`). IPv6 spellings of listed IPv4 addresses are blocked
//! under the encodings of `--embedded` (default `nat64`, i.e. `64:ff9b::/96`; e.g.
//! `--embedded nat64,6to4,teredo-server`, or `none`). IPv4 traffic of dual-stack sockets
//! (`::ffff:a.b.c.d`) needs no encoding: WFP classifies it at the IPv4 layers. The filters
//! are `c2trie::wfp::Plan`: one block filter per prefix of the minimal cover (or per range
//! with `--ranges`) on `FWPM_LAYER_ALE_AUTH_CONNECT_V4/V6` and
//! `FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4/V6`. Loopback, link-local, multicast and the limited
//! broadcast address are never blocked, whatever a list says, unless `--no-exemptions`.
//! `--watch` polls the table file every `--interval` seconds (default 2) and applies each
//! new table's diff in one transaction; a failed apply is retried, with backoff.
//!
//! Build and run (release, from the repository):
//!
//! ```text
//! cargo run --release --features serde --example wfp_adapter -- --table lists.c2t --dry-run
//! ```
//!
//! # `--dry-run` (any OS)
//!
//! Prints the plan, one JSON line per filter,
//! `{"layer": "ALE_AUTH_CONNECT_V4", "action": "block", "remote": "203.0.113.0/24"}` (a range
//! as `"a-b"`), and on standard error a summary, with what the exemptions left out; with
//! `--watch`, then one line per change, `{"op": "add"|"delete", ...}`, each time the table
//! file is replaced. Changes nothing.
//!
//! # `--simulate` (any OS)
//!
//! Runs the real enforcement code against an in-process model of the WFP API
//! (`model.rs`: each documented rule it enforces names its documentation page) and prints
//! each API call as one JSON line: `call` (the Win32 function), `result` (`"0x%08x"`),
//! `dynamic` and `txn` (the session's state), plus `weight` (`FwpmSubLayerAdd0`), `layer`,
//! `action` and `remote` (`FwpmFilterAdd0`), `option` and `value` (engine options). An
//! alert is a `WTSSendMessageW` call line. Event records (ECS, `event.action` `block` or
//! `log`) are the other JSON lines. Options:
//!
//! - `--simulate-connect ADDR[:PORT]` (repeatable): the model classifies an outbound
//!   connection to ADDR against the installed filters and delivers the net event Windows
//!   would; a `{"simulate": "connect", ...}` line says how it was classified;
//! - `--simulate-fail CALL` (repeatable): the first call of that name fails
//!   (`RPC_S_CALL_FAILED`);
//! - `--then TABLE2`: after the first apply and connections, the table in service becomes
//!   TABLE2, as `--watch` would do, the diff is applied (retried once if it fails) and the
//!   connections are made again;
//! - `--simulate-engine-restart`: then the Base Filtering Engine restarts; the adapter
//!   notices and installs everything again.
//!
//! The run shuts down cleanly and exits with status 1 if an apply failed.
//!
//! # Privileges and Windows versions
//!
//! An elevated (Administrator) prompt or `LocalSystem`: the default security descriptors
//! give Administrators what the calls need: `FWPM_ACTRL_BEGIN_WRITE_TXN` on the engine
//! (FwpmTransactionBegin0), `FWPM_ACTRL_ADD` on the provider, sublayer and filter
//! containers and `FWPM_ACTRL_ADD_LINK` on the provider and sublayer (FwpmSubLayerAdd0,
//! FwpmFilterAdd0), `FWPM_ACTRL_READ` / `FWPM_ACTRL_WRITE` on the engine (engine options)
//! and `FWPM_ACTRL_SUBSCRIBE` on the net events container (FwpmNetEventSubscribe1).
//! Windows 8 / Server 2012 or later: `FwpmNetEventSubscribe1`, `FWPM_NET_EVENT2` and the
//! `CLASSIFY_ALLOW` keyword need it.
//!
//! # What each mode changes on the machine, and how to undo it
//!
//! - **Both modes** open a *dynamic* WFP session (`FWPM_SESSION_FLAG_DYNAMIC`) and add a
//!   provider, a sublayer of weight 0xFFFF (the highest: no other sublayer is evaluated
//!   before it) and the plan's block filters, in transactions aborted on any failure.
//!   Everything a dynamic session adds is deleted by the engine when the session ends,
//!   however the process ends. While it runs, `netsh wfp show filters` lists the filters
//!   (provider "c2trie").
//! - **Engine options**, machine-wide and persistent, are changed only if needed, on a
//!   separate *non-dynamic* session outside any transaction (`FwpmEngineSetOption0` is
//!   refused in a dynamic session and inside a transaction), and written back the same way
//!   on exit, Ctrl-C, Ctrl-Break and console close. Block mode needs
//!   `FWPM_ENGINE_COLLECT_NET_EVENTS` = 1 (the default) for its alerts; log mode also needs
//!   `FWPM_NET_EVENT_KEYWORD_CLASSIFY_ALLOW` in `FWPM_ENGINE_NET_EVENT_MATCH_ANY_KEYWORDS`
//!   so that allowed connections produce events, which makes the engine log every allowed
//!   connection machine-wide while it is on. Each change is printed with its old value; if
//!   the process is killed first, restore by hand: `wfp_adapter --set-engine-options C,K`
//!   (or `netsh wfp set options netevents=off` for the first).
//! - **`--mode block`** blocks the global list too; for each connection our filters drop it
//!   prints an event record (`event.action` `block`, list, entry, list version) and shows
//!   the interactive user an alert (`WTSSendMessageW` to the active console session, not
//!   waiting for an answer; at most one per address a minute). **`--mode log`** blocks only
//!   the user's blocked list and prints a record for each allowed connection the policy
//!   decides `log`; it alerts nobody. Net events are queued by the engine's callback
//!   without blocking (a full queue drops and counts them) and printed by the main thread;
//!   their time is the engine's `timeStamp`.
//! - A restart of the Base Filtering Engine ends the session and its filters: the adapter
//!   checks the session every interval and installs everything again.
//!
//! # Scale
//!
//! WFP has no address-set condition, so the cost is one filter per prefix per layer. An
//! IPv4 prefix of the block set costs one filter at each `_V4` layer and one per enabled
//! IPv6 encoding at each `_V6` layer: 4 with the default `nat64`. Measured on the shared
//! feeds, each as the global list in block mode (entries -> prefix filters in all):
//!
//! | feed | entries | `--embedded nat64` (default) | every encoding that can be expressed |
//! |---|---|---|---|
//! | Feodo (2024-04-04) | 28 | 108 | 378 |
//! | Spamhaus DROP | 989 | 3,900 | 13,650 |
//! | FireHOL level1 (2021) | 2,892 | 11,618 | 40,582 |
//! | ipsum | 120,430 | 382,576 | 1,339,016 |
//!
//! ("Every encoding": `--embedded compatible,translated,nat64,nat64-local,6to4,teredo-server`;
//! FireHOL level1 splits around its exempt ranges. Reproduce with `c2trie compile --global
//! FEED --allow-broad global -o t.c2t` and `wfp_adapter --table t.c2t --dry-run | wc -l`.)
//!
//! Filter counts in the low tens of thousands are what Windows firewalls commonly install;
//! **commit time, classification latency and memory above that have not been measured
//! here** and must be before deploying a list that large.
//!
//! # What the model proves, and what needs a real Windows machine
//!
//! | checked by `--simulate` in CI, against the documented rules | needs Windows |
//! |---|---|
//! | engine options set and restored on a non-dynamic session, outside transactions | that the options take effect (`netsh wfp show options netevents`) |
//! | every filter added inside a transaction; aborted on a failed add or commit | commit time at large filter counts |
//! | sublayer weight 0xFFFF; no `::ffff:` filters; exemptions | that no other product's sublayer overrides ours |
//! | a listed address yields one `block` event and one alert; an unlisted one none | the alert's appearance in a user session; the event's process path |
//! | `--then`: the diff is one transaction deleting the filters of entries that left | `--watch` on a real file replace |
//! | an engine restart is noticed and everything installed again | the RPC error codes a real restart returns |
//! | any failing call ends with sessions closed, no transaction open, options restored | the RPC error codes a real engine restart returns |
//! | type-check, lint and MinGW link of the Windows code | the Windows code path end to end |
//!
//! Also known: Windows does not deliver the logoff and shutdown console events to a
//! console process that loads `user32.dll` (the alert API does), so run the adapter as a
//! service where it must restore the engine options at shutdown; two processes that both
//! change the options restore them without knowing of each other.

#![cfg_attr(not(windows), allow(dead_code))]

pub(crate) mod adapter;
pub(crate) mod api;
pub(crate) mod model;
#[cfg(windows)]
#[allow(unsafe_code)] // The Windows FFI; every unsafe block says why it is sound.
mod windows;

use std::error::Error;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use c2trie::policy::{EmbeddedV4, Encoding};
use c2trie::swap::{FailMode, LiveTable, ReloadMode, WatchTarget};
use c2trie::wfp::{Filter, Layer, Plan, PlanOptions, Shape};
use c2trie::{Mode, Policy, Table};

use adapter::Adapter;
use api::{EngineOption, Out, Traced, Wfp, WfpError, emit};

const USAGE: &str = "usage: wfp_adapter --table PATH [--mode block|log] [--watch] \
                     [--interval SECS] [--ranges] [--embedded LIST] [--no-exemptions] \
                     [--dry-run | --simulate [--simulate-connect ADDR]... \
                     [--simulate-fail CALL]... [--then TABLE2] [--simulate-engine-restart]]\n       \
                     wfp_adapter --set-engine-options COLLECT,KEYWORDS [--simulate]";

/// The command line. (Also used by `tests/wfp_dry_run.rs`, which compiles this file.)
#[derive(Debug)]
pub(crate) struct Args {
    pub(crate) table: Option<PathBuf>,
    pub(crate) mode: Mode,
    pub(crate) watch: bool,
    pub(crate) interval: Duration,
    pub(crate) shape: Shape,
    pub(crate) dry_run: bool,
    pub(crate) set_options: Option<(u32, u32)>,
    pub(crate) embedded: Option<Vec<Encoding>>,
    pub(crate) exemptions: bool,
    pub(crate) simulate: bool,
    pub(crate) connect: Vec<SocketAddr>,
    pub(crate) fail: Vec<String>,
    pub(crate) then: Option<PathBuf>,
    pub(crate) engine_restart: bool,
}

pub(crate) fn parse_args(mut it: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        table: None,
        mode: Mode::Block,
        watch: false,
        interval: Duration::from_secs(2),
        shape: Shape::Prefixes,
        dry_run: false,
        set_options: None,
        embedded: None,
        exemptions: true,
        simulate: false,
        connect: Vec::new(),
        fail: Vec::new(),
        then: None,
        engine_restart: false,
    };
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--table" => a.table = Some(PathBuf::from(value()?)),
            "--mode" => {
                a.mode = match value()?.as_str() {
                    "block" => Mode::Block,
                    "log" => Mode::LogOnly,
                    m => return Err(format!("--mode {m}: expected block or log")),
                }
            }
            "--watch" => a.watch = true,
            "--interval" => {
                let s: u64 = value()?.parse().map_err(|e| format!("--interval: {e}"))?;
                a.interval = Duration::from_secs(s.max(1));
            }
            "--ranges" => a.shape = Shape::Ranges,
            "--embedded" => {
                let v = value()?;
                let mut list = Vec::new();
                for name in v.split(',').filter(|n| !n.is_empty() && *n != "none") {
                    list.push(name.parse::<Encoding>().map_err(|e| e.to_string())?);
                }
                a.embedded = Some(list);
            }
            "--no-exemptions" => a.exemptions = false,
            "--dry-run" => a.dry_run = true,
            "--simulate" => a.simulate = true,
            "--simulate-connect" => {
                let v = value()?;
                let sa = v
                    .parse::<SocketAddr>()
                    .or_else(|_| v.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 443)))
                    .map_err(|_| format!("--simulate-connect {v}: expected ADDR or ADDR:PORT"))?;
                a.connect.push(sa);
            }
            "--simulate-fail" => a.fail.push(value()?),
            "--then" => a.then = Some(PathBuf::from(value()?)),
            "--simulate-engine-restart" => a.engine_restart = true,
            "--set-engine-options" => {
                let v = value()?;
                let parse = |s: &str| {
                    let s = s.trim();
                    match s.strip_prefix("0x") {
                        Some(h) => u32::from_str_radix(h, 16),
                        None => s.parse(),
                    }
                };
                let (c, k) = v.split_once(',').ok_or("expected COLLECT,KEYWORDS")?;
                a.set_options = Some((
                    parse(c).map_err(|e| e.to_string())?,
                    parse(k).map_err(|e| e.to_string())?,
                ));
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.table.is_none() && a.set_options.is_none() {
        return Err("--table is required".into());
    }
    if a.dry_run && a.simulate {
        return Err("--dry-run and --simulate exclude each other".into());
    }
    let sim_only =
        !a.connect.is_empty() || !a.fail.is_empty() || a.then.is_some() || a.engine_restart;
    if sim_only && !a.simulate {
        return Err("--simulate-connect, --simulate-fail, --then and --simulate-engine-restart need --simulate".into());
    }
    Ok(a)
}

/// The policy the adapter enforces: the global list in `args.mode`, the blocked list
/// blocking, the IPv4-in-IPv6 encodings of `--embedded` (NAT64's well-known prefix by
/// default).
pub(crate) fn policy(args: &Args) -> Policy {
    if args
        .embedded
        .as_ref()
        .is_some_and(|l| l.contains(&Encoding::Mapped))
    {
        eprintln!(
            "note: --embedded mapped adds no filters: WFP classifies a dual-stack socket's \
             IPv4 traffic at the IPv4 layers, where the IPv4 filters already block it"
        );
    }
    let mut p = Policy::new(args.mode, Mode::Block);
    p.embedded = EmbeddedV4::none();
    let list = args
        .embedded
        .clone()
        .unwrap_or_else(|| vec![Encoding::Nat64WellKnown]);
    for e in list {
        p.embedded.set(e, true);
    }
    p
}

/// How the plan is built: `--ranges`, and the exemptions unless `--no-exemptions`.
pub(crate) fn plan_options(args: &Args) -> PlanOptions {
    let o = PlanOptions::default().shape(args.shape);
    if args.exemptions {
        o
    } else {
        o.exemptions(Vec::new())
    }
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("wfp_adapter: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = if args.dry_run {
        dry_run(&args)
    } else if args.simulate {
        let out: Out = Arc::new(Mutex::new(Box::new(std::io::stdout())));
        simulate(&args, out)
    } else {
        enforce(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wfp_adapter: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(windows)]
fn enforce(args: &Args) -> Result<(), Box<dyn Error>> {
    windows::run(args)
}

#[cfg(not(windows))]
fn enforce(_: &Args) -> Result<(), Box<dyn Error>> {
    Err(
        "enforcement needs Windows (the Windows Filtering Platform); use --dry-run to \
         print the filters it would install, or --simulate to run against a model of the API"
            .into(),
    )
}

fn table_path(args: &Args) -> Result<&PathBuf, Box<dyn Error>> {
    args.table
        .as_ref()
        .ok_or_else(|| "--table is required".into())
}

/// A one-line summary of a plan: filters per layer, the gaps and the exemptions.
fn summary(plan: &Plan, table: &Table) -> String {
    let per: Vec<String> = Layer::ALL
        .iter()
        .map(|l| format!("{l} {}", plan.count(*l)))
        .collect();
    let mut s = format!(
        "{} entries (list version {}) -> {} filters ({})",
        table.len(),
        table.list_version(),
        plan.len(),
        per.join(", ")
    );
    for g in plan.gaps() {
        s.push_str(&format!(
            "; {} IPv4 prefixes not fully covered under {}: {}",
            g.v4_prefixes, g.encoding, g.note
        ));
    }
    for e in plan.exempted() {
        s.push_str(&format!(
            "; exempted {} ({}): {} listed addresses not blocked",
            e.exemption.net, e.exemption.name, e.addresses
        ));
    }
    s
}

fn op_line(op: &str, f: &Filter) -> String {
    // `Filter`'s JSON line starts with `{`; put the op first.
    format!("{{\"op\": \"{op}\", {}", &f.to_string()[1..])
}

/// Loads the table, plans, and writes the plan's JSON lines to `out`.
pub(crate) fn dry_run_once(
    args: &Args,
    out: &mut impl Write,
) -> Result<(Table, Plan), Box<dyn Error>> {
    let table = Table::read_file(table_path(args)?)?;
    let plan = Plan::with_options(&table, &policy(args), &plan_options(args));
    plan.write_json_lines(&mut *out)?;
    out.flush()?;
    Ok((table, plan))
}

fn dry_run(args: &Args) -> Result<(), Box<dyn Error>> {
    let path = table_path(args)?;
    let policy = policy(args);
    let (table, mut plan) = dry_run_once(args, &mut std::io::stdout().lock())?;
    eprintln!("plan: {}", summary(&plan, &table));
    if !args.watch {
        return Ok(());
    }
    let live = Arc::new(LiveTable::new(table, FailMode::Open));
    let (tx, rx) = mpsc::channel();
    let _watcher = live.watch(
        WatchTarget::File(path.clone()),
        ReloadMode::READ,
        args.interval,
        move |r| {
            let _ = tx.send(r);
        },
    )?;
    for r in rx {
        match r {
            Err(e) => eprintln!("reload refused, keeping the table in service: {e}"),
            Ok(_) => {
                let guard = live.load();
                let Some(t) = guard.table() else { continue };
                let next = Plan::with_options(t, &policy, &plan_options(args));
                let diff = Plan::diff(&plan, &next);
                let mut out = std::io::stdout().lock();
                for f in &diff.delete {
                    writeln!(out, "{}", op_line("delete", f))?;
                }
                for f in &diff.add {
                    writeln!(out, "{}", op_line("add", f))?;
                }
                out.flush()?;
                eprintln!("update: {}", summary(&next, t));
                plan = next;
            }
        }
    }
    Ok(())
}

/// `--set-engine-options C,K`: on a non-dynamic session, outside any transaction.
fn set_engine_options(api: &mut impl Wfp, (c, k): (u32, u32)) -> Result<(), WfpError> {
    let s = api.engine_open(false).map_err(|code| WfpError {
        call: "FwpmEngineOpen0",
        code,
    })?;
    let r = api
        .option_set(s, EngineOption::NetEventMatchAnyKeywords, k)
        .and_then(|()| api.option_set(s, EngineOption::CollectNetEvents, c))
        .map_err(|code| WfpError {
            call: "FwpmEngineSetOption0",
            code,
        });
    let _ = api.engine_close(s);
    r?;
    eprintln!("engine options set: collect_net_events={c} match_any_keywords=0x{k:x}");
    Ok(())
}

/// Connects to each `--simulate-connect` address in the model and handles the events.
fn connect_all(a: &mut Adapter<Traced<model::Model>>, args: &Args, out: &Out) {
    for sa in &args.connect {
        let c = a.api.inner.connect(sa.ip(), sa.port(), SystemTime::now());
        let line = serde_json::json!({
            "simulate": "connect",
            "remote": sa.ip().to_string(),
            "port": sa.port(),
            "layer": c.layer.as_str(),
            "seen_as": c.remote.to_string(),
            "action": if c.filter.is_some() { "block" } else { "permit" },
            "filter": c.filter.map(|(id, _)| id),
        });
        emit(out, &line.to_string());
        a.drain_events();
    }
}

/// `--simulate`: the enforcement code path against the model; trace and events to `out`.
pub(crate) fn simulate(args: &Args, out: Out) -> Result<(), Box<dyn Error>> {
    let model = model::Model::new(args.fail.clone());
    let mut api = Traced::new(model, Arc::clone(&out));
    if let Some(v) = args.set_options {
        return Ok(set_engine_options(&mut api, v)?);
    }
    let table = Table::read_file(table_path(args)?)?;
    let live = Arc::new(LiveTable::new(table, FailMode::Open));
    let mut a = Adapter::new(
        api,
        Arc::clone(&out),
        args.mode,
        policy(args),
        plan_options(args),
        Arc::clone(&live),
    );
    let started = a.set_options().and_then(|()| a.start());
    if let Err(e) = started {
        let _ = a.shutdown();
        return Err(format!("could not start: {e}").into());
    }
    // From here on every exit goes through `shutdown`: options restored, session closed.
    let r = simulate_run(&mut a, args, &live, &out);
    let down = a.shutdown();
    r?;
    down?;
    if a.failures > 0 {
        return Err(format!("{} apply attempts failed", a.failures).into());
    }
    Ok(())
}

fn simulate_run(
    a: &mut Adapter<Traced<model::Model>>,
    args: &Args,
    live: &LiveTable,
    out: &Out,
) -> Result<(), Box<dyn Error>> {
    if let Some(t) = live.load().table() {
        eprintln!("plan: {}", summary(a.plan(), t));
    }
    eprintln!("model: {} filters installed", a.api.inner.filter_count());
    connect_all(a, args, out);
    if let Some(next) = &args.then {
        // As `--watch` does: a table that cannot be read, or is not newer, is refused and
        // the one in service stays.
        match Table::read_file(next)
            .map_err(|e| e.to_string())
            .and_then(|t| live.replace(t).map_err(|e| e.to_string()))
        {
            Ok(_) => {
                if a.table_changed().is_err() {
                    // As `--watch` does at its next tick.
                    let _ = a.table_changed();
                }
            }
            Err(e) => eprintln!("reload refused, keeping the table in service: {e}"),
        }
        connect_all(a, args, out);
    }
    if args.engine_restart {
        a.api.inner.restart_engine();
        eprintln!("simulated: the Base Filtering Engine restarted");
        a.check_engine()?;
        connect_all(a, args, out);
    }
    Ok(())
}

/// Set by the console handler on Windows; the main loop then shuts down.
pub(crate) static STOP: AtomicBool = AtomicBool::new(false);

/// The enforcement loop, shared by Windows: reloads from the watcher, net events, session
/// checks, and retries of failed applies with backoff, until [`STOP`].
pub(crate) fn run_loop<W: Wfp>(
    a: &mut Adapter<W>,
    reloads: mpsc::Receiver<Result<c2trie::swap::Swapped, c2trie::SwapError>>,
    interval: Duration,
) {
    use std::sync::atomic::Ordering;
    let mut next_check = Instant::now() + interval;
    let mut retry: Option<(Instant, Duration)> = None;
    while !STOP.load(Ordering::SeqCst) {
        match reloads.recv_timeout(Duration::from_millis(100)) {
            Ok(Ok(swapped)) => {
                eprintln!("list version {} in service", swapped.list_version);
                if a.table_changed().is_err() {
                    retry = Some((Instant::now() + interval, interval));
                } else {
                    retry = None;
                }
            }
            Ok(Err(e)) => eprintln!("reload refused, keeping the table in service: {e}"),
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            // No watcher: nothing will ever arrive; wait out the tick instead of spinning.
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        a.drain_events();
        let now = Instant::now();
        if let Some((at, backoff)) = retry
            && now >= at
        {
            retry = match a.sync() {
                Ok(()) => None,
                Err(_) => {
                    let b = (backoff * 2).min(Duration::from_secs(300));
                    Some((now + b, b))
                }
            };
        }
        if now >= next_check {
            next_check = now + interval;
            if let Err(e) = a.check_engine() {
                eprintln!("filter engine check failed: {e}; trying again in {interval:?}");
            }
        }
    }
}
