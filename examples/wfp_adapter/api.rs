//! The WFP user-mode calls the adapter makes, behind one interface with two
//! implementations: `fwpuclnt.dll` on Windows (`windows.rs`) and an in-process model of the
//! documented rules (`model.rs`). `Traced` wraps either and prints each call as a JSON line.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use c2trie::wfp::Filter;

/// `ERROR_SUCCESS`.
pub(crate) const OK: u32 = 0;
/// `FWP_E_FILTER_NOT_FOUND`: the filter does not exist.
pub(crate) const FWP_E_FILTER_NOT_FOUND: u32 = 0x8032_0003;
/// `FWP_E_PROVIDER_NOT_FOUND`: the provider does not exist.
pub(crate) const FWP_E_PROVIDER_NOT_FOUND: u32 = 0x8032_0005;
/// `FWP_E_SUBLAYER_NOT_FOUND`: the sublayer does not exist.
pub(crate) const FWP_E_SUBLAYER_NOT_FOUND: u32 = 0x8032_0007;
/// `FWP_E_NOT_FOUND`: the object does not exist.
pub(crate) const FWP_E_NOT_FOUND: u32 = 0x8032_0008;
/// `FWP_E_ALREADY_EXISTS`: an object with that GUID or LUID already exists.
pub(crate) const FWP_E_ALREADY_EXISTS: u32 = 0x8032_0009;
/// `FWP_E_DYNAMIC_SESSION_IN_PROGRESS`: not allowed from within a dynamic session.
pub(crate) const FWP_E_DYNAMIC_SESSION_IN_PROGRESS: u32 = 0x8032_000B;
/// `FWP_E_NO_TXN_IN_PROGRESS`: must be called from within an explicit transaction.
pub(crate) const FWP_E_NO_TXN_IN_PROGRESS: u32 = 0x8032_000D;
/// `FWP_E_TXN_IN_PROGRESS`: not allowed from within an explicit transaction.
pub(crate) const FWP_E_TXN_IN_PROGRESS: u32 = 0x8032_000E;
/// `ERROR_INVALID_HANDLE` as an HRESULT.
pub(crate) const E_HANDLE: u32 = 0x8007_0006;
/// `RPC_S_SERVER_UNAVAILABLE` as an HRESULT: the Base Filtering Engine is gone.
pub(crate) const RPC_S_SERVER_UNAVAILABLE: u32 = 0x8007_06BA;
/// `RPC_S_CALL_FAILED` as an HRESULT: the code the model's injected failures return.
pub(crate) const RPC_S_CALL_FAILED: u32 = 0x8007_06BE;

/// `FWPM_NET_EVENT_KEYWORD_CLASSIFY_ALLOW`: also collect events for allowed connections.
pub(crate) const KEYWORD_CLASSIFY_ALLOW: u32 = 16;

/// The sublayer weight: the highest, so that no sublayer is evaluated before ours.
pub(crate) const SUBLAYER_WEIGHT: u16 = 0xFFFF;

/// An open session with the filter engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Session(pub usize);

/// A net-event subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Subscription(pub usize);

/// An engine option the adapter reads and writes (`FWPM_ENGINE_OPTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EngineOption {
    /// `FWPM_ENGINE_COLLECT_NET_EVENTS`: 1 to collect net events (the default), 0 not to.
    CollectNetEvents,
    /// `FWPM_ENGINE_NET_EVENT_MATCH_ANY_KEYWORDS`: which optional events are collected.
    NetEventMatchAnyKeywords,
}

impl EngineOption {
    /// The Win32 name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            EngineOption::CollectNetEvents => "FWPM_ENGINE_COLLECT_NET_EVENTS",
            EngineOption::NetEventMatchAnyKeywords => "FWPM_ENGINE_NET_EVENT_MATCH_ANY_KEYWORDS",
        }
    }
}

/// What a net event reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NetEventKind {
    /// `FWPM_NET_EVENT_TYPE_CLASSIFY_DROP`, with the id of the filter that dropped.
    Drop { filter_id: u64 },
    /// `FWPM_NET_EVENT_TYPE_CLASSIFY_ALLOW`.
    Allow,
}

/// One net event, copied out of the engine's structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetEvent {
    /// Drop or allow.
    pub(crate) kind: NetEventKind,
    /// The event header's `timeStamp`: when the engine classified the connection.
    pub(crate) time: SystemTime,
    /// The remote address, as the layer saw it.
    pub(crate) remote: IpAddr,
    /// The remote port, when set.
    pub(crate) remote_port: Option<u16>,
    /// The local port, when set.
    pub(crate) local_port: Option<u16>,
    /// The IP protocol number, when set.
    pub(crate) protocol: Option<u8>,
    /// The application's NT path, when set.
    pub(crate) app: Option<String>,
}

/// Where net events go. Called on an engine thread: it must not block.
pub(crate) type Sink = Arc<dyn Fn(NetEvent) + Send + Sync>;

/// A failed call: its Win32 name and its error code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WfpError {
    pub(crate) call: &'static str,
    pub(crate) code: u32,
}

impl fmt::Display for WfpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: error 0x{:08x}", self.call, self.code)
    }
}

impl std::error::Error for WfpError {}

impl WfpError {
    /// Whether the code says the engine (or our session with it) is gone, as after a
    /// restart of the Base Filtering Engine service.
    pub(crate) fn engine_lost(&self) -> bool {
        // Win32 RPC status (1700-1900) and ERROR_INVALID_HANDLE, raw or as an HRESULT;
        // the RPC_* HRESULT range the WFP pages give (0x80010001-0x80010122).
        let win32 = |c: u32| c == 6 || (1700..=1900).contains(&c);
        let c = self.code;
        win32(c)
            || (c & 0xFFFF_0000 == 0x8007_0000 && win32(c & 0xFFFF))
            || (0x8001_0001..=0x8001_0122).contains(&c)
    }
}

/// The WFP management calls the adapter uses. Each method is one Win32 call, named in its
/// doc; errors are the call's return code.
pub(crate) trait Wfp {
    /// `FwpmEngineOpen0`, with `FWPM_SESSION_FLAG_DYNAMIC` when `dynamic`.
    fn engine_open(&mut self, dynamic: bool) -> Result<Session, u32>;
    /// `FwpmEngineClose0`.
    fn engine_close(&mut self, s: Session) -> Result<(), u32>;
    /// `FwpmTransactionBegin0` (read/write).
    fn transaction_begin(&mut self, s: Session) -> Result<(), u32>;
    /// `FwpmTransactionCommit0`.
    fn transaction_commit(&mut self, s: Session) -> Result<(), u32>;
    /// `FwpmTransactionAbort0`.
    fn transaction_abort(&mut self, s: Session) -> Result<(), u32>;
    /// `FwpmProviderAdd0`: the provider "c2trie".
    fn provider_add(&mut self, s: Session) -> Result<(), u32>;
    /// `FwpmSubLayerAdd0`: our sublayer, with `weight`.
    fn sublayer_add(&mut self, s: Session, weight: u16) -> Result<(), u32>;
    /// `FwpmSubLayerGetByKey0`: whether our sublayer is still there (a health check).
    fn sublayer_get(&mut self, s: Session) -> Result<(), u32>;
    /// `FwpmFilterAdd0`: a block filter in our sublayer; returns its id.
    fn filter_add(&mut self, s: Session, f: &Filter) -> Result<u64, u32>;
    /// `FwpmFilterDeleteById0`.
    fn filter_delete(&mut self, s: Session, id: u64) -> Result<(), u32>;
    /// `FwpmEngineGetOption0`, a `FWP_UINT32` option.
    fn option_get(&mut self, s: Session, o: EngineOption) -> Result<u32, u32>;
    /// `FwpmEngineSetOption0`, a `FWP_UINT32` option.
    fn option_set(&mut self, s: Session, o: EngineOption, v: u32) -> Result<(), u32>;
    /// `FwpmNetEventSubscribe1`, every event delivered to `sink`.
    fn subscribe(&mut self, s: Session, sink: Sink) -> Result<Subscription, u32>;
    /// `FwpmNetEventUnsubscribe0`.
    fn unsubscribe(&mut self, s: Session, sub: Subscription) -> Result<(), u32>;
    /// `WTSSendMessageW` to the active console session, not waiting for an answer.
    fn alert(&mut self, title: &str, text: &str) -> Result<(), u32>;
}

/// Shared output: trace lines and event records, one JSON object per line.
pub(crate) type Out = Arc<Mutex<Box<dyn Write + Send>>>;

/// Writes one line to `out`; a closed or full output loses the line, never blocks the
/// caller on a poisoned lock.
pub(crate) fn emit(out: &Out, line: &str) {
    if let Ok(mut w) = out.lock() {
        let _ = writeln!(w, "{line}");
        let _ = w.flush();
    }
}

/// A [`Wfp`] that prints every call as a JSON line: `call`, `result` (`"0x%08x"`),
/// `dynamic` and `txn` (the session's state when the call was made), and per call
/// `weight`, `layer` / `action` / `remote`, or `option` / `value`.
pub(crate) struct Traced<W> {
    pub(crate) inner: W,
    out: Out,
    /// Per session: dynamic, transaction open.
    state: HashMap<Session, (bool, bool)>,
}

impl<W: Wfp> Traced<W> {
    pub(crate) fn new(inner: W, out: Out) -> Traced<W> {
        Traced {
            inner,
            out,
            state: HashMap::new(),
        }
    }

    /// A line for a call on session `s`, with the session's state.
    fn line(
        &self,
        call: &str,
        code: u32,
        s: Option<Session>,
        extra: serde_json::Map<String, serde_json::Value>,
    ) {
        let state = s
            .and_then(|s| self.state.get(&s).copied())
            .unwrap_or_default();
        self.line_as(call, code, state, extra);
    }

    /// A line with the given `(dynamic, txn)` state.
    fn line_as(
        &self,
        call: &str,
        code: u32,
        (dynamic, txn): (bool, bool),
        extra: serde_json::Map<String, serde_json::Value>,
    ) {
        let mut m = serde_json::Map::new();
        m.insert("call".into(), call.into());
        m.insert("result".into(), format!("0x{code:08x}").into());
        m.insert("dynamic".into(), dynamic.into());
        m.insert("txn".into(), txn.into());
        m.extend(extra);
        emit(&self.out, &serde_json::Value::Object(m).to_string());
    }

    fn code<T>(r: &Result<T, u32>) -> u32 {
        r.as_ref().err().copied().unwrap_or(OK)
    }

    fn set_txn(&mut self, s: Session, open: bool) {
        if let Some(st) = self.state.get_mut(&s) {
            st.1 = open;
        }
    }
}

macro_rules! extra {
    ($($k:literal => $v:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut m = serde_json::Map::new();
        $( m.insert($k.into(), serde_json::Value::from($v)); )*
        m
    }};
}

impl<W: Wfp> Wfp for Traced<W> {
    fn engine_open(&mut self, dynamic: bool) -> Result<Session, u32> {
        let r = self.inner.engine_open(dynamic);
        if let Ok(s) = r {
            self.state.insert(s, (dynamic, false));
        }
        // `dynamic` is the flag asked for, whether or not a session was opened.
        self.line_as(
            "FwpmEngineOpen0",
            Self::code(&r),
            (dynamic, false),
            extra! {},
        );
        r
    }
    fn engine_close(&mut self, s: Session) -> Result<(), u32> {
        let r = self.inner.engine_close(s);
        self.line("FwpmEngineClose0", Self::code(&r), Some(s), extra! {});
        self.state.remove(&s);
        r
    }
    fn transaction_begin(&mut self, s: Session) -> Result<(), u32> {
        let r = self.inner.transaction_begin(s);
        self.line("FwpmTransactionBegin0", Self::code(&r), Some(s), extra! {});
        if r.is_ok() {
            self.set_txn(s, true);
        }
        r
    }
    fn transaction_commit(&mut self, s: Session) -> Result<(), u32> {
        let r = self.inner.transaction_commit(s);
        self.line("FwpmTransactionCommit0", Self::code(&r), Some(s), extra! {});
        if r.is_ok() {
            self.set_txn(s, false);
        }
        r
    }
    fn transaction_abort(&mut self, s: Session) -> Result<(), u32> {
        let r = self.inner.transaction_abort(s);
        self.line("FwpmTransactionAbort0", Self::code(&r), Some(s), extra! {});
        if r.is_ok() {
            self.set_txn(s, false);
        }
        r
    }
    fn provider_add(&mut self, s: Session) -> Result<(), u32> {
        let r = self.inner.provider_add(s);
        self.line("FwpmProviderAdd0", Self::code(&r), Some(s), extra! {});
        r
    }
    fn sublayer_add(&mut self, s: Session, weight: u16) -> Result<(), u32> {
        let r = self.inner.sublayer_add(s, weight);
        self.line(
            "FwpmSubLayerAdd0",
            Self::code(&r),
            Some(s),
            extra! {"weight" => weight},
        );
        r
    }
    fn sublayer_get(&mut self, s: Session) -> Result<(), u32> {
        let r = self.inner.sublayer_get(s);
        self.line("FwpmSubLayerGetByKey0", Self::code(&r), Some(s), extra! {});
        r
    }
    fn filter_add(&mut self, s: Session, f: &Filter) -> Result<u64, u32> {
        let r = self.inner.filter_add(s, f);
        let mut x = extra! {
            "layer" => f.layer.as_str(),
            "action" => Filter::ACTION,
            "remote" => f.remote.to_string(),
        };
        if let Ok(id) = r {
            x.insert("id".into(), id.into());
        }
        self.line("FwpmFilterAdd0", Self::code(&r), Some(s), x);
        r
    }
    fn filter_delete(&mut self, s: Session, id: u64) -> Result<(), u32> {
        let r = self.inner.filter_delete(s, id);
        self.line(
            "FwpmFilterDeleteById0",
            Self::code(&r),
            Some(s),
            extra! {"id" => id},
        );
        r
    }
    fn option_get(&mut self, s: Session, o: EngineOption) -> Result<u32, u32> {
        let r = self.inner.option_get(s, o);
        let mut x = extra! {"option" => o.name()};
        if let Ok(v) = r {
            x.insert("value".into(), v.into());
        }
        self.line("FwpmEngineGetOption0", Self::code(&r), Some(s), x);
        r
    }
    fn option_set(&mut self, s: Session, o: EngineOption, v: u32) -> Result<(), u32> {
        let r = self.inner.option_set(s, o, v);
        self.line(
            "FwpmEngineSetOption0",
            Self::code(&r),
            Some(s),
            extra! {"option" => o.name(), "value" => v},
        );
        r
    }
    fn subscribe(&mut self, s: Session, sink: Sink) -> Result<Subscription, u32> {
        let r = self.inner.subscribe(s, sink);
        self.line("FwpmNetEventSubscribe1", Self::code(&r), Some(s), extra! {});
        r
    }
    fn unsubscribe(&mut self, s: Session, sub: Subscription) -> Result<(), u32> {
        let r = self.inner.unsubscribe(s, sub);
        self.line(
            "FwpmNetEventUnsubscribe0",
            Self::code(&r),
            Some(s),
            extra! {},
        );
        r
    }
    fn alert(&mut self, title: &str, text: &str) -> Result<(), u32> {
        let r = self.inner.alert(title, text);
        self.line(
            "WTSSendMessageW",
            Self::code(&r),
            None,
            extra! {"title" => title, "text" => text, "wait" => false},
        );
        r
    }
}
