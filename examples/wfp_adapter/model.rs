//! An in-process model of the WFP user-mode management API: the rules below, each from
//! Microsoft's documentation (the page is named beside the rule), and nothing else. It runs
//! on any OS, so the adapter's real call sequence can be checked in CI (`--simulate`).
//!
//! What it does not model: other providers' sublayers and filters (the built-in firewall's
//! among them), access checks, callouts, IPsec, and anything the adapter does not call.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::time::SystemTime;

use c2trie::wfp::{Filter, Layer};

use super::api::*;

/// Who added an object: `Some(session)` for a dynamic session, whose objects are deleted
/// when it ends; `None` for a persistent (non-dynamic) one.
type Owner = Option<usize>;

/// The engine's objects; cloned at `FwpmTransactionBegin0` so an abort can roll back.
#[derive(Debug, Clone, Default)]
struct Objects {
    provider: Option<Owner>,
    sublayer: Option<(u16, Owner)>,
    filters: BTreeMap<u64, (Filter, Owner)>,
}

#[derive(Debug)]
struct SessionState {
    dynamic: bool,
    /// The objects as they were when the open transaction began.
    txn: Option<Objects>,
}

/// How a connection was classified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Classified {
    /// The layer WFP evaluates.
    pub(crate) layer: Layer,
    /// The address that layer sees.
    pub(crate) remote: IpAddr,
    /// The blocking filter, if one matched.
    pub(crate) filter: Option<(u64, Filter)>,
}

/// The model's state.
pub(crate) struct Model {
    next: usize,
    next_filter: u64,
    sessions: HashMap<usize, SessionState>,
    /// Sessions that ended with the engine (a service restart).
    lost: HashSet<usize>,
    objects: Objects,
    collect: u32,
    keywords: u32,
    subscriptions: HashMap<usize, (usize, Sink)>,
    /// Calls whose next invocation fails with `RPC_S_CALL_FAILED`.
    fail: Vec<String>,
    /// Alerts sent: (title, text).
    pub(crate) alerts: Vec<(String, String)>,
}

impl Model {
    /// A freshly started engine: no objects, the documented option defaults
    /// (FwpmEngineSetOption0: `FWPM_ENGINE_COLLECT_NET_EVENTS` 1, "the default setting";
    /// `FWPM_ENGINE_NET_EVENT_MATCH_ANY_KEYWORDS` 0, "the default setting"). Each call named
    /// in `fail` fails once, its first time.
    pub(crate) fn new(fail: Vec<String>) -> Model {
        let mut m = Model {
            next: 1,
            next_filter: 1,
            sessions: HashMap::new(),
            lost: HashSet::new(),
            objects: Objects::default(),
            collect: 1,
            keywords: 0,
            subscriptions: HashMap::new(),
            fail: Vec::new(),
            alerts: Vec::new(),
        };
        for call in fail {
            m.fail_next(&call);
        }
        m
    }

    fn inject(&mut self, call: &str) -> Result<(), u32> {
        match self.fail.iter().position(|c| c == call) {
            Some(i) => {
                self.fail.remove(i);
                Err(RPC_S_CALL_FAILED)
            }
            None => Ok(()),
        }
    }

    /// The session, or the error a call on a closed or lost handle gets.
    fn session(&mut self, call: &str, s: Session) -> Result<&mut SessionState, u32> {
        self.inject(call)?;
        if self.lost.contains(&s.0) {
            // The RPC binding died with the service.
            return Err(RPC_S_SERVER_UNAVAILABLE);
        }
        self.sessions.get_mut(&s.0).ok_or(E_HANDLE)
    }

    fn owner(&mut self, call: &str, s: Session) -> Result<Owner, u32> {
        let st = self.session(call, s)?;
        Ok(st.dynamic.then_some(s.0))
    }

    /// Deletes what dynamic session `id` added.
    fn delete_owned(objects: &mut Objects, id: usize) {
        objects.filters.retain(|_, (_, o)| *o != Some(id));
        if objects.sublayer.is_some_and(|(_, o)| o == Some(id)) {
            objects.sublayer = None;
        }
        if objects.provider == Some(Some(id)) {
            objects.provider = None;
        }
    }

    /// The Base Filtering Engine restarts: every session ends (its handle fails from now
    /// on), dynamic objects go with their sessions, subscriptions end; persistent objects
    /// and the engine options, which are stored, stay.
    pub(crate) fn restart_engine(&mut self) {
        let ids: Vec<usize> = self.sessions.keys().copied().collect();
        for id in ids {
            if let Some(SessionState {
                txn: Some(before), ..
            }) = self.sessions.remove(&id)
            {
                self.objects = before;
            }
            Model::delete_owned(&mut self.objects, id);
            self.lost.insert(id);
        }
        self.subscriptions.clear();
    }

    /// Classifies an outbound connection to `remote` against the installed filters and
    /// delivers the net event Windows would, to every subscription.
    ///
    /// - Layer: an IPv4 address, or an IPv4-mapped IPv6 address on a dual-stack socket, is
    ///   classified at `FWPM_LAYER_ALE_AUTH_CONNECT_V4` with the IPv4 address ("Dual-Stack
    ///   Sockets for IPv6 Winsock Applications": such traffic is IPv4 on the wire); other
    ///   IPv6 addresses at `_V6`.
    /// - Arbitration ("Filter Arbitration"): sublayers from the highest weight down, within
    ///   one the matching filter of highest weight decides, "Block overrides Permit" and is
    ///   final. Ours is the only sublayer modelled; among our filters (weight `FWP_EMPTY`,
    ///   which "Filter Weight Assignment" turns into a weight from the conditions) the most
    ///   specific matching one decides. No match: permitted.
    /// - Net events (FwpmEngineSetOption0, FWPM_NET_EVENT_TYPE): a drop yields a
    ///   `CLASSIFY_DROP` event naming the filter while `FWPM_ENGINE_COLLECT_NET_EVENTS` is
    ///   1; an allowed connection yields a `CLASSIFY_ALLOW` event only when the keyword
    ///   `FWPM_NET_EVENT_KEYWORD_CLASSIFY_ALLOW` is set too.
    pub(crate) fn connect(&mut self, remote: IpAddr, port: u16, now: SystemTime) -> Classified {
        let remote = match remote {
            IpAddr::V6(a) => a.to_ipv4_mapped().map_or(remote, IpAddr::V4),
            a => a,
        };
        let layer = if remote.is_ipv6() {
            Layer::AleAuthConnectV6
        } else {
            Layer::AleAuthConnectV4
        };
        let filter = self
            .objects
            .filters
            .iter()
            .filter(|(_, (f, _))| f.layer == layer && f.remote.contains(remote))
            .min_by_key(|(_, (f, _))| {
                let (lo, hi) = f.remote.bounds();
                span(lo, hi)
            })
            .map(|(id, (f, _))| (*id, *f));
        let kind = match filter {
            Some((id, _)) => Some(NetEventKind::Drop { filter_id: id }),
            None if self.keywords & KEYWORD_CLASSIFY_ALLOW != 0 => Some(NetEventKind::Allow),
            None => None,
        };
        if let Some(kind) = kind.filter(|_| self.collect == 1) {
            let ev = NetEvent {
                kind,
                time: now,
                remote,
                remote_port: Some(port),
                local_port: Some(49_152),
                protocol: Some(6),
                app: Some("\\device\\harddiskvolume1\\windows\\system32\\example.exe".into()),
            };
            for (_, sink) in self.subscriptions.values() {
                sink(ev.clone());
            }
        }
        Classified {
            layer,
            remote,
            filter,
        }
    }

    /// Makes the next call of that name fail (`RPC_S_CALL_FAILED`).
    pub(crate) fn fail_next(&mut self, call: &str) {
        self.fail.push(call.to_owned());
    }

    /// The filters installed now.
    pub(crate) fn filter_count(&self) -> usize {
        self.objects.filters.len()
    }
}

fn span(lo: IpAddr, hi: IpAddr) -> u128 {
    let int = |a: IpAddr| match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    int(hi) - int(lo)
}

impl Wfp for Model {
    /// FwpmEngineOpen0 opens a session; FWPM_SESSION0: with `FWPM_SESSION_FLAG_DYNAMIC`,
    /// "any objects added during the session are automatically deleted when the session
    /// ends".
    fn engine_open(&mut self, dynamic: bool) -> Result<Session, u32> {
        self.inject("FwpmEngineOpen0")?;
        let id = self.next;
        self.next += 1;
        self.sessions
            .insert(id, SessionState { dynamic, txn: None });
        Ok(Session(id))
    }

    /// FwpmEngineClose0 ends the session: an open transaction is rolled back, a dynamic
    /// session's objects are deleted (FWPM_SESSION0), its subscriptions end.
    fn engine_close(&mut self, s: Session) -> Result<(), u32> {
        self.session("FwpmEngineClose0", s)?;
        if let Some(st) = self.sessions.remove(&s.0) {
            if let Some(before) = st.txn {
                self.objects = before;
            }
            if st.dynamic {
                Model::delete_owned(&mut self.objects, s.0);
            }
        }
        self.subscriptions.retain(|_, (owner, _)| *owner != s.0);
        Ok(())
    }

    /// FwpmTransactionBegin0: "This function cannot be called from within a transaction.
    /// It will fail with FWP_E_TXN_IN_PROGRESS." One transaction per session.
    fn transaction_begin(&mut self, s: Session) -> Result<(), u32> {
        let snapshot = self.objects.clone();
        let st = self.session("FwpmTransactionBegin0", s)?;
        if st.txn.is_some() {
            return Err(FWP_E_TXN_IN_PROGRESS);
        }
        st.txn = Some(snapshot);
        Ok(())
    }

    /// FwpmTransactionCommit0 commits the session's transaction; without one, the call
    /// must be made "from within an explicit transaction" (FWP_E_NO_TXN_IN_PROGRESS, "WFP
    /// Error Codes"). A failed commit leaves the transaction open: only an abort ends it.
    fn transaction_commit(&mut self, s: Session) -> Result<(), u32> {
        let st = self.session("FwpmTransactionCommit0", s)?;
        match st.txn.take() {
            Some(_) => Ok(()),
            None => Err(FWP_E_NO_TXN_IN_PROGRESS),
        }
    }

    /// FwpmTransactionAbort0 "causes the current transaction within the current session
    /// to abort and rollback".
    fn transaction_abort(&mut self, s: Session) -> Result<(), u32> {
        let st = self.session("FwpmTransactionAbort0", s)?;
        match st.txn.take() {
            Some(before) => {
                self.objects = before;
                Ok(())
            }
            None => Err(FWP_E_NO_TXN_IN_PROGRESS),
        }
    }

    /// FwpmProviderAdd0; a second provider with the same key: FWP_E_ALREADY_EXISTS.
    fn provider_add(&mut self, s: Session) -> Result<(), u32> {
        let owner = self.owner("FwpmProviderAdd0", s)?;
        if self.objects.provider.is_some() {
            return Err(FWP_E_ALREADY_EXISTS);
        }
        self.objects.provider = Some(owner);
        Ok(())
    }

    /// FwpmSubLayerAdd0; its provider must exist (FWP_E_PROVIDER_NOT_FOUND), its key must
    /// be new (FWP_E_ALREADY_EXISTS).
    fn sublayer_add(&mut self, s: Session, weight: u16) -> Result<(), u32> {
        let owner = self.owner("FwpmSubLayerAdd0", s)?;
        if self.objects.provider.is_none() {
            return Err(FWP_E_PROVIDER_NOT_FOUND);
        }
        if self.objects.sublayer.is_some() {
            return Err(FWP_E_ALREADY_EXISTS);
        }
        self.objects.sublayer = Some((weight, owner));
        Ok(())
    }

    /// FwpmSubLayerGetByKey0: FWP_E_SUBLAYER_NOT_FOUND when it is gone.
    fn sublayer_get(&mut self, s: Session) -> Result<(), u32> {
        self.session("FwpmSubLayerGetByKey0", s)?;
        self.objects
            .sublayer
            .map(|_| ())
            .ok_or(FWP_E_SUBLAYER_NOT_FOUND)
    }

    /// FwpmFilterAdd0: the sublayer (FWP_E_SUBLAYER_NOT_FOUND) and provider
    /// (FWP_E_PROVIDER_NOT_FOUND) it names must exist; the engine assigns the id.
    fn filter_add(&mut self, s: Session, f: &Filter) -> Result<u64, u32> {
        let owner = self.owner("FwpmFilterAdd0", s)?;
        if self.objects.provider.is_none() {
            return Err(FWP_E_PROVIDER_NOT_FOUND);
        }
        if self.objects.sublayer.is_none() {
            return Err(FWP_E_SUBLAYER_NOT_FOUND);
        }
        let id = self.next_filter;
        self.next_filter += 1;
        self.objects.filters.insert(id, (*f, owner));
        Ok(id)
    }

    /// FwpmFilterDeleteById0: FWP_E_FILTER_NOT_FOUND for an unknown id.
    fn filter_delete(&mut self, s: Session, id: u64) -> Result<(), u32> {
        self.session("FwpmFilterDeleteById0", s)?;
        self.objects
            .filters
            .remove(&id)
            .map(|_| ())
            .ok_or(FWP_E_FILTER_NOT_FOUND)
    }

    /// FwpmEngineGetOption0: any session.
    fn option_get(&mut self, s: Session, o: EngineOption) -> Result<u32, u32> {
        self.session("FwpmEngineGetOption0", s)?;
        Ok(match o {
            EngineOption::CollectNetEvents => self.collect,
            EngineOption::NetEventMatchAnyKeywords => self.keywords,
        })
    }

    /// FwpmEngineSetOption0: "This function cannot be called from within a transaction.
    /// It will fail with FWP_E_TXN_IN_PROGRESS." and "cannot be called from within a
    /// dynamic session. The call will fail with FWP_E_DYNAMIC_SESSION_IN_PROGRESS." The
    /// options are machine-wide and outlive the session.
    fn option_set(&mut self, s: Session, o: EngineOption, v: u32) -> Result<(), u32> {
        let st = self.session("FwpmEngineSetOption0", s)?;
        if st.txn.is_some() {
            return Err(FWP_E_TXN_IN_PROGRESS);
        }
        if st.dynamic {
            return Err(FWP_E_DYNAMIC_SESSION_IN_PROGRESS);
        }
        match o {
            EngineOption::CollectNetEvents => self.collect = v,
            EngineOption::NetEventMatchAnyKeywords => self.keywords = v,
        }
        Ok(())
    }

    /// FwpmNetEventSubscribe1: "This function cannot be called from within a transaction.
    /// It will fail with FWP_E_TXN_IN_PROGRESS."
    fn subscribe(&mut self, s: Session, sink: Sink) -> Result<Subscription, u32> {
        let st = self.session("FwpmNetEventSubscribe1", s)?;
        if st.txn.is_some() {
            return Err(FWP_E_TXN_IN_PROGRESS);
        }
        let id = self.next;
        self.next += 1;
        self.subscriptions.insert(id, (s.0, sink));
        Ok(Subscription(id))
    }

    /// FwpmNetEventUnsubscribe0: an unknown subscription is FWP_E_NOT_FOUND.
    fn unsubscribe(&mut self, s: Session, sub: Subscription) -> Result<(), u32> {
        self.session("FwpmNetEventUnsubscribe0", s)?;
        self.subscriptions
            .remove(&sub.0)
            .map(|_| ())
            .ok_or(FWP_E_NOT_FOUND)
    }

    /// WTSSendMessageW with `bWait` FALSE "returns immediately" (the response is IDASYNC).
    fn alert(&mut self, title: &str, text: &str) -> Result<(), u32> {
        self.inject("WTSSendMessageW")?;
        self.alerts.push((title.to_owned(), text.to_owned()));
        Ok(())
    }
}
