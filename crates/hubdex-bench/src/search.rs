//! `hubdex-bench search`: hubdex at the Hub's scale, end to end, in real processes.
//!
//! It starts `hubdex-fakehub --synthetic N` (no rate limits) and `hubdex daemon` on a temp
//! `HUBDEX_HOME`, both on 127.0.0.1, and measures:
//!
//! * the first full sync (time, the daemon's CPU time, peak RSS), then the incremental sync
//!   (time, CPU time) after `--changes` records change on the fake Hub (a tenth created, the
//!   rest updated);
//! * a fixed query mix, `--repetitions` times, over IPC (tarpc on the Unix socket, facets
//!   on) and over HTTP (one keep-alive connection, no facets): the 17 topical words of the
//!   reference measurement, one organisation, `a` (the first keystroke, matching most ids),
//!   a word with no hit, every as-you-type prefix of those, fielded filters and sorts. The
//!   first run is reported apart: the daemon keeps recent answers, so the later runs (and
//!   the throughput run) measure cached answers;
//! * HTTP throughput: a bounded number of requests over `--connections` keep-alive
//!   connections;
//! * the daemon's peak (`VmHWM`) and idle (`VmRSS`) memory and the size of `HUBDEX_HOME`.
//!
//! With `--peer redis` and `redis-server` on the `PATH`, the same records go into a Redis
//! hash (id → JSON) and the reference design, `HSCAN MATCH *term*` over the whole hash, is
//! timed on the same words. Everything is printed as one table (or one JSON document).

mod http1;
pub(crate) mod procs;
mod resp;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hubdex_ipc::{HubdexClient, Paths, SearchRequest, Status, SyncKind, SyncReport};
use serde_json::json;

use http1::Connection;
use procs::{Memory, Proc};

/// The topical words of the reference measurement of the `HSCAN` design.
const TOPICAL: [&str; 17] = [
    "speech",
    "reviews",
    "sentiment",
    "translation",
    "images",
    "medical",
    "code",
    "math",
    "questions",
    "news",
    "legal",
    "chat",
    "instruction",
    "audio",
    "summarization",
    "qa",
    "wiki",
];
/// A word no record contains.
const NO_HIT: &str = "zzzznohit";
/// Fielded filters; `{org}` stands for the organisation of the mix. The empty query matches
/// every record, so its facets count the whole catalog.
const FIELDED: [&str; 10] = [
    "",
    "author:{org}",
    "task:text-classification",
    "lang:en",
    "license:mit size:<1GB",
    "downloads:>1000",
    "modality:audio lang:en",
    "updated:<30d",
    "gated:yes",
    "speech lang:en -license:mit",
];
/// Sorted queries.
const SORTED: [&str; 6] = [
    "speech sort:downloads",
    "sort:likes",
    "translation sort:updated",
    "sort:trending",
    "code sort:created-asc",
    "lang:en sort:downloads-asc",
];
/// Hits asked per search, as the TUI asks.
const LIMIT: usize = 20;
/// `COUNT` of each `HSCAN` step.
const HSCAN_COUNT: &str = "1000";
/// The Redis hash the records go into.
const HASH: &[u8] = b"datasets";
/// How long memory is left to settle before idle RSS is read.
const SETTLE: Duration = Duration::from_secs(5);
/// Deadline of one RPC.
const RPC_TIMEOUT: Duration = Duration::from_secs(60);
/// How often sync progress is polled.
const POLL: Duration = Duration::from_millis(250);

/// Arguments of `hubdex-bench search`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Synthetic records the fake Hub serves.
    #[arg(long, default_value_t = 1_000_000)]
    records: usize,
    /// Runs of the whole query mix over each door (IPC, HTTP, the peer).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    repetitions: u32,
    /// Seed of the synthetic catalog.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Records changed on the fake Hub before the incremental sync (a tenth created, the
    /// rest updated).
    #[arg(long, default_value_t = 1000)]
    changes: usize,
    /// Requests of the HTTP throughput run.
    #[arg(long, default_value_t = 20_000)]
    throughput_requests: usize,
    /// Concurrent keep-alive connections of the throughput run.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=1024))]
    connections: u32,
    /// Also time a reference design on the same records and words: `redis` (a hash of id →
    /// JSON scanned with `HSCAN MATCH *term*`), when `redis-server` is on the PATH.
    #[arg(long, value_enum)]
    peer: Option<Peer>,
    /// Print one JSON document instead of the table.
    #[arg(long)]
    json: bool,
    /// Where `hubdex` and `hubdex-fakehub` are; by default next to this executable.
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
    /// Longest wait for each sync, in seconds.
    #[arg(long, default_value_t = 1800)]
    sync_timeout: u64,
    /// Keep the temp folder (logs, HUBDEX_HOME) and print where it is.
    #[arg(long)]
    keep: bool,
}

/// A reference design timed side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Peer {
    /// A Redis hash scanned with `HSCAN MATCH *term*`.
    Redis,
}

/// A group of queries whose latencies are reported together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Class {
    Word,
    Org,
    A,
    NoHit,
    Prefix,
    Field,
    Sort,
}

impl Class {
    const ALL: [Class; 7] = [
        Class::Word,
        Class::Org,
        Class::A,
        Class::NoHit,
        Class::Prefix,
        Class::Field,
        Class::Sort,
    ];

    fn label(self) -> &'static str {
        match self {
            Class::Word => "topical word",
            Class::Org => "organisation",
            Class::A => "`a`",
            Class::NoHit => "no hit",
            Class::Prefix => "as-you-type prefix",
            Class::Field => "field/facet filter",
            Class::Sort => "sorted",
        }
    }

    fn key(self) -> &'static str {
        match self {
            Class::Word => "word",
            Class::Org => "org",
            Class::A => "a",
            Class::NoHit => "no_hit",
            Class::Prefix => "prefix",
            Class::Field => "field",
            Class::Sort => "sort",
        }
    }

    /// The classes the reference design can answer: bare words.
    fn is_word(self) -> bool {
        matches!(self, Class::Word | Class::Org | Class::A | Class::NoHit)
    }
}

/// One query of the mix.
#[derive(Debug, Clone)]
struct Probe {
    class: Class,
    query: String,
}

/// The query mix for a catalog whose biggest organisation is `org`.
fn mix(org: &str) -> Vec<Probe> {
    let probe = |class, query: &str| Probe {
        class,
        query: query.to_string(),
    };
    let mut probes: Vec<Probe> = TOPICAL.iter().map(|w| probe(Class::Word, w)).collect();
    probes.push(probe(Class::Org, org));
    probes.push(probe(Class::A, "a"));
    probes.push(probe(Class::NoHit, NO_HIT));
    let mut typed = std::collections::BTreeSet::new();
    for word in TOPICAL.iter().copied().chain([org, NO_HIT]) {
        let ends = word.char_indices().map(|(i, _)| i).skip(1);
        for end in ends {
            let prefix = &word[..end];
            if !TOPICAL.contains(&prefix) && prefix != "a" {
                typed.insert(prefix.to_string());
            }
        }
    }
    probes.extend(typed.iter().map(|p| probe(Class::Prefix, p)));
    probes.extend(
        FIELDED
            .iter()
            .map(|q| probe(Class::Field, &q.replace("{org}", org))),
    );
    probes.extend(SORTED.iter().map(|q| probe(Class::Sort, q)));
    probes
}

/// The organisation with the most records among the first synthetic ones: the biggest.
fn biggest_org(records: usize, seed: u64) -> anyhow::Result<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for record in hubdex_fakehub::synthetic_records(records.min(2000), seed) {
        if let Some(owner) = record.id.namespace() {
            *counts.entry(owner.to_string()).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(org, _)| org)
        .context("the synthetic catalog is empty; give --records 1 or more")
}

/// p50, p99 and max of some latencies, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stats {
    pub(crate) count: usize,
    pub(crate) p50: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

impl Stats {
    pub(crate) fn of(samples: &[f64]) -> Option<Stats> {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            let index = ((p * sorted.len() as f64).ceil() as usize).saturating_sub(1);
            sorted[index.min(sorted.len() - 1)]
        };
        let max = *sorted.last()?;
        Some(Stats {
            count: sorted.len(),
            p50: rank(0.50),
            p99: rank(0.99),
            max,
        })
    }

    pub(crate) fn json(&self) -> serde_json::Value {
        json!({"count": self.count, "p50_ms": round(self.p50), "p99_ms": round(self.p99), "max_ms": round(self.max)})
    }
}

fn round(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}

/// Latencies by class, in milliseconds.
#[derive(Debug, Default)]
struct Latencies(BTreeMap<Class, Vec<f64>>);

impl Latencies {
    fn add(&mut self, class: Class, elapsed: Duration) {
        self.0
            .entry(class)
            .or_default()
            .push(elapsed.as_secs_f64() * 1000.0);
    }

    fn class(&self, class: Class) -> Option<Stats> {
        self.0.get(&class).and_then(|s| Stats::of(s))
    }

    fn all(&self) -> Option<Stats> {
        let all: Vec<f64> = self.0.values().flatten().copied().collect();
        Stats::of(&all)
    }

    fn json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for class in Class::ALL {
            if let Some(stats) = self.class(class) {
                map.insert(class.key().to_string(), stats.json());
            }
        }
        if let Some(all) = self.all() {
            map.insert("all".to_string(), all.json());
        }
        serde_json::Value::Object(map)
    }
}

/// What one sync took.
#[derive(Debug, Clone)]
struct Synced {
    seconds: f64,
    /// The daemon's CPU time meanwhile (for the full sync, since it started: opening an
    /// empty catalog takes milliseconds).
    cpu_seconds: f64,
    pages: u64,
    records: u64,
    catalog: u64,
}

/// The reference design's figures.
#[derive(Debug)]
enum PeerResult {
    Skipped(String),
    Redis {
        load_seconds: f64,
        records: u64,
        rss: u64,
        latencies: Latencies,
        matches: BTreeMap<String, usize>,
    },
}

/// Everything one run measured.
struct Report {
    records: usize,
    seed: u64,
    repetitions: u32,
    org: String,
    queries: usize,
    fakehub_ready_seconds: f64,
    full: Synced,
    /// From the end of the full sync until the index was compacted into one segment.
    compaction_seconds: f64,
    peak_after_sync: u64,
    idle_after_sync: Memory,
    changes: usize,
    incremental: Synced,
    /// The first run of the mix: no answer is cached yet.
    ipc: Latencies,
    http: Latencies,
    /// The later runs: the daemon answers repeated queries from its cache.
    ipc_repeated: Latencies,
    http_repeated: Latencies,
    throughput: Throughput,
    idle_after_queries: Memory,
    peak: u64,
    disk: u64,
    peer: Option<PeerResult>,
}

/// The HTTP throughput run.
#[derive(Debug)]
struct Throughput {
    connections: u32,
    requests: usize,
    errors: usize,
    seconds: f64,
    latency: Option<Stats>,
}

/// Runs the benchmark and prints its table.
pub fn run(args: &Args) -> anyhow::Result<()> {
    crate::run_and_print(bench(args), args.json, report_json, table)
}

async fn bench(args: &Args) -> anyhow::Result<Report> {
    let (hubdex, fakehub) = procs::hubdex_binaries(args.bin_dir.as_deref())?;
    let redis_bin = match args.peer {
        Some(Peer::Redis) => procs::on_path("redis-server"),
        None => None,
    };
    let tmp = tempfile::Builder::new().prefix("hubdex-bench-").tempdir()?;
    let (dir, _removed_at_exit) = if args.keep {
        let dir = tmp.keep();
        eprintln!("keeping {}", dir.display());
        (dir, None)
    } else {
        (tmp.path().to_path_buf(), Some(tmp))
    };
    let home = dir.join("home");
    std::fs::create_dir_all(&home)?;
    // The embedded snapshot is the real Hub's catalog, which the fake does not serve.
    std::fs::write(
        home.join("config.toml"),
        "import_snapshot = false\nsync_pacing = false\n",
    )?;
    let org = biggest_org(args.records, args.seed)?;
    let probes = mix(&org);

    eprintln!("starting the fake Hub with {} records", args.records);
    let started = Instant::now();
    let (fake, hub) = procs::start_fakehub(
        &fakehub,
        &dir,
        args.records,
        args.seed,
        Duration::from_secs(900),
    )
    .await?;
    let fakehub_ready_seconds = started.elapsed().as_secs_f64();
    let http_addr = SocketAddr::from(([127, 0, 0, 1], procs::free_port()?));
    let mut daemon = procs::start_daemon(&hubdex, &dir, &home, hub, http_addr)?;
    let measured = measure(args, &mut daemon, &home, hub, http_addr, &probes).await;
    daemon.stop(Duration::from_secs(30)).await;
    let mut report = match measured {
        Ok(daemon_figures) => daemon_figures,
        Err(e) => {
            fake.stop(Duration::from_secs(5)).await;
            return Err(e.context(format!(
                "the daemon's log is {}",
                dir.join("daemon.log").display()
            )));
        }
    };
    report.org = org;
    report.queries = probes.len();
    report.fakehub_ready_seconds = fakehub_ready_seconds;
    report.peer = match (args.peer, redis_bin) {
        (None, _) => None,
        (Some(Peer::Redis), None) => Some(PeerResult::Skipped(
            "redis-server is not on the PATH (e.g. `apt-get install redis-server`)".to_string(),
        )),
        (Some(Peer::Redis), Some(bin)) => {
            let result = redis_peer(&bin, &dir, hub, &probes, args.repetitions).await;
            Some(result.unwrap_or_else(|e| PeerResult::Skipped(format!("redis failed: {e:#}"))))
        }
    };
    fake.stop(Duration::from_secs(5)).await;
    Ok(report)
}

/// Everything measured on the daemon, in order.
async fn measure(
    args: &Args,
    daemon: &mut Proc,
    home: &Path,
    hub: SocketAddr,
    http_addr: SocketAddr,
    probes: &[Probe],
) -> anyhow::Result<Report> {
    let pid = daemon.pid()?;
    let client = connect(daemon, home).await?;
    let sync_timeout = Duration::from_secs(args.sync_timeout);

    eprintln!("full sync");
    let full = wait_for_sync(&client, daemon, pid, None, sync_timeout).await?;
    let full = synced(&full, &status(&client).await?, procs::cpu_seconds(pid)?)?;
    eprintln!(
        "full sync: {:.1} s ({:.1} s of CPU), {} records",
        full.seconds, full.cpu_seconds, full.catalog
    );
    let compaction_seconds = wait_for_compaction(&client, daemon, sync_timeout).await?;
    let peak_after_sync = procs::memory(pid)?.peak;
    tokio::time::sleep(SETTLE).await;
    let idle_after_sync = procs::memory(pid)?;
    eprintln!(
        "index compacted {compaction_seconds:.1} s later; peak {} MiB, idle {}",
        mib(peak_after_sync),
        resident(&idle_after_sync)
    );

    let updated = args.changes - args.changes / 10;
    let created = args.changes / 10;
    let mut fake = Connection::open(hub).await?;
    let answer = fake
        .request(
            "POST",
            &format!("/_fakehub/mutate?created={created}&updated={updated}&deleted=0"),
        )
        .await?;
    if answer.status != 200 {
        bail!(
            "the fake Hub refused the mutation: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    let before = status(&client)
        .await?
        .last_sync
        .context("the full sync left no report")?;
    let cpu_before = procs::cpu_seconds(pid)?;
    if !client.sync_now(rpc()).await? {
        bail!("the daemon was already syncing when the incremental sync was asked for");
    }
    let incremental = wait_for_sync(&client, daemon, pid, Some(&before), sync_timeout).await?;
    if incremental.kind != SyncKind::Incremental {
        bail!(
            "the sync after the changes was a {:?} walk, not an incremental one",
            incremental.kind
        );
    }
    let cpu_used = procs::cpu_seconds(pid)? - cpu_before;
    let incremental = synced(&incremental, &status(&client).await?, cpu_used)?;
    if incremental.catalog != full.catalog + created as u64 {
        bail!(
            "after {created} records were created on the fake Hub the catalog holds {}, not {}",
            incremental.catalog,
            full.catalog + created as u64
        );
    }
    eprintln!(
        "incremental sync of {} changes: {:.2} s",
        args.changes, incremental.seconds
    );

    eprintln!("{} queries x {} over IPC", probes.len(), args.repetitions);
    let (ipc, ipc_repeated) = ipc_latencies(&client, probes, args.repetitions).await?;
    eprintln!("{} queries x {} over HTTP", probes.len(), args.repetitions);
    let (http, http_repeated) = http_latencies(http_addr, probes, args.repetitions).await?;
    eprintln!(
        "{} requests over {} HTTP connections",
        args.throughput_requests, args.connections
    );
    let throughput = throughput(
        http_addr,
        probes,
        args.connections,
        args.throughput_requests,
    )
    .await?;
    tokio::time::sleep(SETTLE).await;
    let memory: Memory = procs::memory(pid)?;
    let disk = procs::disk_usage(home)?;
    Ok(Report {
        records: args.records,
        seed: args.seed,
        repetitions: args.repetitions,
        org: String::new(),
        queries: 0,
        fakehub_ready_seconds: 0.0,
        full,
        compaction_seconds,
        peak_after_sync,
        idle_after_sync,
        changes: args.changes,
        incremental,
        ipc,
        http,
        ipc_repeated,
        http_repeated,
        throughput,
        idle_after_queries: memory,
        peak: memory.peak,
        disk,
        peer: None,
    })
}

fn rpc() -> tarpc::context::Context {
    hubdex_ipc::context_with_timeout(RPC_TIMEOUT)
}

/// Connects to the daemon's socket once it answers (up to two minutes).
pub(crate) async fn connect(daemon: &mut Proc, home: &Path) -> anyhow::Result<HubdexClient> {
    let socket = Paths::under(home).socket;
    let started = Instant::now();
    loop {
        daemon.check_alive()?;
        if let Ok(client) = hubdex_ipc::connect(&socket).await
            && client.hello(rpc()).await.is_ok()
        {
            return Ok(client);
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!(
                "the daemon did not answer on {} within 2 min",
                socket.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn status(client: &HubdexClient) -> anyhow::Result<Status> {
    Ok(client.status(rpc()).await?)
}

/// Waits for the first sync that started after `after` (or for any, without it) to finish
/// successfully, and returns its report.
pub(crate) async fn wait_for_sync(
    client: &HubdexClient,
    daemon: &mut Proc,
    pid: u32,
    after: Option<&SyncReport>,
    timeout: Duration,
) -> anyhow::Result<SyncReport> {
    let started = Instant::now();
    let mut shown = Instant::now();
    loop {
        daemon.check_alive()?;
        let status = status(client).await?;
        let done = status
            .last_sync
            .as_ref()
            .filter(|r| after.is_none_or(|a| r.started_at > a.started_at));
        if let (Some(report), None) = (done, &status.syncing) {
            if let Some(error) = &report.error {
                bail!("the sync failed: {error}");
            }
            return Ok(report.clone());
        }
        if started.elapsed() > timeout {
            bail!("the sync did not finish within {} s", timeout.as_secs());
        }
        if shown.elapsed() > Duration::from_secs(10) {
            shown = Instant::now();
            let memory = procs::memory(pid)?;
            eprintln!(
                "  {:.0} s: {} records, RSS {}, peak {} MiB",
                started.elapsed().as_secs_f64(),
                status.syncing.as_ref().map_or(0, |p| p.records),
                resident(&memory),
                mib(memory.peak)
            );
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until the daemon has compacted its index after a sync (searches are measured on
/// the compacted index); returns how long that took from now.
async fn wait_for_compaction(
    client: &HubdexClient,
    daemon: &mut Proc,
    timeout: Duration,
) -> anyhow::Result<f64> {
    let started = Instant::now();
    while status(client).await?.compacting {
        daemon.check_alive()?;
        if started.elapsed() > timeout {
            bail!(
                "the index compaction did not finish within {} s",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(started.elapsed().as_secs_f64())
}

fn synced(report: &SyncReport, status: &Status, cpu_seconds: f64) -> anyhow::Result<Synced> {
    let elapsed = report.finished_at - report.started_at;
    Ok(Synced {
        seconds: elapsed.num_milliseconds() as f64 / 1000.0,
        cpu_seconds,
        pages: report.pages,
        records: report.records,
        catalog: status.records,
    })
}

async fn ipc_latencies(
    client: &HubdexClient,
    probes: &[Probe],
    repetitions: u32,
) -> anyhow::Result<(Latencies, Latencies)> {
    let (mut first, mut repeated) = (Latencies::default(), Latencies::default());
    for repetition in 0..repetitions {
        let latencies = if repetition == 0 {
            &mut first
        } else {
            &mut repeated
        };
        for probe in probes {
            let request = SearchRequest {
                query: probe.query.clone(),
                sort: None,
                limit: LIMIT,
                offset: 0,
                facets: true,
            };
            let started = Instant::now();
            let answer = client.search(rpc(), request).await?;
            let elapsed = started.elapsed();
            answer.with_context(|| format!("the search {:?} failed", probe.query))?;
            latencies.add(probe.class, elapsed);
        }
    }
    Ok((first, repeated))
}

fn search_path(query: &str) -> String {
    format!("/v1/search?limit={LIMIT}&q={}", http1::encode(query))
}

async fn http_latencies(
    addr: SocketAddr,
    probes: &[Probe],
    repetitions: u32,
) -> anyhow::Result<(Latencies, Latencies)> {
    let (mut first, mut repeated) = (Latencies::default(), Latencies::default());
    let mut connection = Connection::open(addr).await?;
    for repetition in 0..repetitions {
        let latencies = if repetition == 0 {
            &mut first
        } else {
            &mut repeated
        };
        for probe in probes {
            let path = search_path(&probe.query);
            let started = Instant::now();
            let answer = connection.request("GET", &path).await?;
            let elapsed = started.elapsed();
            if answer.status != 200 {
                bail!(
                    "GET {path} answered {}: {}",
                    answer.status,
                    String::from_utf8_lossy(&answer.body)
                );
            }
            latencies.add(probe.class, elapsed);
        }
    }
    Ok((first, repeated))
}

/// `requests` searches of the mix, in turn, over `connections` keep-alive connections.
async fn throughput(
    addr: SocketAddr,
    probes: &[Probe],
    connections: u32,
    requests: usize,
) -> anyhow::Result<Throughput> {
    let paths: Arc<Vec<String>> = Arc::new(probes.iter().map(|p| search_path(&p.query)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let mut open = Vec::new();
    for _ in 0..connections {
        open.push(Connection::open(addr).await?);
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut connection in open {
        let (paths, next) = (paths.clone(), next.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                let request_started = Instant::now();
                match connection.request("GET", &paths[i % paths.len()]).await {
                    Ok(answer) if answer.status == 200 => {
                        latencies.push(request_started.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        match Connection::open(addr).await {
                            Ok(fresh) => connection = fresh,
                            Err(_) => break,
                        }
                    }
                }
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::with_capacity(requests);
    let mut errors = 0;
    while let Some(done) = tasks.join_next().await {
        let (mut l, e) = done?;
        latencies.append(&mut l);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Throughput {
        connections,
        requests: latencies.len(),
        errors,
        seconds,
        latency: Stats::of(&latencies),
    })
}

/// Loads the fake Hub's records into a Redis hash and times `HSCAN MATCH *word*` on the
/// mix's bare words.
async fn redis_peer(
    bin: &Path,
    dir: &Path,
    hub: SocketAddr,
    probes: &[Probe],
    repetitions: u32,
) -> anyhow::Result<PeerResult> {
    let port = procs::free_port()?;
    let mut server = procs::start_redis(bin, dir, port)?;
    let result = redis_measure(&mut server, port, hub, probes, repetitions).await;
    server.stop(Duration::from_secs(10)).await;
    result
}

async fn redis_measure(
    server: &mut Proc,
    port: u16,
    hub: SocketAddr,
    probes: &[Probe],
    repetitions: u32,
) -> anyhow::Result<PeerResult> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let started = Instant::now();
    let mut redis = loop {
        server.check_alive()?;
        if let Ok(mut redis) = resp::Redis::connect(addr).await
            && redis.command(&[b"PING"]).await.is_ok()
        {
            break redis;
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("redis-server did not answer within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    eprintln!("loading the fake Hub's records into redis");
    let started = Instant::now();
    let mut fake = Connection::open(hub).await?;
    let mut path = Some("/api/datasets?limit=1000&full=true".to_string());
    let mut pages = 0;
    while let Some(current) = path.take() {
        pages += 1;
        if pages > 100_000 {
            bail!("the fake Hub's listing did not end after 100,000 pages");
        }
        let page = fake.request("GET", &current).await?;
        if page.status != 200 {
            bail!("GET {current} answered {}", page.status);
        }
        let items: Vec<serde_json::Value> = serde_json::from_slice(&page.body)?;
        let mut args: Vec<Vec<u8>> = vec![b"HSET".to_vec(), HASH.to_vec()];
        for item in &items {
            let id = item
                .get("id")
                .and_then(|v| v.as_str())
                .context("a listed item without an id")?;
            args.push(id.as_bytes().to_vec());
            args.push(serde_json::to_vec(item)?);
        }
        if !items.is_empty() {
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            redis.command(&refs).await?;
        }
        path = page.link.as_deref().and_then(http1::next_path);
    }
    let load_seconds = started.elapsed().as_secs_f64();
    let records = match redis.command(&[b"HLEN", HASH]).await? {
        resp::Reply::Integer(n) => u64::try_from(n).unwrap_or(0),
        other => bail!("HLEN answered {other:?}"),
    };
    eprintln!("redis holds {records} records; scanning");

    let mut latencies = Latencies::default();
    let mut matches = BTreeMap::new();
    let words: Vec<&Probe> = probes.iter().filter(|p| p.class.is_word()).collect();
    // A full scan visits each bucket once; allow generous slack for rehashing.
    let max_steps = records / 100 + 1000;
    for _ in 0..repetitions {
        for probe in &words {
            let pattern = format!("*{}*", probe.query);
            let started = Instant::now();
            let mut cursor = b"0".to_vec();
            let mut found = 0;
            let mut steps = 0;
            loop {
                let reply = redis
                    .command(&[
                        b"HSCAN",
                        HASH,
                        &cursor,
                        b"MATCH",
                        pattern.as_bytes(),
                        b"COUNT",
                        HSCAN_COUNT.as_bytes(),
                    ])
                    .await?;
                let (next, n) = resp::scan_step(reply)?;
                found += n;
                cursor = next;
                steps += 1;
                if cursor == b"0" {
                    break;
                }
                if steps > max_steps {
                    bail!("HSCAN did not finish after {steps} steps");
                }
            }
            latencies.add(probe.class, started.elapsed());
            matches.insert(probe.query.clone(), found);
        }
    }
    let rss = procs::memory(server.pid()?)?.rss;
    Ok(PeerResult::Redis {
        load_seconds,
        records,
        rss,
        latencies,
        matches,
    })
}

fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

/// Resident memory and what it is made of: the process's own (anonymous) memory and the
/// file pages it maps, which the kernel can drop.
fn resident(memory: &Memory) -> String {
    format!(
        "{} MiB (anon {} + file {})",
        mib(memory.rss),
        mib(memory.anon),
        mib(memory.file)
    )
}

/// A figure with its target: `met`/`MISSED`.
fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}

const MIB: u64 = 1024 * 1024;

/// The targets at 1M records.
mod target {
    pub const SEARCH_P50_MS: f64 = 2.0;
    pub const SEARCH_P99_MS: f64 = 15.0;
    pub const HTTP_RPS: f64 = 3000.0;
    pub const FULL_SYNC_S: f64 = 60.0;
    pub const SYNC_RSS: u64 = 600 * super::MIB;
    pub const INCREMENTAL_S: f64 = 2.0;
    pub const IDLE_RSS: u64 = 300 * super::MIB;
    pub const DISK: u64 = 2048 * super::MIB;
}

fn stats_cells(stats: Option<Stats>) -> String {
    match stats {
        Some(s) => format!("{:>8.2} {:>8.2} {:>8.2}", s.p50, s.p99, s.max),
        None => format!("{:>8} {:>8} {:>8}", "-", "-", "-"),
    }
}

fn table(r: &Report) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let redis = match &r.peer {
        Some(PeerResult::Redis { latencies, .. }) => Some(latencies),
        _ => None,
    };
    let _ = writeln!(
        out,
        "hubdex-bench search: {} records (seed {}), {} distinct queries x {} repetitions, organisation `{}`",
        r.records, r.seed, r.queries, r.repetitions, r.org
    );
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "first run of the mix (nothing cached); the {} later runs are answered from the daemon's cache",
        r.repetitions.saturating_sub(1)
    );
    let mut header = format!(
        "{:<22} {:>6} | {:^26} | {:^26}",
        "latency, ms", "n", "IPC + facets p50/p99/max", "HTTP p50/p99/max"
    );
    if redis.is_some() {
        let _ = write!(header, " | {:^26}", "redis HSCAN p50/p99/max");
    }
    let _ = writeln!(out, "{header}");
    let _ = writeln!(out, "{}", "-".repeat(header.len()));
    let rows = Class::ALL
        .iter()
        .map(|&c| {
            (
                c.label(),
                r.ipc.class(c),
                r.http.class(c),
                redis.map(|l| l.class(c)),
            )
        })
        .chain([("all", r.ipc.all(), r.http.all(), redis.map(|l| l.all()))]);
    for (label, ipc, http, peer) in rows {
        let n = ipc.map_or(0, |s| s.count);
        let mut line = format!(
            "{label:<22} {n:>6} | {} | {}",
            stats_cells(ipc),
            stats_cells(http)
        );
        if let Some(peer) = peer {
            let _ = write!(line, " | {}", stats_cells(peer));
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "{:<22} {:>6} | {} | {}",
        "all, repeated (cached)",
        r.ipc_repeated.all().map_or(0, |s| s.count),
        stats_cells(r.ipc_repeated.all()),
        stats_cells(r.http_repeated.all())
    );
    let _ = writeln!(out);
    let ipc_all = r.ipc.all();
    let rps = r.throughput.requests as f64 / r.throughput.seconds;
    let figures: Vec<(String, String, String)> = vec![
        (
            "search p50, IPC + facets, first run".into(),
            ipc_all.map_or("-".into(), |s| format!("{:.2} ms", s.p50)),
            ipc_all.map_or("".into(), |s| {
                format!(
                    "<= {} ms: {}",
                    target::SEARCH_P50_MS,
                    verdict(s.p50 <= target::SEARCH_P50_MS)
                )
            }),
        ),
        (
            "search p99, IPC + facets, first run".into(),
            ipc_all.map_or("-".into(), |s| format!("{:.2} ms", s.p99)),
            ipc_all.map_or("".into(), |s| {
                format!(
                    "<= {} ms: {}",
                    target::SEARCH_P99_MS,
                    verdict(s.p99 <= target::SEARCH_P99_MS)
                )
            }),
        ),
        (
            format!(
                "HTTP throughput, {} connections (cached answers)",
                r.throughput.connections
            ),
            format!(
                "{rps:.0} req/s ({} requests, {} errors, p50 {} / p99 {} ms)",
                r.throughput.requests,
                r.throughput.errors,
                r.throughput
                    .latency
                    .map_or("-".into(), |s| format!("{:.1}", s.p50)),
                r.throughput
                    .latency
                    .map_or("-".into(), |s| format!("{:.1}", s.p99)),
            ),
            format!(
                ">= {}: {}",
                target::HTTP_RPS,
                verdict(rps >= target::HTTP_RPS)
            ),
        ),
        (
            "full sync".into(),
            format!(
                "{:.1} s ({} pages, {} records; daemon CPU {:.1} s)",
                r.full.seconds, r.full.pages, r.full.records, r.full.cpu_seconds
            ),
            format!(
                "<= {} s: {}",
                target::FULL_SYNC_S,
                verdict(r.full.seconds <= target::FULL_SYNC_S)
            ),
        ),
        (
            "index compaction after the full sync".into(),
            format!("{:.1} s (searchable meanwhile)", r.compaction_seconds),
            String::new(),
        ),
        (
            "peak RSS, full sync and compaction".into(),
            format!("{} MiB", mib(r.peak_after_sync)),
            format!(
                "<= {} MiB: {}",
                mib(target::SYNC_RSS),
                verdict(r.peak_after_sync <= target::SYNC_RSS)
            ),
        ),
        (
            format!("incremental sync, {} changes", r.changes),
            format!(
                "{:.2} s ({} pages, {} records; daemon CPU {:.2} s)",
                r.incremental.seconds,
                r.incremental.pages,
                r.incremental.records,
                r.incremental.cpu_seconds
            ),
            format!(
                "<= {} s: {}",
                target::INCREMENTAL_S,
                verdict(r.incremental.seconds <= target::INCREMENTAL_S)
            ),
        ),
        (
            "idle RSS after sync".into(),
            resident(&r.idle_after_sync),
            format!(
                "<= {} MiB: {}",
                mib(target::IDLE_RSS),
                verdict(r.idle_after_sync.rss <= target::IDLE_RSS)
            ),
        ),
        (
            "idle RSS after the queries".into(),
            resident(&r.idle_after_queries),
            format!(
                "<= {} MiB: {}",
                mib(target::IDLE_RSS),
                verdict(r.idle_after_queries.rss <= target::IDLE_RSS)
            ),
        ),
        (
            "peak RSS, whole run".into(),
            format!("{} MiB", mib(r.peak)),
            String::new(),
        ),
        (
            "on disk (HUBDEX_HOME)".into(),
            format!("{} MiB", mib(r.disk)),
            format!(
                "<= {} MiB: {}",
                mib(target::DISK),
                verdict(r.disk <= target::DISK)
            ),
        ),
    ];
    for (what, value, goal) in figures {
        let _ = writeln!(out, "{what:<34} {value:<52} {goal}");
    }
    match &r.peer {
        None => {}
        Some(PeerResult::Skipped(why)) => {
            let _ = writeln!(out, "\nredis peer not measured: {why}");
        }
        Some(PeerResult::Redis {
            load_seconds,
            records,
            rss,
            matches,
            ..
        }) => {
            let _ = writeln!(
                out,
                "\nredis peer: {records} records (id -> JSON) loaded in {load_seconds:.1} s, RSS {} MiB; HSCAN MATCH *term* COUNT {HSCAN_COUNT}, ids only, case-sensitive",
                mib(*rss)
            );
            let shown: Vec<String> = matches.iter().map(|(q, n)| format!("{q}={n}")).collect();
            let _ = writeln!(out, "redis matches per word: {}", shown.join(" "));
        }
    }
    let _ = writeln!(
        out,
        "\nfake Hub ready in {:.1} s; HTTP latencies without facets, one keep-alive connection",
        r.fakehub_ready_seconds
    );
    out
}

fn report_json(r: &Report) -> serde_json::Value {
    let synced = |s: &Synced| json!({"seconds": s.seconds, "cpu_seconds": s.cpu_seconds, "pages": s.pages, "records": s.records, "catalog": s.catalog});
    let peer = match &r.peer {
        None => serde_json::Value::Null,
        Some(PeerResult::Skipped(why)) => json!({"skipped": why}),
        Some(PeerResult::Redis {
            load_seconds,
            records,
            rss,
            latencies,
            matches,
        }) => json!({
            "design": "redis HSCAN MATCH *term*",
            "count": HSCAN_COUNT,
            "load_seconds": load_seconds,
            "records": records,
            "rss_bytes": rss,
            "latency": latencies.json(),
            "matches": matches,
        }),
    };
    json!({
        "records": r.records,
        "seed": r.seed,
        "repetitions": r.repetitions,
        "organisation": r.org,
        "distinct_queries": r.queries,
        "fakehub_ready_seconds": r.fakehub_ready_seconds,
        "full_sync": synced(&r.full),
        "compaction_seconds": r.compaction_seconds,
        "incremental_sync": synced(&r.incremental),
        "changes": r.changes,
        "rss_bytes": {
            "peak_after_full_sync": r.peak_after_sync,
            "idle_after_sync": r.idle_after_sync.rss,
            "idle_after_sync_anon": r.idle_after_sync.anon,
            "idle_after_sync_file": r.idle_after_sync.file,
            "idle_after_queries": r.idle_after_queries.rss,
            "idle_after_queries_anon": r.idle_after_queries.anon,
            "idle_after_queries_file": r.idle_after_queries.file,
            "peak": r.peak,
        },
        "disk_bytes": r.disk,
        "ipc_with_facets": r.ipc.json(),
        "http": r.http.json(),
        "ipc_with_facets_repeated": r.ipc_repeated.json(),
        "http_repeated": r.http_repeated.json(),
        "throughput": {
            "connections": r.throughput.connections,
            "requests": r.throughput.requests,
            "errors": r.throughput.errors,
            "seconds": r.throughput.seconds,
            "requests_per_second": r.throughput.requests as f64 / r.throughput.seconds,
            "latency": r.throughput.latency.map(|s| s.json()),
        },
        "peer": peer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<f64> = (1..=200).map(f64::from).collect();
        let stats = Stats::of(&samples).unwrap();
        assert_eq!((stats.p50, stats.p99, stats.max), (100.0, 198.0, 200.0));
        assert!(Stats::of(&[]).is_none());
    }

    #[test]
    fn the_mix_has_the_reference_words_and_every_typed_prefix() {
        let probes = mix("acme");
        let of = |class| {
            probes
                .iter()
                .filter(|p| p.class == class)
                .map(|p| p.query.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(of(Class::Word).len(), 17);
        assert_eq!(of(Class::Org), ["acme"]);
        assert_eq!(of(Class::A), ["a"]);
        assert_eq!(of(Class::NoHit), [NO_HIT]);
        let prefixes = of(Class::Prefix);
        for p in ["s", "sp", "spe", "spee", "speec", "ac", "acm", "zzzznohi"] {
            assert!(prefixes.contains(&p), "{p} missing");
        }
        // A prefix that is itself a query of the mix is not repeated.
        assert!(!prefixes.contains(&"a") && !prefixes.contains(&"code"));
        assert!(of(Class::Field).contains(&"author:acme"));
    }

    #[test]
    fn the_biggest_organisation_publishes_more_than_one_dataset() {
        let org = biggest_org(2000, 42).unwrap();
        let records = hubdex_fakehub::synthetic_records(2000, 42);
        let count = records
            .iter()
            .filter(|r| r.id.namespace() == Some(org.as_str()))
            .count();
        assert!(count > 1, "{org} has {count}");
    }
}
