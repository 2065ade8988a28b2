//! [`Wfp`] over `fwpuclnt.dll`, and the Windows entry point.

use std::error::Error;
use std::ffi::c_void;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use c2trie::Table;
use c2trie::swap::{FailMode, LiveTable, ReloadMode, WatchTarget};
use c2trie::wfp::{Filter, Layer, Remote};
use ipnet::IpNet;
use windows_sys::Win32::Foundation::{ERROR_SUCCESS, HANDLE};
use windows_sys::Win32::NetworkManagement::WindowsFilteringPlatform::*;
use windows_sys::Win32::System::Console::{CTRL_BREAK_EVENT, CTRL_C_EVENT, SetConsoleCtrlHandler};
use windows_sys::Win32::System::RemoteDesktop::{
    WTS_CURRENT_SERVER_HANDLE, WTSGetActiveConsoleSessionId, WTSSendMessageW,
};
use windows_sys::Win32::System::Rpc::RPC_C_AUTHN_DEFAULT;
use windows_sys::Win32::UI::WindowsAndMessaging::{MB_ICONWARNING, MB_OK};
use windows_sys::core::{BOOL, GUID};

use super::adapter::Adapter;
use super::api::*;
use super::{Args, STOP, plan_options, policy, run_loop, set_engine_options, table_path};

/// Our provider and sublayer keys, the GUIDs {6c2b1e0a-4f3d-4a8e-9b57-c2712e000001} and
/// {...0002} (fixed, so that `netsh wfp show filters` output is recognisable across runs).
const PROVIDER: GUID = GUID::from_u128(0x6c2b_1e0a_4f3d_4a8e_9b57_c271_2e00_0001);
const SUBLAYER: GUID = GUID::from_u128(0x6c2b_1e0a_4f3d_4a8e_9b57_c271_2e00_0002);

static CLEANED_UP: AtomicBool = AtomicBool::new(false);

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

fn check(rc: u32) -> Result<(), u32> {
    if rc == ERROR_SUCCESS { Ok(()) } else { Err(rc) }
}

fn handle(s: Session) -> HANDLE {
    s.0 as HANDLE
}

/// `fwpuclnt.dll`. Subscription contexts are leaked on purpose: the engine may still be
/// running a callback when FwpmNetEventUnsubscribe0 returns, so a context must outlive its
/// subscription; one small allocation per subscription for the life of the process.
pub(crate) struct Fwpuclnt;

impl Wfp for Fwpuclnt {
    fn engine_open(&mut self, dynamic: bool) -> Result<Session, u32> {
        let mut name = wide("c2trie wfp_adapter");
        let session = FWPM_SESSION0 {
            flags: if dynamic {
                FWPM_SESSION_FLAG_DYNAMIC
            } else {
                0
            },
            displayData: display(&mut name, None),
            ..Default::default()
        };
        let mut h: HANDLE = ptr::null_mut();
        // SAFETY: `session` and `name` outlive the call; a null server name and identity
        // select the local engine and the caller's credentials; `h` is a valid out-pointer.
        check(unsafe {
            FwpmEngineOpen0(
                ptr::null(),
                RPC_C_AUTHN_DEFAULT as u32,
                ptr::null(),
                &session,
                &mut h,
            )
        })?;
        Ok(Session(h as usize))
    }

    fn engine_close(&mut self, s: Session) -> Result<(), u32> {
        // SAFETY: a handle from FwpmEngineOpen0, closed once by the adapter.
        check(unsafe { FwpmEngineClose0(handle(s)) })
    }

    fn transaction_begin(&mut self, s: Session) -> Result<(), u32> {
        // SAFETY: an open engine handle.
        check(unsafe { FwpmTransactionBegin0(handle(s), 0) })
    }

    fn transaction_commit(&mut self, s: Session) -> Result<(), u32> {
        // SAFETY: an open engine handle.
        check(unsafe { FwpmTransactionCommit0(handle(s)) })
    }

    fn transaction_abort(&mut self, s: Session) -> Result<(), u32> {
        // SAFETY: an open engine handle.
        check(unsafe { FwpmTransactionAbort0(handle(s)) })
    }

    fn provider_add(&mut self, s: Session) -> Result<(), u32> {
        let mut name = wide("c2trie");
        let mut desc = wide("C&C address lists compiled by c2trie");
        let provider = FWPM_PROVIDER0 {
            providerKey: PROVIDER,
            displayData: display(&mut name, Some(&mut desc)),
            ..Default::default()
        };
        // SAFETY: `provider` and the strings it points to outlive the call; a null
        // security descriptor takes the default.
        check(unsafe { FwpmProviderAdd0(handle(s), &provider, ptr::null_mut()) })
    }

    fn sublayer_add(&mut self, s: Session, weight: u16) -> Result<(), u32> {
        let mut name = wide("c2trie");
        let mut desc = wide("C&C address lists compiled by c2trie");
        let mut key = PROVIDER;
        let sub = FWPM_SUBLAYER0 {
            subLayerKey: SUBLAYER,
            displayData: display(&mut name, Some(&mut desc)),
            providerKey: &mut key,
            weight,
            ..Default::default()
        };
        // SAFETY: `sub`, the strings and `key` outlive the call.
        check(unsafe { FwpmSubLayerAdd0(handle(s), &sub, ptr::null_mut()) })
    }

    fn sublayer_get(&mut self, s: Session) -> Result<(), u32> {
        let mut out: *mut FWPM_SUBLAYER0 = ptr::null_mut();
        // SAFETY: an open engine handle, a key alive for the call, a valid out-pointer.
        check(unsafe { FwpmSubLayerGetByKey0(handle(s), &SUBLAYER, &mut out) })?;
        let mut p = out.cast::<c_void>();
        // SAFETY: allocated by the engine on success, freed exactly once.
        unsafe { FwpmFreeMemory0(&mut p) };
        Ok(())
    }

    fn filter_add(&mut self, s: Session, f: &Filter) -> Result<u64, u32> {
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
                    return Err(0x8007_0057); // E_INVALIDARG
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
        // SAFETY: `filter` and everything it points to (condition, address structs, name,
        // provider key) are locals alive for the call; the engine copies them.
        check(unsafe { FwpmFilterAdd0(handle(s), &filter, ptr::null_mut(), &mut id) })?;
        Ok(id)
    }

    fn filter_delete(&mut self, s: Session, id: u64) -> Result<(), u32> {
        // SAFETY: an open engine handle and a filter id this session added.
        check(unsafe { FwpmFilterDeleteById0(handle(s), id) })
    }

    fn option_get(&mut self, s: Session, o: EngineOption) -> Result<u32, u32> {
        let mut value: *mut FWP_VALUE0 = ptr::null_mut();
        // SAFETY: an open engine handle and a valid out-pointer.
        check(unsafe { FwpmEngineGetOption0(handle(s), option(o), &mut value) })?;
        if value.is_null() {
            return Err(0x8000_4003); // E_POINTER
        }
        // SAFETY: on success the engine returned a valid FWP_VALUE0.
        let v = unsafe { *value };
        let out = if v.r#type == FWP_UINT32 {
            // SAFETY: the type tag says the union holds `uint32`.
            Ok(unsafe { v.Anonymous.uint32 })
        } else {
            Err(0x8032_0016) // FWP_E_TYPE_MISMATCH
        };
        let mut p = value.cast::<c_void>();
        // SAFETY: `value` was allocated by the engine and is freed exactly once.
        unsafe { FwpmFreeMemory0(&mut p) };
        out
    }

    fn option_set(&mut self, s: Session, o: EngineOption, v: u32) -> Result<(), u32> {
        let value = FWP_VALUE0 {
            r#type: FWP_UINT32,
            Anonymous: FWP_VALUE0_0 { uint32: v },
        };
        // SAFETY: an open engine handle and a value alive for the call.
        check(unsafe { FwpmEngineSetOption0(handle(s), option(o), &value) })
    }

    fn subscribe(&mut self, s: Session, sink: Sink) -> Result<Subscription, u32> {
        let context: &'static Sink = Box::leak(Box::new(sink));
        let subscription = FWPM_NET_EVENT_SUBSCRIPTION0::default(); // no template: all events
        let mut h: HANDLE = ptr::null_mut();
        // SAFETY: `subscription` lives for the call; `context` is never freed; the callback
        // matches FWPM_NET_EVENT_CALLBACK1.
        check(unsafe {
            FwpmNetEventSubscribe1(
                handle(s),
                &subscription,
                Some(on_net_event),
                ptr::from_ref(context).cast::<c_void>(),
                &mut h,
            )
        })?;
        Ok(Subscription(h as usize))
    }

    fn unsubscribe(&mut self, s: Session, sub: Subscription) -> Result<(), u32> {
        // SAFETY: a subscription handle from FwpmNetEventSubscribe1, closed once.
        check(unsafe { FwpmNetEventUnsubscribe0(handle(s), sub.0 as HANDLE) })
    }

    fn alert(&mut self, title: &str, text: &str) -> Result<(), u32> {
        let t = wide(title);
        let m = wide(text);
        let mut response = 0;
        // SAFETY: no preconditions; 0xFFFFFFFF (no console session) makes the send fail.
        let console = unsafe { WTSGetActiveConsoleSessionId() };
        // SAFETY: the strings outlive the call; lengths are in bytes without the NUL; with
        // bWait FALSE the call returns at once (IDASYNC) and never waits for the user.
        let ok = unsafe {
            WTSSendMessageW(
                WTS_CURRENT_SERVER_HANDLE,
                console,
                t.as_ptr(),
                ((t.len() - 1) * 2) as u32,
                m.as_ptr(),
                ((m.len() - 1) * 2) as u32,
                MB_OK | MB_ICONWARNING,
                0,
                &mut response,
                0,
            )
        };
        if ok == 0 {
            // SAFETY: no preconditions.
            let e = unsafe { windows_sys::Win32::Foundation::GetLastError() };
            // HRESULT_FROM_WIN32.
            Err(match e {
                0 => 0x8000_4005, // E_FAIL: failed without a reason
                1..=0xFFFF => 0x8007_0000 | e,
                _ => e,
            })
        } else {
            Ok(())
        }
    }
}

fn option(o: EngineOption) -> FWPM_ENGINE_OPTION {
    match o {
        EngineOption::CollectNetEvents => FWPM_ENGINE_COLLECT_NET_EVENTS,
        EngineOption::NetEventMatchAnyKeywords => FWPM_ENGINE_NET_EVENT_MATCH_ANY_KEYWORDS,
    }
}

/// FILETIME (100 ns since 1601) to `SystemTime`.
fn filetime(t: windows_sys::Win32::Foundation::FILETIME) -> SystemTime {
    let ticks = (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime);
    const UNIX_EPOCH_TICKS: u64 = 116_444_736_000_000_000;
    let since = ticks.saturating_sub(UNIX_EPOCH_TICKS);
    UNIX_EPOCH + Duration::from_nanos(since.saturating_mul(100))
}

/// The net-event callback (FWPM_NET_EVENT_CALLBACK1), on an engine thread: copies what it
/// needs and hands it to the sink, which never blocks.
unsafe extern "system" fn on_net_event(context: *mut c_void, event: *const FWPM_NET_EVENT2) {
    if context.is_null() || event.is_null() {
        return;
    }
    // SAFETY: `context` is the leaked, never freed `Sink` passed to FwpmNetEventSubscribe1.
    let sink = unsafe { &*(context as *const Sink) };
    // SAFETY: the engine passes a valid event for the duration of the call.
    let ev = unsafe { &*event };
    // A panic must not unwind into the engine.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        if let Some(e) = copy_event(ev) {
            sink(e);
        }
    }));
}

fn copy_event(ev: &FWPM_NET_EVENT2) -> Option<NetEvent> {
    let kind = match ev.r#type {
        FWPM_NET_EVENT_TYPE_CLASSIFY_DROP => {
            // SAFETY: the type says the union holds `classifyDrop`.
            let drop = unsafe { ev.Anonymous.classifyDrop };
            if drop.is_null() {
                return None;
            }
            NetEventKind::Drop {
                // SAFETY: non-null, valid for the callback.
                filter_id: unsafe { (*drop).filterId },
            }
        }
        FWPM_NET_EVENT_TYPE_CLASSIFY_ALLOW => NetEventKind::Allow,
        _ => return None,
    };
    let h = &ev.header;
    let need = FWPM_NET_EVENT_FLAG_REMOTE_ADDR_SET | FWPM_NET_EVENT_FLAG_IP_VERSION_SET;
    if h.flags & need != need {
        return None;
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
    let set = |flag: u32| h.flags & flag != 0;
    Some(NetEvent {
        kind,
        time: filetime(h.timeStamp),
        remote,
        remote_port: set(FWPM_NET_EVENT_FLAG_REMOTE_PORT_SET).then_some(h.remotePort),
        local_port: set(FWPM_NET_EVENT_FLAG_LOCAL_PORT_SET).then_some(h.localPort),
        protocol: set(FWPM_NET_EVENT_FLAG_IP_PROTOCOL_SET).then_some(h.ipProtocol),
        app: set(FWPM_NET_EVENT_FLAG_APP_ID_SET).then(|| app_path(&h.appId)),
    })
}

/// The application id blob: a NUL-terminated UTF-16 NT path.
fn app_path(blob: &FWP_BYTE_BLOB) -> String {
    if blob.data.is_null() || blob.size < 2 {
        return String::new();
    }
    // SAFETY: the engine's blob holds `size` readable bytes at `data` for the callback.
    let bytes = unsafe { std::slice::from_raw_parts(blob.data, blob.size as usize) };
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// Ctrl-C, Ctrl-Break, console close, logoff and shutdown: ask the main loop to stop and
/// clean up. For the events after which Windows ends the process when the handler returns,
/// wait (up to 4 s) for the clean-up to finish first.
unsafe extern "system" fn on_console(ctrl: u32) -> BOOL {
    STOP.store(true, Ordering::SeqCst);
    if ctrl != CTRL_C_EVENT && ctrl != CTRL_BREAK_EVENT {
        let until = std::time::Instant::now() + Duration::from_secs(4);
        while !CLEANED_UP.load(Ordering::SeqCst) && std::time::Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    1
}

pub(super) fn run(args: &Args) -> Result<(), Box<dyn Error>> {
    let out: Out = Arc::new(Mutex::new(Box::new(std::io::stdout())));
    if let Some(v) = args.set_options {
        return Ok(set_engine_options(&mut Fwpuclnt, v)?);
    }
    let path = table_path(args)?;
    let table = Table::read_file(path)?;
    // SAFETY: `on_console` is a valid handler for the life of the process.
    if unsafe { SetConsoleCtrlHandler(Some(on_console), 1) } == 0 {
        return Err("SetConsoleCtrlHandler failed".into());
    }
    let live = Arc::new(LiveTable::new(table, FailMode::Open));
    let mut a = Adapter::new(
        Fwpuclnt,
        out,
        args.mode,
        policy(args),
        plan_options(args),
        Arc::clone(&live),
    );
    if let Err(e) = a.set_options().and_then(|()| a.start()) {
        let _ = a.shutdown();
        CLEANED_UP.store(true, Ordering::SeqCst);
        return Err(format!("could not start: {e}").into());
    }
    let (tx, rx) = mpsc::channel();
    let watcher = if args.watch {
        live.watch(
            WatchTarget::File(path.clone()),
            ReloadMode::READ,
            args.interval,
            move |r| {
                let _ = tx.send(r);
            },
        )
        .map(Some)
    } else {
        drop(tx);
        Ok(None)
    };
    let _watcher = match watcher {
        Ok(w) => w,
        Err(e) => {
            let _ = a.shutdown();
            CLEANED_UP.store(true, Ordering::SeqCst);
            return Err(e.into());
        }
    };
    eprintln!("running; Ctrl-C to stop (the filters go with the session)");
    run_loop(&mut a, rx, args.interval);
    eprintln!("stopping");
    let r = a.shutdown();
    CLEANED_UP.store(true, Ordering::SeqCst);
    Ok(r?)
}
