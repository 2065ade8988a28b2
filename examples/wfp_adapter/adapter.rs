//! What the adapter does with the filter engine, written once against [`Wfp`]: the same
//! code runs on Windows and, under `--simulate`, against the model.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant};

use c2trie::event::Connection;
use c2trie::swap::LiveTable;
use c2trie::wfp::{Filter, Plan, PlanOptions};
use c2trie::{MatchEvent, Mode, Policy, RateLimiter, Verdict};

use super::api::*;

/// How many net events wait for the main thread before new ones are dropped (and counted).
const EVENT_QUEUE: usize = 4096;

/// How often one address may raise an alert.
const ALERT_INTERVAL: Duration = Duration::from_secs(60);

/// Engine options changed at start, to restore at exit: (option, previous value).
type Saved = Vec<(EngineOption, u32)>;

/// The adapter's state over an engine `W`.
pub(crate) struct Adapter<W: Wfp> {
    pub(crate) api: W,
    out: Out,
    mode: Mode,
    policy: Policy,
    options: PlanOptions,
    live: Arc<LiveTable>,
    /// The dynamic session holding provider, sublayer and filters.
    engine: Option<Session>,
    subscription: Option<Subscription>,
    /// Installed filters and their ids, both ways.
    ids: HashMap<Filter, u64>,
    by_id: HashMap<u64, Filter>,
    /// What is installed, and what should be.
    plan: Plan,
    want: Plan,
    saved: Saved,
    events: (SyncSender<NetEvent>, Receiver<NetEvent>),
    dropped: Arc<AtomicU64>,
    limiter: RateLimiter,
    alerted: HashMap<IpAddr, Instant>,
    /// Applies that failed (each retried later).
    pub(crate) failures: usize,
}

impl<W: Wfp> Adapter<W> {
    pub(crate) fn new(
        api: W,
        out: Out,
        mode: Mode,
        policy: Policy,
        options: PlanOptions,
        live: Arc<LiveTable>,
    ) -> Adapter<W> {
        let want = live
            .load()
            .table()
            .map(|t| Plan::with_options(t, &policy, &options))
            .unwrap_or_default();
        let capacity = NonZeroUsize::new(65_536).unwrap_or(NonZeroUsize::MIN);
        Adapter {
            api,
            out,
            mode,
            policy,
            options,
            live,
            engine: None,
            subscription: None,
            ids: HashMap::new(),
            by_id: HashMap::new(),
            plan: Plan::default(),
            want,
            saved: Vec::new(),
            events: sync_channel(EVENT_QUEUE),
            dropped: Arc::new(AtomicU64::new(0)),
            limiter: RateLimiter::new(Duration::from_secs(60), capacity),
            alerted: HashMap::new(),
            failures: 0,
        }
    }

    /// The plan installed now.
    pub(crate) fn plan(&self) -> &Plan {
        &self.plan
    }

    /// The engine options this mode needs: net events collected (drops, for block
    /// alerts), and in log mode allowed connections too.
    fn needed(&self, collect: u32, keywords: u32) -> [(EngineOption, u32, u32); 2] {
        let k = if self.mode == Mode::LogOnly {
            keywords | KEYWORD_CLASSIFY_ALLOW
        } else {
            keywords
        };
        [
            (EngineOption::CollectNetEvents, collect, 1),
            (EngineOption::NetEventMatchAnyKeywords, keywords, k),
        ]
    }

    /// Sets the engine options this mode needs on a **non-dynamic** session outside any
    /// transaction (FwpmEngineSetOption0 refuses both), remembering the old values.
    pub(crate) fn set_options(&mut self) -> Result<(), WfpError> {
        let s = self
            .api
            .engine_open(false)
            .map_err(err("FwpmEngineOpen0"))?;
        let r = (|| {
            let collect = self
                .api
                .option_get(s, EngineOption::CollectNetEvents)
                .map_err(err("FwpmEngineGetOption0"))?;
            let keywords = self
                .api
                .option_get(s, EngineOption::NetEventMatchAnyKeywords)
                .map_err(err("FwpmEngineGetOption0"))?;
            for (o, old, new) in self.needed(collect, keywords) {
                if old != new && !self.saved.iter().any(|(x, _)| *x == o) {
                    eprintln!(
                        "engine option {} {old} -> {new} (machine-wide, restored at exit; \
                         if this process is killed, restore it with \
                         wfp_adapter --set-engine-options)",
                        o.name()
                    );
                    self.api
                        .option_set(s, o, new)
                        .map_err(err("FwpmEngineSetOption0"))?;
                    self.saved.push((o, old));
                }
            }
            Ok(())
        })();
        let _ = self.api.engine_close(s);
        r
    }

    /// Writes the saved option values back, on a non-dynamic session.
    pub(crate) fn restore_options(&mut self) -> Result<(), WfpError> {
        if self.saved.is_empty() {
            return Ok(());
        }
        let s = self
            .api
            .engine_open(false)
            .map_err(err("FwpmEngineOpen0"))?;
        let mut r = Ok(());
        // In reverse: the keywords before the collection switch.
        for (o, v) in self.saved.iter().rev() {
            if let Err(code) = self.api.option_set(s, *o, *v) {
                r = Err(WfpError {
                    call: "FwpmEngineSetOption0",
                    code,
                });
            }
        }
        let _ = self.api.engine_close(s);
        if r.is_ok() {
            eprintln!("engine options restored");
            self.saved.clear();
        }
        r
    }

    /// Runs `f` in one transaction of the dynamic session: committed if `f` and the commit
    /// succeed, aborted otherwise (a failed commit included), so nothing is half-applied.
    fn transaction<T>(
        &mut self,
        f: impl FnOnce(&mut Self, Session) -> Result<T, WfpError>,
    ) -> Result<T, WfpError> {
        let s = self.engine.ok_or(WfpError {
            call: "FwpmEngineOpen0",
            code: E_HANDLE,
        })?;
        self.api
            .transaction_begin(s)
            .map_err(err("FwpmTransactionBegin0"))?;
        let r = f(self, s).and_then(|v| {
            self.api
                .transaction_commit(s)
                .map(|()| v)
                .map_err(err("FwpmTransactionCommit0"))
        });
        if r.is_err() {
            let _ = self.api.transaction_abort(s);
        }
        r
    }

    /// Opens the dynamic session, adds provider and sublayer (weight 0xFFFF), installs the
    /// plan and subscribes to net events. On error, what was added goes with the session.
    pub(crate) fn start(&mut self) -> Result<(), WfpError> {
        let s = self.api.engine_open(true).map_err(err("FwpmEngineOpen0"))?;
        self.engine = Some(s);
        let r = self.install(s);
        if r.is_err() {
            // Half an installation is none: closing the dynamic session deletes what it
            // added, and the next `check_engine` starts again from nothing.
            self.forget_session();
        }
        r
    }

    fn install(&mut self, s: Session) -> Result<(), WfpError> {
        self.transaction(|a, s| {
            a.api.provider_add(s).map_err(err("FwpmProviderAdd0"))?;
            a.api
                .sublayer_add(s, SUBLAYER_WEIGHT)
                .map_err(err("FwpmSubLayerAdd0"))
        })?;
        self.sync()?;
        let tx = self.events.0.clone();
        let dropped = Arc::clone(&self.dropped);
        let sink: Sink = Arc::new(move |ev| {
            // Never block the engine's thread: a full queue drops (and counts) the event.
            if let Err(TrySendError::Full(_)) = tx.try_send(ev) {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        });
        let sub = self
            .api
            .subscribe(s, sink)
            .map_err(err("FwpmNetEventSubscribe1"))?;
        self.subscription = Some(sub);
        Ok(())
    }

    /// Closes the dynamic session (if the engine still knows it, that deletes everything
    /// it added) and forgets what it held.
    fn forget_session(&mut self) {
        if let Some(s) = self.engine.take() {
            let _ = self.api.engine_close(s);
        }
        self.subscription = None;
        self.ids.clear();
        self.by_id.clear();
        self.plan = Plan::default();
    }

    /// Makes the installed filters follow the table in service: one transaction with the
    /// plan diff. On failure nothing changes and the next call retries.
    pub(crate) fn sync(&mut self) -> Result<(), WfpError> {
        if self.want == self.plan {
            return Ok(());
        }
        let diff = Plan::diff(&self.plan, &self.want);
        let t0 = Instant::now();
        let r = self.transaction(|a, s| {
            for f in &diff.delete {
                if let Some(&id) = a.ids.get(f) {
                    a.api
                        .filter_delete(s, id)
                        .map_err(err("FwpmFilterDeleteById0"))?;
                }
            }
            let mut added = Vec::with_capacity(diff.add.len());
            for f in &diff.add {
                added.push((*f, a.api.filter_add(s, f).map_err(err("FwpmFilterAdd0"))?));
            }
            Ok(added)
        });
        match r {
            Ok(added) => {
                for f in &diff.delete {
                    if let Some(id) = self.ids.remove(f) {
                        self.by_id.remove(&id);
                    }
                }
                for (f, id) in added {
                    self.ids.insert(f, id);
                    self.by_id.insert(id, f);
                }
                self.plan = self.want.clone();
                eprintln!(
                    "filters: -{} +{} in {:.1} ms, {} installed",
                    diff.delete.len(),
                    diff.add.len(),
                    t0.elapsed().as_secs_f64() * 1e3,
                    self.plan.len()
                );
                Ok(())
            }
            Err(e) => {
                self.failures += 1;
                eprintln!(
                    "filters not updated ({e}); the previous {} filters stay in force, \
                     while the table in service is newer: retrying",
                    self.plan.len()
                );
                Err(e)
            }
        }
    }

    /// The table in service changed: plan it, and try to install the diff.
    pub(crate) fn table_changed(&mut self) -> Result<(), WfpError> {
        if let Some(t) = self.live.load().table() {
            self.want = Plan::with_options(t, &self.policy, &self.options);
        }
        self.sync()
    }

    /// Checks the session is alive; if the engine restarted, installs everything again
    /// on a new session. Returns whether a reinstall happened.
    pub(crate) fn check_engine(&mut self) -> Result<bool, WfpError> {
        if let Some(s) = self.engine {
            match self.api.sublayer_get(s) {
                Ok(()) => return Ok(false),
                Err(code) => {
                    let e = WfpError {
                        call: "FwpmSubLayerGetByKey0",
                        code,
                    };
                    if !e.engine_lost() && code != FWP_E_SUBLAYER_NOT_FOUND {
                        // Not a lost engine: keep the session, ask again next time.
                        return Err(e);
                    }
                    eprintln!("filter engine session lost ({e}): installing again");
                }
            }
            self.forget_session();
        }
        self.set_options()?;
        self.start()?;
        Ok(true)
    }

    /// Handles the net events waiting: an event record per connection our filters dropped
    /// (and an alert, rate-limited per address), or, in log mode, per allowed connection
    /// the policy decides `log`.
    pub(crate) fn drain_events(&mut self) {
        let n = self.dropped.swap(0, Ordering::Relaxed);
        if n > 0 {
            eprintln!("{n} net events dropped: the queue was full");
        }
        while let Ok(ev) = self.events.1.try_recv() {
            self.handle(ev);
        }
    }

    fn handle(&mut self, ev: NetEvent) {
        let guard = self.live.load();
        let d = guard.decide(&self.policy, ev.remote);
        let blocked = match ev.kind {
            NetEventKind::Drop { filter_id } => {
                if !self.by_id.contains_key(&filter_id) {
                    return; // Another product's filter.
                }
                true
            }
            NetEventKind::Allow => {
                if self.mode != Mode::LogOnly || d.verdict() != Verdict::Log {
                    return;
                }
                false
            }
        };
        let mut conn = Connection::new();
        conn.remote_port = ev.remote_port;
        conn.local_port = ev.local_port;
        conn.transport = ev.protocol.map(|p| match p {
            6 => "tcp".to_owned(),
            17 => "udp".to_owned(),
            p => p.to_string(),
        });
        conn.executable = ev.app.clone();
        let mut event = MatchEvent::new(&d, &conn, ev.time);
        if blocked {
            // Our filter dropped it, whatever the table in service says this instant.
            event.verdict = Verdict::Block;
        }
        if self.limiter.admit(&mut event, Instant::now()) {
            emit(&self.out, &event.to_json());
        }
        if blocked && self.mode == Mode::Block {
            self.alert(&ev, &event);
        }
    }

    /// Tells the interactive user, at most once per address per [`ALERT_INTERVAL`].
    fn alert(&mut self, ev: &NetEvent, event: &MatchEvent) {
        let now = Instant::now();
        if let Some(t) = self.alerted.get(&ev.remote)
            && now.duration_since(*t) < ALERT_INTERVAL
        {
            return;
        }
        self.alerted.insert(ev.remote, now);
        if self.alerted.len() > 65_536 {
            self.alerted
                .retain(|_, t| now.duration_since(*t) < ALERT_INTERVAL);
        }
        let list = event.list.map_or("a", |l| l.as_str());
        let text = format!(
            "A connection to {} was blocked: it is on the {list} list of suspicious \
             command-and-control addresses{}.",
            ev.remote,
            event
                .prefix
                .map(|p| format!(" (entry {p})"))
                .unwrap_or_default()
        );
        if let Err(code) = self.api.alert("Suspicious connection blocked", &text) {
            eprintln!("alert not shown: WTSSendMessageW failed: 0x{code:08x}");
        }
    }

    /// Unsubscribes, closes the dynamic session (the engine deletes its filters) and
    /// restores the engine options.
    pub(crate) fn shutdown(&mut self) -> Result<(), WfpError> {
        if let (Some(s), Some(sub)) = (self.engine, self.subscription.take()) {
            let _ = self.api.unsubscribe(s, sub);
        }
        self.drain_events();
        self.forget_session();
        self.restore_options()
    }
}

/// Maps a return code to a [`WfpError`] for `call`.
fn err(call: &'static str) -> impl Fn(u32) -> WfpError {
    move |code| WfpError { call, code }
}
