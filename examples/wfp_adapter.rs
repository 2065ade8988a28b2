//! Enforce a compiled table on Windows with the Windows Filtering Platform (WFP), user mode
//! only, no driver.
//!
//! ```text
//! wfp_adapter --table PATH [--mode block|log] [--watch] [--interval SECS] [--ranges]
//!             [--embedded LIST] [--dry-run]
//! wfp_adapter --set-engine-options COLLECT,KEYWORDS
//! ```
//!
//! `--mode` is the global (vendor) list's mode; the user's blocked list always blocks and the
//! approved list always allows (the policy is `Policy::new(mode, Mode::Block)` with every
//! IPv4-in-IPv6 encoding on, or only those named by `--embedded`, e.g.
//! `--embedded mapped,nat64,6to4`, or `none`; log mode's events follow the same policy).
//! `--watch` polls the table file every `--interval` seconds (default 2) and applies
//! each new table's diff. The block filters are `c2trie::wfp::Plan`: one filter per
//! prefix of the minimal cover (or per range with `--ranges`) on
//! `FWPM_LAYER_ALE_AUTH_CONNECT_V4/V6` and `FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4/V6`.
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
//! as `"a-b"`), and a summary on standard error; with `--watch`, then one line per change,
//! `{"op": "add"|"delete", ...}`, each time the table file is replaced. Changes nothing. On
//! other systems than Windows, running without `--dry-run` says that enforcement needs Windows
//! and exits with status 1.
//!
//! # Privileges
//!
//! An elevated (Administrator) prompt: adding filters and changing engine options need the
//! `FWPM_ACTRL_ADD` and `FWPM_ACTRL_SET` rights of the filter engine, which the default
//! security descriptor gives to Administrators (and `LocalSystem`).
//!
//! # What each mode changes on the machine, and how to undo it
//!
//! - **Both modes** open a *dynamic* WFP session (`FWPM_SESSION_FLAG_DYNAMIC`) and add a
//!   provider, a sublayer and the plan's block filters in one transaction. Everything a
//!   dynamic session adds is deleted by the engine when the session ends, however the process
//!   ends (exit, Ctrl-C, crash, `taskkill /f`). Nothing is persistent: nothing to undo. While
//!   it runs, `netsh wfp show filters` lists the filters (provider "c2trie").
//! - **`--mode block`** blocks the global list too. **`--mode log`** blocks only the user's
//!   blocked list and, in addition, turns on two **machine-wide, persistent engine options**:
//!   `FWPM_ENGINE_COLLECT_NET_EVENTS` = 1 and `FWPM_ENGINE_NET_EVENT_MATCH_ANY_KEYWORDS` =
//!   `FWPM_NET_EVENT_KEYWORD_CLASSIFY_ALLOW` (so that *allowed* connections produce net
//!   events), subscribes to net events (`FwpmNetEventSubscribe1`) and prints a rate-limited
//!   JSON match event (`c2trie::MatchEvent`, with process path and remote port) for each
//!   allowed connection the table and policy decide `log`. The previous option values are
//!   read first, printed on standard error, and written back on exit, Ctrl-C, Ctrl-Break and
//!   console close included. If the process is killed before it can restore them, restore
//!   them by hand with the printed values: `wfp_adapter --set-engine-options C,K` (or
//!   `netsh wfp set options netevents=off` for the first). Classify-allow events make the
//!   engine log every allowed connection machine-wide while they are on: that is the cost
//!   of log-only mode without a driver.
//!
//! # Scale
//!
//! WFP has no address-set condition, so the cost is one filter per prefix per layer. An
//! IPv4 prefix of the merged block set costs one filter at each `_V4` layer and, at each
//! `_V6` layer, one per IPv4-in-IPv6 image: 7 with every encoding (mapped, compatible,
//! translated, NAT64, NAT64 local-use, 6to4, Teredo server), so 16 filters in all, or 4 with
//! `--embedded mapped`. Measured on the shared feeds, each as the global list in block mode
//! (entries -> prefix filters in all, every encoding / mapped only):
//!
//! | feed | entries | every encoding | `--embedded mapped` |
//! |---|---|---|---|
//! | Feodo (2024-04-04) | 28 | 432 | 108 |
//! | Spamhaus DROP | 989 | 15,600 | 3,900 |
//! | FireHOL level1 (2021) | 2,892 | 46,316 | 11,568 |
//! | FireHOL level2 (2017) | 41,319 | 661,104 | 165,276 |
//! | ipsum | 120,430 | 1,530,304 | 382,576 |
//!
//! `--ranges` saves 0–15 % (FireHOL and DROP gain most; host lists almost nothing).
//! Filter counts in the low tens of thousands are what Windows firewalls commonly install;
//! **commit time, classification latency and memory above that have not been measured
//! here** and must be before deploying a list that large: prefer `--embedded mapped` (or
//! mapped plus the NAT64 prefix the network uses), or block only the highest-risk part of
//! the global list. An update applies only the plan diff, in one transaction.
//!
//! # What needs a real Windows machine (not checked in CI)
//!
//! CI type-checks, lints and links this example for `x86_64-pc-windows-gnu`, and checks the
//! plan itself address by address on Linux. Only a Windows machine can check that:
//! 1. the filters install (`netsh wfp show filters` shows them under provider "c2trie") and
//!    a connection to a listed address fails (`Test-NetConnection 203.0.113.5 -Port 443`)
//!    while one to an approved address succeeds;
//! 2. a dual-stack socket to `::ffff:a.b.c.d` is blocked, and an inbound connection from a
//!    listed address is refused;
//! 3. `--watch` applies a new table's diff (replace the file) and the filter count follows;
//! 4. log mode prints events with the right process path and port, and the engine options
//!    are restored after Ctrl-C (`netsh wfp show options netevents`);
//! 5. the session's filters vanish when the process is killed;
//! 6. commit time and connection latency at the filter counts above.

#![cfg_attr(not(windows), allow(dead_code))]

use std::error::Error;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use c2trie::policy::{EmbeddedV4, Encoding};
use c2trie::swap::{FailMode, LiveTable, ReloadMode, WatchTarget};
use c2trie::wfp::{Filter, Layer, Plan, Shape};
use c2trie::{Mode, Policy, Table};

const USAGE: &str = "usage: wfp_adapter --table PATH [--mode block|log] [--watch] \
                     [--interval SECS] [--ranges] [--embedded LIST] [--dry-run]\n       \
                     wfp_adapter --set-engine-options COLLECT,KEYWORDS";

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
            "--dry-run" => a.dry_run = true,
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
    Ok(a)
}

/// The policy the adapter enforces: the global list in `args.mode`, the blocked list
/// blocking, the IPv4-in-IPv6 encodings of `--embedded` (all by default).
pub(crate) fn policy(args: &Args) -> Policy {
    let mut p = Policy::new(args.mode, Mode::Block);
    if let Some(list) = &args.embedded {
        p.embedded = EmbeddedV4::none();
        for e in list {
            p.embedded.set(*e, true);
        }
    }
    p
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
    wfp::run(args)
}

#[cfg(not(windows))]
fn enforce(_: &Args) -> Result<(), Box<dyn Error>> {
    Err(
        "enforcement needs Windows (the Windows Filtering Platform); \
         use --dry-run to print the filters it would install"
            .into(),
    )
}

fn table_path(args: &Args) -> Result<&PathBuf, Box<dyn Error>> {
    args.table
        .as_ref()
        .ok_or_else(|| "--table is required".into())
}

/// A one-line summary of a plan: filters per layer, and the gaps.
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
    let plan = Plan::new(&table, &policy(args), args.shape);
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
                let next = Plan::new(t, &policy, args.shape);
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

#[cfg(windows)]
#[allow(unsafe_code)] // The Windows FFI; every unsafe block says why it is sound.
mod wfp {
    use std::collections::HashMap;
    use std::error::Error;
    use std::ffi::c_void;
    use std::fmt;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::num::NonZeroUsize;
    use std::ptr;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, mpsc};
    use std::time::{Duration, Instant, SystemTime};

    use c2trie::event::Connection;
    use c2trie::swap::{FailMode, LiveTable, ReloadMode, WatchTarget};
    use c2trie::wfp::{Filter, Layer, Plan, PlanDiff, Remote};
    use c2trie::{MatchEvent, Mode, Policy, RateLimiter, Table, Verdict};
    use ipnet::IpNet;
    use windows_sys::Win32::Foundation::{ERROR_SUCCESS, HANDLE};
    use windows_sys::Win32::NetworkManagement::WindowsFilteringPlatform::*;
    use windows_sys::Win32::System::Console::{
        CTRL_BREAK_EVENT, CTRL_C_EVENT, SetConsoleCtrlHandler,
    };
    use windows_sys::Win32::System::Rpc::RPC_C_AUTHN_DEFAULT;
    use windows_sys::core::{BOOL, GUID};

    use super::{Args, policy, summary, table_path};

    /// Our provider and sublayer keys, the GUIDs {6c2b1e0a-4f3d-4a8e-9b57-c2712e000001} and
    /// {...0002} (fixed, so that `netsh wfp show filters` output is
    /// recognisable across runs).
    const PROVIDER: GUID = GUID::from_u128(0x6c2b_1e0a_4f3d_4a8e_9b57_c271_2e00_0001);
    const SUBLAYER: GUID = GUID::from_u128(0x6c2b_1e0a_4f3d_4a8e_9b57_c271_2e00_0002);

    static STOP: AtomicBool = AtomicBool::new(false);
    static CLEANED_UP: AtomicBool = AtomicBool::new(false);

    /// A failed WFP call: which call, and its Win32/WFP error code.
    #[derive(Debug)]
    struct WfpError {
        call: &'static str,
        code: u32,
    }

    impl fmt::Display for WfpError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "{} failed: error 0x{:08x}", self.call, self.code)
        }
    }

    impl Error for WfpError {}

    fn check(call: &'static str, code: u32) -> Result<(), WfpError> {
        if code == ERROR_SUCCESS {
            Ok(())
        } else {
            Err(WfpError { call, code })
        }
    }

    /// Display data pointing at NUL-terminated UTF-16 strings the caller keeps alive.
    fn display(name: &mut [u16], description: Option<&mut [u16]>) -> FWPM_DISPLAY_DATA0 {
        FWPM_DISPLAY_DATA0 {
            name: name.as_mut_ptr(),
            description: description.map_or(ptr::null_mut(), |d| d.as_mut_ptr()),
        }
    }

    /// A NUL-terminated UTF-16 string.
    fn wide(s: &str) -> Vec<u16> {
        s.encode_utf16().chain(Some(0)).collect()
    }

    /// An open filter-engine session; closing it deletes everything it added (dynamic).
    struct Engine(HANDLE);

    impl Engine {
        fn open_dynamic() -> Result<Engine, WfpError> {
            let mut name = wide("c2trie wfp_adapter");
            let session = FWPM_SESSION0 {
                flags: FWPM_SESSION_FLAG_DYNAMIC,
                displayData: display(&mut name, None),
                ..Default::default()
            };
            let mut handle: HANDLE = ptr::null_mut();
            // SAFETY: `session` and `name` outlive the call; a null server name and
            // identity select the local engine and the caller's credentials; `handle` is a
            // valid out-pointer.
            let rc = unsafe {
                FwpmEngineOpen0(
                    ptr::null(),
                    RPC_C_AUTHN_DEFAULT as u32,
                    ptr::null(),
                    &session,
                    &mut handle,
                )
            };
            check("FwpmEngineOpen0", rc)?;
            Ok(Engine(handle))
        }

        /// Runs `f` inside one transaction: committed if `f` succeeds, aborted otherwise.
        fn transaction<T>(
            &self,
            f: impl FnOnce(&Engine) -> Result<T, WfpError>,
        ) -> Result<T, WfpError> {
            // SAFETY: `self.0` is an open engine handle.
            check("FwpmTransactionBegin0", unsafe {
                FwpmTransactionBegin0(self.0, 0)
            })?;
            match f(self) {
                Ok(v) => {
                    // SAFETY: as above; a transaction is open on this handle.
                    check("FwpmTransactionCommit0", unsafe {
                        FwpmTransactionCommit0(self.0)
                    })?;
                    Ok(v)
                }
                Err(e) => {
                    // SAFETY: as above. The abort's own error is secondary to `e`.
                    let _ = unsafe { FwpmTransactionAbort0(self.0) };
                    Err(e)
                }
            }
        }

        fn add_provider_and_sublayer(&self) -> Result<(), WfpError> {
            let mut name = wide("c2trie");
            let mut desc = wide("C&C address lists compiled by c2trie");
            let provider = FWPM_PROVIDER0 {
                providerKey: PROVIDER,
                displayData: display(&mut name, Some(&mut desc)),
                ..Default::default()
            };
            // SAFETY: `provider` and the strings it points to outlive the call; a null
            // security descriptor takes the default.
            check("FwpmProviderAdd0", unsafe {
                FwpmProviderAdd0(self.0, &provider, ptr::null_mut())
            })?;
            let mut key = PROVIDER;
            let sub = FWPM_SUBLAYER0 {
                subLayerKey: SUBLAYER,
                displayData: display(&mut name, Some(&mut desc)),
                providerKey: &mut key,
                weight: 0x8000,
                ..Default::default()
            };
            // SAFETY: as above; `key` outlives the call.
            check("FwpmSubLayerAdd0", unsafe {
                FwpmSubLayerAdd0(self.0, &sub, ptr::null_mut())
            })
        }

        /// Adds one block filter; returns its id.
        fn add_filter(&self, f: &Filter) -> Result<u64, WfpError> {
            let layer = match f.layer {
                Layer::AleAuthConnectV4 => FWPM_LAYER_ALE_AUTH_CONNECT_V4,
                Layer::AleAuthRecvAcceptV4 => FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V4,
                Layer::AleAuthConnectV6 => FWPM_LAYER_ALE_AUTH_CONNECT_V6,
                Layer::AleAuthRecvAcceptV6 => FWPM_LAYER_ALE_AUTH_RECV_ACCEPT_V6,
            };
            // Every pointer below targets a local that lives until the end of this function.
            let mut v4 = FWP_V4_ADDR_AND_MASK::default();
            let mut v6 = FWP_V6_ADDR_AND_MASK::default();
            let mut range = FWP_RANGE0::default();
            let (mut lo16, mut hi16) = (FWP_BYTE_ARRAY16::default(), FWP_BYTE_ARRAY16::default());
            let mut cond = FWPM_FILTER_CONDITION0 {
                fieldKey: FWPM_CONDITION_IP_REMOTE_ADDRESS,
                matchType: FWP_MATCH_EQUAL,
                conditionValue: FWP_CONDITION_VALUE0::default(),
            };
            match f.remote {
                Remote::Prefix(IpNet::V4(n)) => {
                    // Host byte order, as FWP_V4_ADDR_AND_MASK requires.
                    v4.addr = u32::from(n.network());
                    v4.mask = u32::from(n.netmask());
                    cond.conditionValue.r#type = FWP_V4_ADDR_MASK;
                    cond.conditionValue.Anonymous.v4AddrMask = &mut v4;
                }
                Remote::Prefix(IpNet::V6(n)) => {
                    v6.addr = n.network().octets();
                    v6.prefixLength = n.prefix_len();
                    cond.conditionValue.r#type = FWP_V6_ADDR_MASK;
                    cond.conditionValue.Anonymous.v6AddrMask = &mut v6;
                }
                Remote::Range(IpAddr::V4(a), IpAddr::V4(b)) => {
                    range.valueLow.r#type = FWP_UINT32;
                    range.valueLow.Anonymous.uint32 = u32::from(a);
                    range.valueHigh.r#type = FWP_UINT32;
                    range.valueHigh.Anonymous.uint32 = u32::from(b);
                    cond.matchType = FWP_MATCH_RANGE;
                    cond.conditionValue.r#type = FWP_RANGE_TYPE;
                    cond.conditionValue.Anonymous.rangeValue = &mut range;
                }
                Remote::Range(a, b) => {
                    let (IpAddr::V6(a), IpAddr::V6(b)) = (a, b) else {
                        // A plan's ranges never mix families.
                        return Err(WfpError {
                            call: "range of mixed families",
                            code: 0x8007_0057, // E_INVALIDARG
                        });
                    };
                    lo16.byteArray16 = a.octets();
                    hi16.byteArray16 = b.octets();
                    range.valueLow.r#type = FWP_BYTE_ARRAY16_TYPE;
                    range.valueLow.Anonymous.byteArray16 = &mut lo16;
                    range.valueHigh.r#type = FWP_BYTE_ARRAY16_TYPE;
                    range.valueHigh.Anonymous.byteArray16 = &mut hi16;
                    cond.matchType = FWP_MATCH_RANGE;
                    cond.conditionValue.r#type = FWP_RANGE_TYPE;
                    cond.conditionValue.Anonymous.rangeValue = &mut range;
                }
            }
            let mut name = wide(&format!("c2trie block {}", f.remote));
            let mut provider = PROVIDER;
            let filter = FWPM_FILTER0 {
                displayData: display(&mut name, None),
                flags: FWPM_FILTER_FLAG_INDEXED | FWPM_FILTER_FLAG_CLEAR_ACTION_RIGHT,
                providerKey: &mut provider,
                layerKey: layer,
                subLayerKey: SUBLAYER,
                // FWP_EMPTY: the engine weighs the filter by its condition's specificity.
                weight: FWP_VALUE0 {
                    r#type: FWP_EMPTY,
                    ..Default::default()
                },
                numFilterConditions: 1,
                filterCondition: &mut cond,
                action: FWPM_ACTION0 {
                    r#type: FWP_ACTION_BLOCK,
                    ..Default::default()
                },
                ..Default::default()
            };
            let mut id = 0u64;
            // SAFETY: `filter` and everything it points to (condition, address structs,
            // name, provider key) are locals alive for the call; the engine copies them.
            check("FwpmFilterAdd0", unsafe {
                FwpmFilterAdd0(self.0, &filter, ptr::null_mut(), &mut id)
            })?;
            Ok(id)
        }

        fn delete_filter(&self, id: u64) -> Result<(), WfpError> {
            // SAFETY: an open engine handle and a filter id this session added.
            check("FwpmFilterDeleteById0", unsafe {
                FwpmFilterDeleteById0(self.0, id)
            })
        }

        fn get_u32_option(&self, option: FWPM_ENGINE_OPTION) -> Result<u32, WfpError> {
            let mut value: *mut FWP_VALUE0 = ptr::null_mut();
            // SAFETY: an open engine handle and a valid out-pointer.
            check("FwpmEngineGetOption0", unsafe {
                FwpmEngineGetOption0(self.0, option, &mut value)
            })?;
            if value.is_null() {
                return Err(WfpError {
                    call: "FwpmEngineGetOption0 (null value)",
                    code: 0x8000_4003, // E_POINTER
                });
            }
            // SAFETY: on success the engine returned a valid FWP_VALUE0.
            let v = unsafe { *value };
            let out = if v.r#type == FWP_UINT32 {
                // SAFETY: the type tag says the union holds `uint32`.
                Ok(unsafe { v.Anonymous.uint32 })
            } else {
                Err(WfpError {
                    call: "FwpmEngineGetOption0 (not a UINT32)",
                    code: v.r#type as u32,
                })
            };
            let mut p = value.cast::<c_void>();
            // SAFETY: `value` was allocated by the engine and is freed exactly once.
            unsafe { FwpmFreeMemory0(&mut p) };
            out
        }

        fn set_u32_option(&self, option: FWPM_ENGINE_OPTION, v: u32) -> Result<(), WfpError> {
            let value = FWP_VALUE0 {
                r#type: FWP_UINT32,
                Anonymous: FWP_VALUE0_0 { uint32: v },
            };
            // SAFETY: an open engine handle and a value alive for the call.
            check("FwpmEngineSetOption0", unsafe {
                FwpmEngineSetOption0(self.0, option, &value)
            })
        }
    }

    impl Drop for Engine {
        fn drop(&mut self) {
            // SAFETY: the handle was opened by FwpmEngineOpen0 and is closed once, here.
            let _ = unsafe { FwpmEngineClose0(self.0) };
        }
    }

    /// The filters installed, by their engine ids.
    #[derive(Default)]
    struct Installed {
        ids: HashMap<Filter, u64>,
    }

    impl Installed {
        /// Applies `diff` in one transaction; the id map changes only if it commits.
        fn apply(&mut self, engine: &Engine, diff: &PlanDiff) -> Result<Duration, WfpError> {
            let start = Instant::now();
            let added = engine.transaction(|e| {
                for f in &diff.delete {
                    if let Some(&id) = self.ids.get(f) {
                        e.delete_filter(id)?;
                    }
                }
                let mut added = Vec::with_capacity(diff.add.len());
                for f in &diff.add {
                    added.push((*f, e.add_filter(f)?));
                }
                Ok(added)
            })?;
            for f in &diff.delete {
                self.ids.remove(f);
            }
            self.ids.extend(added);
            Ok(start.elapsed())
        }
    }

    /// Ctrl-C, Ctrl-Break, console close, logoff and shutdown: ask the main loop to stop and
    /// clean up. For the events after which Windows ends the process when the handler
    /// returns, wait (up to 4 s) for the clean-up to finish first.
    unsafe extern "system" fn on_console(ctrl: u32) -> BOOL {
        STOP.store(true, Ordering::SeqCst);
        if ctrl != CTRL_C_EVENT && ctrl != CTRL_BREAK_EVENT {
            let until = Instant::now() + Duration::from_secs(4);
            while !CLEANED_UP.load(Ordering::SeqCst) && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        1
    }

    /// What the net-event callback needs; lives until after the subscription is closed.
    struct EventContext {
        live: Arc<LiveTable>,
        policy: Policy,
        limiter: Mutex<RateLimiter>,
    }

    /// The net-event callback (FWPM_NET_EVENT_CALLBACK1), on an engine thread.
    unsafe extern "system" fn on_net_event(context: *mut c_void, event: *const FWPM_NET_EVENT2) {
        if context.is_null() || event.is_null() {
            return;
        }
        // SAFETY: `context` is the leaked, never freed `EventContext` passed to
        // FwpmNetEventSubscribe1.
        let ctx = unsafe { &*(context as *const EventContext) };
        // SAFETY: the engine passes a valid event for the duration of the call.
        let ev = unsafe { &*event };
        // A panic must not unwind into the engine.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle(ctx, ev)));
    }

    fn handle(ctx: &EventContext, ev: &FWPM_NET_EVENT2) {
        if ev.r#type != FWPM_NET_EVENT_TYPE_CLASSIFY_ALLOW {
            return;
        }
        let h = &ev.header;
        let need = FWPM_NET_EVENT_FLAG_REMOTE_ADDR_SET | FWPM_NET_EVENT_FLAG_IP_VERSION_SET;
        if h.flags & need != need {
            return;
        }
        let remote = if h.ipVersion == FWP_IP_VERSION_V4 {
            // SAFETY: ipVersion says the union holds the IPv4 address (host order).
            IpAddr::V4(Ipv4Addr::from(unsafe { h.Anonymous2.remoteAddrV4 }))
        } else {
            // SAFETY: ipVersion says the union holds the IPv6 address.
            IpAddr::V6(Ipv6Addr::from(unsafe {
                h.Anonymous2.remoteAddrV6.byteArray16
            }))
        };
        let guard = ctx.live.load();
        let d = guard.decide(remote, &ctx.policy);
        if !matches!(d.verdict(), Verdict::Log | Verdict::Block) {
            return;
        }
        let set = |flag: u32| h.flags & flag != 0;
        let conn = Connection {
            remote_port: set(FWPM_NET_EVENT_FLAG_REMOTE_PORT_SET).then_some(h.remotePort),
            local_port: set(FWPM_NET_EVENT_FLAG_LOCAL_PORT_SET).then_some(h.localPort),
            transport: set(FWPM_NET_EVENT_FLAG_IP_PROTOCOL_SET).then(|| match h.ipProtocol {
                6 => "tcp".to_owned(),
                17 => "udp".to_owned(),
                p => p.to_string(),
            }),
            executable: set(FWPM_NET_EVENT_FLAG_APP_ID_SET).then(|| app_path(&h.appId)),
            ..Connection::default()
        };
        let mut event = MatchEvent::new(&d, &conn, SystemTime::now());
        let admit = ctx
            .limiter
            .lock()
            .map(|mut l| l.admit(&mut event, Instant::now()))
            .unwrap_or(true);
        if admit {
            println!("{}", event.to_json());
        }
    }

    /// The application id blob: a NUL-terminated UTF-16 NT path
    /// (`\device\harddiskvolume3\...\app.exe`).
    fn app_path(blob: &FWP_BYTE_BLOB) -> String {
        if blob.data.is_null() || blob.size < 2 {
            return String::new();
        }
        let bytes = {
            // SAFETY: the engine's blob holds `size` readable bytes at `data` for the
            // duration of the callback.
            unsafe { std::slice::from_raw_parts(blob.data, blob.size as usize) }
        };
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .take_while(|&u| u != 0)
            .collect();
        String::from_utf16_lossy(&units)
    }

    /// Log mode's engine state: saved options, the subscription and its context.
    struct Logging<'e> {
        engine: &'e Engine,
        saved: (u32, u32),
        subscription: HANDLE,
    }

    impl<'e> Logging<'e> {
        fn start(
            engine: &'e Engine,
            live: Arc<LiveTable>,
            policy: Policy,
        ) -> Result<Logging<'e>, WfpError> {
            let saved = (
                engine.get_u32_option(FWPM_ENGINE_COLLECT_NET_EVENTS)?,
                engine.get_u32_option(FWPM_ENGINE_NET_EVENT_MATCH_ANY_KEYWORDS)?,
            );
            eprintln!(
                "saved engine options: collect_net_events={} match_any_keywords=0x{:x} \
                 (restore by hand, if this process is killed: \
                 wfp_adapter --set-engine-options {},0x{:x})",
                saved.0, saved.1, saved.0, saved.1
            );
            let mut logging = Logging {
                engine,
                saved,
                subscription: ptr::null_mut(),
            };
            // From here on, dropping `logging` restores the options.
            engine.set_u32_option(FWPM_ENGINE_COLLECT_NET_EVENTS, 1)?;
            engine.set_u32_option(
                FWPM_ENGINE_NET_EVENT_MATCH_ANY_KEYWORDS,
                saved.1 | FWPM_NET_EVENT_KEYWORD_CLASSIFY_ALLOW,
            )?;
            let capacity = NonZeroUsize::new(65_536).unwrap_or(NonZeroUsize::MIN);
            // Leaked on purpose: the engine may still be running a callback when
            // FwpmNetEventUnsubscribe0 returns, so the context must outlive the subscription;
            // one small allocation for the life of the process.
            let context: &'static EventContext = Box::leak(Box::new(EventContext {
                live,
                policy,
                limiter: Mutex::new(RateLimiter::new(Duration::from_secs(60), capacity)),
            }));
            let subscription = FWPM_NET_EVENT_SUBSCRIPTION0::default(); // no template: all events
            let mut handle: HANDLE = ptr::null_mut();
            // SAFETY: `subscription` lives for the call; `context` is never freed; the
            // callback matches FWPM_NET_EVENT_CALLBACK1.
            check("FwpmNetEventSubscribe1", unsafe {
                FwpmNetEventSubscribe1(
                    engine.0,
                    &subscription,
                    Some(on_net_event),
                    ptr::from_ref(context).cast::<c_void>(),
                    &mut handle,
                )
            })?;
            logging.subscription = handle;
            Ok(logging)
        }
    }

    impl Drop for Logging<'_> {
        fn drop(&mut self) {
            if !self.subscription.is_null() {
                // SAFETY: a subscription handle from FwpmNetEventSubscribe1, closed once.
                let _ = unsafe { FwpmNetEventUnsubscribe0(self.engine.0, self.subscription) };
            }
            let (c, k) = self.saved;
            let r1 = self
                .engine
                .set_u32_option(FWPM_ENGINE_NET_EVENT_MATCH_ANY_KEYWORDS, k);
            let r2 = self
                .engine
                .set_u32_option(FWPM_ENGINE_COLLECT_NET_EVENTS, c);
            match (r1, r2) {
                (Ok(()), Ok(())) => eprintln!("engine options restored"),
                (r1, r2) => eprintln!(
                    "could not restore the engine options ({:?} {:?}): run \
                     wfp_adapter --set-engine-options {c},0x{k:x}",
                    r1.err(),
                    r2.err()
                ),
            }
        }
    }

    pub(super) fn run(args: &Args) -> Result<(), Box<dyn Error>> {
        if let Some((c, k)) = args.set_options {
            let engine = Engine::open_dynamic()?;
            engine.set_u32_option(FWPM_ENGINE_NET_EVENT_MATCH_ANY_KEYWORDS, k)?;
            engine.set_u32_option(FWPM_ENGINE_COLLECT_NET_EVENTS, c)?;
            eprintln!("engine options set: collect_net_events={c} match_any_keywords=0x{k:x}");
            return Ok(());
        }
        let path = table_path(args)?;
        let table = Table::read_file(path)?;
        let policy = policy(args);
        // SAFETY: `on_console` is a valid handler for the life of the process.
        if unsafe { SetConsoleCtrlHandler(Some(on_console), 1) } == 0 {
            return Err("SetConsoleCtrlHandler failed".into());
        }
        let engine = Engine::open_dynamic()?;
        let mut plan = Plan::new(&table, &policy, args.shape);
        let mut installed = Installed::default();
        let start = Instant::now();
        engine.transaction(|e| e.add_provider_and_sublayer())?;
        let took = installed.apply(&engine, &Plan::diff(&Plan::default(), &plan))?;
        eprintln!(
            "installed {} block filters in {:.1} ms (session {:.1} ms): {}",
            plan.len(),
            took.as_secs_f64() * 1e3,
            start.elapsed().as_secs_f64() * 1e3,
            summary(&plan, &table)
        );
        let live = Arc::new(LiveTable::new(table, FailMode::Open));
        let logging = if args.mode == Mode::LogOnly {
            Some(Logging::start(&engine, Arc::clone(&live), policy.clone())?)
        } else {
            None
        };
        let (tx, rx) = mpsc::channel();
        let _watcher = if args.watch {
            Some(live.watch(
                WatchTarget::File(path.clone()),
                ReloadMode::READ,
                args.interval,
                move |r| {
                    let _ = tx.send(r);
                },
            )?)
        } else {
            None
        };
        eprintln!("running; Ctrl-C to stop (the filters go with the session)");
        while !STOP.load(Ordering::SeqCst) {
            match rx.recv_timeout(Duration::from_millis(250)) {
                Ok(Ok(swapped)) => {
                    let guard = live.load();
                    let Some(t) = guard.table() else { continue };
                    let next = Plan::new(t, &policy, args.shape);
                    let diff = Plan::diff(&plan, &next);
                    match installed.apply(&engine, &diff) {
                        Ok(took) => {
                            eprintln!(
                                "list version {}: -{} +{} filters in {:.1} ms: {}",
                                swapped.list_version,
                                diff.delete.len(),
                                diff.add.len(),
                                took.as_secs_f64() * 1e3,
                                summary(&next, t)
                            );
                            plan = next;
                        }
                        // The transaction was aborted: the previous filters stay in force.
                        Err(e) => eprintln!("update not applied, previous filters kept: {e}"),
                    }
                }
                Ok(Err(e)) => eprintln!("reload refused, keeping the table in service: {e}"),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(Duration::from_millis(250));
                }
            }
        }
        eprintln!("stopping");
        drop(logging);
        drop(engine);
        CLEANED_UP.store(true, Ordering::SeqCst);
        Ok(())
    }
}
