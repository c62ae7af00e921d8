//! A durable-mailbox [`Store`] on NATS JetStream ([`JetStreamStore`]): the messages of
//! durable mailboxes live in a replicated stream of a NATS cluster instead of a local
//! file, so they survive the loss of the machine that sent them, and of a minority of
//! the cluster's servers.
//!
//! One stream (file storage, `replicas` copies) holds every mailbox. A record is one
//! message on subject `<prefix>.<token>`, where the token is the mailbox's name with
//! every byte other than an ASCII letter, digit, `-` or `_` written `%XX` (the empty name
//! is `%`), so any UTF-8 name is one valid subject token. Its courier id and (escaped)
//! source travel in the `Courier-Id` and `Courier-Source` headers, its body as the
//! payload. "Acknowledged means durable" holds as for fjall: [`Store::append`] returns
//! only once JetStream has acknowledged every record, which with several replicas means
//! a quorum of them has written it to its files. (nats-server writes a message to its
//! file before acknowledging it, but syncs files to the disk periodically rather than
//! per message: what protects the newest messages from a power loss is replicas on
//! separate machines, not a sync.)
//!
//! Publishes that fail or time out (a leader election) are sent again, a bounded number
//! of times, under the same `Nats-Msg-Id`, so that the stream's duplicate window (two
//! minutes by default) stores a record once however many times the store sent it. A
//! caller that retries a failed append may store a record twice: [`Store::load`] gives
//! one record per id (its latest copy) and [`Store::remove`] deletes every copy.
//! Removal is by stream sequence, from a table filled by the publish acknowledgements
//! and by loads (a record neither appended nor loaded by this store is looked up
//! first). A load reads the mailbox's subject from the stream leader (`STREAM.MSG.GET`
//! with `next_by_subj`, consistent where a direct get may read a lagging replica), in
//! order of id. [`Store::mailboxes`] lists the subjects holding messages (stream info
//! with a subject filter) and decodes their tokens.
//!
//! The trait's methods block. The store owns a one-worker tokio runtime where its NATS
//! client lives; a method hands its work to that runtime and waits on a plain channel,
//! so it may be called from `spawn_blocking` threads and from async code alike, and
//! never calls `block_on` on the caller's thread. Every request has a timeout, and every
//! retry a bound.
//!
//! The client is async-nats 0.40, the last release that parses the JetStream account
//! info of nats-server 2.9 (Debian's): from 0.41 on, `reserved_memory` and
//! `reserved_storage` are required fields, which 2.9 does not send, so
//! `Context::query_account` fails. [`JetStreamStore::connect`] calls it to check that
//! JetStream is enabled, so the tests catch a client that cannot read such a server.
//! Every call this store makes is tested against nats-server 2.9.10.
//!
//! Left to others: creating the NATS cluster, authentication and TLS (plain `nats://`
//! URLs only), and mailbox semantics (see [`super::Mailbox::durable`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use async_nats::jetstream::context::{Publish, PublishErrorKind};
use async_nats::jetstream::stream::{self, DeleteMessageErrorKind, RawMessageErrorKind};
use async_nats::jetstream::{self as js, message::StreamMessage};
use async_nats::HeaderMap;
use futures_util::StreamExt;

use super::store::{Record, Store};
use crate::sync::lock;

/// The header holding a record's courier id (decimal).
const ID_HEADER: &str = "Courier-Id";
/// The header holding a record's source (escaped like a subject token).
const SOURCE_HEADER: &str = "Courier-Source";
/// The longest subject a record may have. The server's control line, which holds the
/// subject, a reply subject and sizes, is limited to 4 KiB by default; a quarter of it
/// leaves room for the rest.
const MAX_SUBJECT: usize = 1024;
/// The longest a JetStream request or publish acknowledgement is awaited by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause before the first retry; each later retry waits twice as long as the one
/// before, up to [`MAX_PAUSE_FACTOR`] times this. With the default 4 attempts, a failing
/// operation is tried for 1.75 s and more (plus the timeouts): enough for a quick leader
/// election, not for every one (nats-server 2.9 sometimes takes ten seconds), after
/// which the operation fails and its caller decides.
const RETRY_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause between tries, in [`RETRY_PAUSE`]s.
const MAX_PAUSE_FACTOR: u32 = 8;

/// Where a [`JetStreamStore`] keeps its messages, and how long it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamConfig {
    /// The stream's name; created if missing (default `COURIER_MAILBOXES`).
    pub stream: String,
    /// How many servers keep a copy of every message, 1 to 5 (default 1). An
    /// existing stream keeps the replication it has.
    pub replicas: usize,
    /// The subjects' first tokens: a mailbox is `<subject_prefix>.<token>` (default
    /// `courier.mailbox`). The stream captures `<subject_prefix>.>`.
    pub subject_prefix: String,
    /// The longest a connection, a request or a publish acknowledgement is awaited
    /// (default 5 s).
    pub timeout: Duration,
    /// How many times a publish or request is tried before the operation fails
    /// (default 4, at least 1); the pauses between tries double from 250 ms.
    pub attempts: u32,
}

impl Default for JetStreamConfig {
    fn default() -> Self {
        JetStreamConfig {
            stream: "COURIER_MAILBOXES".into(),
            replicas: 1,
            subject_prefix: "courier.mailbox".into(),
            timeout: DEFAULT_TIMEOUT,
            attempts: 4,
        }
    }
}

/// Why the JetStream store failed; carried inside the `io::Error`s of [`Store`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JetStreamError {
    /// The configuration cannot work (caller misuse).
    #[error("invalid JetStream store configuration: {0}")]
    Config(String),
    /// The mailbox name makes a subject longer than the store allows (caller misuse).
    #[error("mailbox name of {0} bytes is too long for a subject of at most {MAX_SUBJECT} bytes")]
    NameTooLong(usize),
    /// No server at the URL could be connected to.
    #[error("cannot connect to JetStream at {url}: {reason}")]
    Connect {
        /// The URL(s) tried.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The stream could not be created or used.
    #[error("JetStream stream `{stream}`: {reason}")]
    Stream {
        /// The stream.
        stream: String,
        /// What went wrong.
        reason: String,
    },
    /// Some records of an append were not acknowledged: they may or may not be stored.
    #[error("{failed} of {total} records not acknowledged by JetStream after {attempts} attempts: {reason}")]
    Unacknowledged {
        /// Records not acknowledged.
        failed: usize,
        /// Records in the append.
        total: usize,
        /// Attempts made for each.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// A request failed after every attempt.
    #[error("JetStream request failed after {attempts} attempts ({what}): {reason}")]
    Request {
        /// What was asked.
        what: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// A message or subject in the stream is not one this store wrote (peer violation).
    #[error("{what} of stream `{stream}` is not a courier record's: {reason}")]
    Malformed {
        /// The stream.
        stream: String,
        /// Which message or subject.
        what: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The store's runtime is gone (it panicked).
    #[error("the JetStream store's runtime stopped")]
    Stopped,
}

impl From<JetStreamError> for io::Error {
    fn from(e: JetStreamError) -> io::Error {
        let kind = match e {
            JetStreamError::Config(_) | JetStreamError::NameTooLong(_) => io::ErrorKind::InvalidInput,
            JetStreamError::Malformed { .. } => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

/// A durable-mailbox store in a JetStream stream. See the [module docs](self).
pub struct JetStreamStore {
    /// Runs the NATS client and the work of every call.
    driver: Driver,
    /// Publishes records (and holds the client).
    context: js::Context,
    /// Reads and deletes records.
    stream: stream::Stream,
    config: JetStreamConfig,
    /// The stream sequences of each record, by (mailbox, id): several when a record was
    /// appended more than once. Filled by appends and loads, emptied by removals.
    sequences: Mutex<HashMap<(String, u64), Vec<u64>>>,
    /// Makes this store's `Nats-Msg-Id`s unlike any other store's.
    instance: String,
    /// Appends made, for the `Nats-Msg-Id`s.
    appends: AtomicU64,
}

impl fmt::Debug for JetStreamStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JetStreamStore").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The store's runtime, shut down without waiting when dropped: a store may be dropped
/// in async code, where dropping a runtime the usual way panics.
struct Driver(Option<tokio::runtime::Runtime>);

impl Driver {
    fn new() -> io::Result<Driver> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("courier-jetstream")
            .enable_all()
            .build()?;
        Ok(Driver(Some(runtime)))
    }

    /// Runs `work` on the store's runtime and blocks the calling thread (not a runtime's)
    /// until it is done.
    fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, JetStreamError>> + Send + 'static,
    ) -> Result<T, JetStreamError> {
        let Some(runtime) = &self.0 else { return Err(JetStreamError::Stopped) };
        let (done, result) = mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = done.send(work.await);
        });
        result.recv().unwrap_or(Err(JetStreamError::Stopped))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Distinguishes the stores of one process in their `Nats-Msg-Id`s.
static STORES: AtomicU64 = AtomicU64::new(0);

impl JetStreamStore {
    /// Connects to the NATS server(s) at `url` (`nats://host:port`, several separated by
    /// commas; the client also learns the cluster's other servers from them), checks that
    /// JetStream is enabled, and opens the configured stream, creating it if missing.
    /// The JetStream requests are tried `config.attempts` times, as during an election.
    pub fn connect(url: &str, config: JetStreamConfig) -> io::Result<JetStreamStore> {
        validate(&config)?;
        let servers = url
            .split(',')
            .map(|server| server.trim().parse::<async_nats::ServerAddr>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| JetStreamError::Config(format!("bad NATS URL `{url}`: {e}")))?;
        let driver = Driver::new()?;
        let (context, stream) = driver.run(open(url.to_owned(), servers, config.clone()))?;
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let instance = format!("{}-{nanos}-{}", std::process::id(), STORES.fetch_add(1, Ordering::Relaxed));
        Ok(JetStreamStore {
            driver,
            context,
            stream,
            config,
            sequences: Mutex::default(),
            instance,
            appends: AtomicU64::new(0),
        })
    }

    /// The subject of `mailbox`'s records.
    fn subject(&self, mailbox: &str) -> Result<String, JetStreamError> {
        let subject = format!("{}.{}", self.config.subject_prefix, token(mailbox));
        if subject.len() > MAX_SUBJECT {
            return Err(JetStreamError::NameTooLong(mailbox.len()));
        }
        Ok(subject)
    }

    fn remember(&self, mailbox: &str, id: u64, sequence: u64) {
        let mut sequences = lock(&self.sequences);
        let known = sequences.entry((mailbox.to_owned(), id)).or_default();
        if !known.contains(&sequence) {
            known.push(sequence);
        }
    }

    /// Takes the known sequences of `ids`; also returns the ids with none.
    fn take_sequences(&self, mailbox: &str, ids: &[u64]) -> (Vec<u64>, Vec<u64>) {
        let mut sequences = lock(&self.sequences);
        let (mut found, mut missing) = (Vec::new(), Vec::new());
        for &id in ids {
            match sequences.remove(&(mailbox.to_owned(), id)) {
                Some(known) => found.extend(known),
                None => missing.push(id),
            }
        }
        (found, missing)
    }

    /// Publishes `records`; returns once JetStream has stored them all.
    fn publish(&self, records: &[Record]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let append = self.appends.fetch_add(1, Ordering::Relaxed);
        let mut messages = Vec::with_capacity(records.len());
        for (index, r) in records.iter().enumerate() {
            let mut headers = HeaderMap::new();
            headers.insert(ID_HEADER, r.id.to_string());
            headers.insert(SOURCE_HEADER, token(&r.source));
            let publish = Publish::build()
                .headers(headers)
                .payload(r.body.clone())
                .message_id(format!("{}-{append}-{index}", self.instance));
            messages.push((self.subject(&r.mailbox)?, publish));
        }
        let (context, config) = (self.context.clone(), self.config.clone());
        let (sequences, failure) =
            self.driver.run(async move { Ok(publish_all(&context, &config, messages).await) })?;
        for (r, sequence) in records.iter().zip(sequences) {
            if let Some(sequence) = sequence {
                self.remember(&r.mailbox, r.id, sequence);
            }
        }
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }

    /// Deletes the messages `ids` of `mailbox` from the stream.
    fn delete(&self, mailbox: &str, ids: &[u64]) -> io::Result<()> {
        let (mut doomed, missing) = self.take_sequences(mailbox, ids);
        if !missing.is_empty() {
            // Written by another store (before a restart, say): look them up. Ids not
            // found are already gone.
            self.load(mailbox)?;
            doomed.extend(self.take_sequences(mailbox, &missing).0);
        }
        if doomed.is_empty() {
            return Ok(());
        }
        let (stream, attempts) = (self.stream.clone(), self.config.attempts);
        self.driver.run(async move { delete_all(&stream, attempts, doomed).await })?;
        Ok(())
    }
}

fn validate(config: &JetStreamConfig) -> Result<(), JetStreamError> {
    let bad = |what: String| Err(JetStreamError::Config(what));
    let prefix = &config.subject_prefix;
    if prefix.split('.').any(|t| t.is_empty() || t.contains(['*', '>']) || t.contains(char::is_whitespace)) {
        return bad(format!("subject prefix `{prefix}` is not a subject without wildcards"));
    }
    if prefix.len() + 2 > MAX_SUBJECT {
        return bad(format!("subject prefix of {} bytes is too long", prefix.len()));
    }
    if !(1..=5).contains(&config.replicas) {
        return bad(format!("{} replicas: JetStream keeps 1 to 5", config.replicas));
    }
    if config.attempts == 0 || config.timeout.is_zero() {
        return bad("attempts and timeout must not be zero".into());
    }
    Ok(())
}

/// Connects, checks JetStream, and opens or creates the stream.
async fn open(
    url: String,
    servers: Vec<async_nats::ServerAddr>,
    config: JetStreamConfig,
) -> Result<(js::Context, stream::Stream), JetStreamError> {
    let failed = |reason: String| JetStreamError::Connect { url: url.clone(), reason };
    let options = async_nats::ConnectOptions::new()
        .name("courier-mailbox-store")
        .connection_timeout(config.timeout)
        .request_timeout(Some(config.timeout));
    // The connector tries each server once, each within the timeout; this bounds the rest.
    let bound = config.timeout.saturating_mul(u32::try_from(servers.len()).unwrap_or(u32::MAX).saturating_add(1));
    let client = tokio::time::timeout(bound, options.connect(servers))
        .await
        .map_err(|_| failed(format!("no connection within {bound:?}")))?
        .map_err(|e| failed(e.to_string()))?;
    let mut context = js::new(client);
    context.set_timeout(config.timeout);
    // Both need the cluster's leaders, which may be being elected: retried.
    retrying(config.attempts, format!("JetStream account info at {url}"), || async {
        context.query_account().await.map(drop).map_err(|e| e.to_string())
    })
    .await?;
    let wanted = format!("{}.>", config.subject_prefix);
    let stream_config = stream::Config {
        name: config.stream.clone(),
        subjects: vec![wanted.clone()],
        storage: stream::StorageType::File,
        num_replicas: config.replicas,
        ..Default::default()
    };
    let stream = retrying(config.attempts, format!("open or create stream `{}`", config.stream), || async {
        context.get_or_create_stream(stream_config.clone()).await.map_err(|e| e.to_string())
    })
    .await?;
    let subjects = &stream.cached_info().config.subjects;
    if !subjects.contains(&wanted) {
        let reason = format!("it exists and captures {subjects:?}, not `{wanted}`");
        return Err(JetStreamError::Stream { stream: config.stream, reason });
    }
    Ok((context, stream))
}

impl Store for JetStreamStore {
    /// Publishes the records, then deletes the removals (JetStream has no transaction
    /// across the two).
    fn commit(&self, records: &[Record], removals: &[(String, u64)]) -> io::Result<()> {
        self.publish(records)?;
        for group in removals.chunk_by(|a, b| a.0 == b.0) {
            let ids: Vec<u64> = group.iter().map(|(_, id)| *id).collect();
            self.delete(&group[0].0, &ids)?;
        }
        Ok(())
    }

    fn load(&self, mailbox: &str) -> io::Result<Vec<Record>> {
        let subject = self.subject(mailbox)?;
        let (stream, attempts) = (self.stream.clone(), self.config.attempts);
        let messages = self.driver.run(async move { read_subject(&stream, attempts, subject).await })?;
        // Oldest first by id; a record appended twice counts once, as its latest copy.
        let mut records = BTreeMap::new();
        for message in messages {
            let record = parse(&self.config.stream, mailbox, message.sequence, &message)?;
            self.remember(mailbox, record.id, message.sequence);
            records.insert(record.id, record);
        }
        Ok(records.into_values().collect())
    }

    fn mailboxes(&self) -> io::Result<Vec<String>> {
        let prefix = format!("{}.", self.config.subject_prefix);
        let (stream, attempts, filter) = (self.stream.clone(), self.config.attempts, format!("{prefix}>"));
        let subjects = self.driver.run(async move { list_subjects(&stream, attempts, filter).await })?;
        let mut names = BTreeSet::new();
        for (subject, count) in subjects {
            let name = subject.strip_prefix(&prefix).and_then(untoken).ok_or_else(|| JetStreamError::Malformed {
                stream: self.config.stream.clone(),
                what: format!("subject `{subject}`"),
                reason: "not the prefix and one escaped mailbox name".into(),
            })?;
            if count > 0 {
                names.insert(name);
            }
        }
        Ok(names.into_iter().collect())
    }
}

/// The subjects matching `filter` that hold messages, with how many each.
async fn list_subjects(
    stream: &stream::Stream,
    attempts: u32,
    filter: String,
) -> Result<Vec<(String, usize)>, JetStreamError> {
    retrying(attempts, format!("list the subjects of `{filter}`"), || async {
        let mut pages = stream.info_with_subjects(&filter).await.map_err(|e| e.to_string())?;
        let mut subjects = Vec::new();
        while let Some(subject) = pages.next().await {
            subjects.push(subject.map_err(|e| e.to_string())?);
        }
        Ok(subjects)
    })
    .await
}

/// Publishes every message, then awaits every acknowledgement; sends the unacknowledged
/// ones again (same message ids) up to `config.attempts` times in all. Returns each
/// message's stream sequence, if acknowledged, and the failure, if any was not.
async fn publish_all(
    context: &js::Context,
    config: &JetStreamConfig,
    messages: Vec<(String, Publish)>,
) -> (Vec<Option<u64>>, Option<JetStreamError>) {
    let total = messages.len();
    let mut sequences = vec![None; total];
    let mut pending: Vec<usize> = (0..total).collect();
    let mut reason = String::new();
    for attempt in 1..=config.attempts {
        pause_before(attempt).await;
        let mut failed = Vec::new();
        let mut acks = Vec::with_capacity(pending.len());
        for index in pending {
            let (subject, publish) = &messages[index];
            match context.send_publish(subject.clone(), publish.clone()).await {
                Ok(ack) => acks.push(async move { (index, ack.await) }),
                Err(e) => {
                    reason = e.to_string();
                    failed.push(index);
                }
            }
        }
        for (index, ack) in futures_util::future::join_all(acks).await {
            match ack {
                Ok(ack) => sequences[index] = Some(ack.sequence),
                Err(e) if e.kind() == PublishErrorKind::StreamNotFound => {
                    reason = format!("nothing answered (the stream is missing, or electing a leader): {e}");
                    failed.push(index);
                }
                Err(e) => {
                    reason = e.to_string();
                    failed.push(index);
                }
            }
        }
        if failed.is_empty() {
            return (sequences, None);
        }
        pending = failed;
    }
    let failed = sequences.iter().filter(|s| s.is_none()).count();
    (sequences, Some(JetStreamError::Unacknowledged { failed, total, attempts: config.attempts, reason }))
}

/// Deletes the messages at `sequences`; one already gone counts as deleted.
async fn delete_all(stream: &stream::Stream, attempts: u32, sequences: Vec<u64>) -> Result<(), JetStreamError> {
    for sequence in sequences {
        retrying(attempts, format!("delete message {sequence}"), || async move {
            match stream.delete_message(sequence).await {
                Ok(_) => Ok(()),
                // nats-server 2.9 answers "no message found" with the generic delete
                // failure (10057); only a lookup tells it from others.
                Err(e) if matches!(e.kind(), DeleteMessageErrorKind::JetStream(_)) => {
                    match stream.get_raw_message(sequence).await {
                        Err(gone) if gone.kind() == RawMessageErrorKind::NoMessageFound => Ok(()),
                        _ => Err(e.to_string()),
                    }
                }
                Err(e) => Err(e.to_string()),
            }
        })
        .await?;
    }
    Ok(())
}

/// Every message on `subject`, in stream order, each read from the stream leader.
async fn read_subject(
    stream: &stream::Stream,
    attempts: u32,
    subject: String,
) -> Result<Vec<StreamMessage>, JetStreamError> {
    let mut messages = Vec::new();
    let mut next = 1;
    loop {
        let found = retrying(attempts, format!("read `{subject}` from sequence {next}"), || {
            let subject = &subject;
            async move {
                match stream.get_first_raw_message_by_subject(subject, next).await {
                    Ok(message) => Ok(Some(message)),
                    Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => Ok(None),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await?;
        let Some(message) = found else { return Ok(messages) };
        // The server answers with a sequence at or after `next`; anything else would loop.
        if message.sequence < next {
            return Err(JetStreamError::Stream {
                stream: stream.cached_info().config.name.clone(),
                reason: format!("asked for sequence {next} or later, got {}", message.sequence),
            });
        }
        next = message.sequence.saturating_add(1);
        messages.push(message);
    }
}

/// Runs `request` until it succeeds, at most `attempts` times, pausing between tries.
async fn retrying<T, F: Future<Output = Result<T, String>>>(
    attempts: u32,
    what: String,
    mut request: impl FnMut() -> F,
) -> Result<T, JetStreamError> {
    let mut reason = String::new();
    for attempt in 1..=attempts {
        pause_before(attempt).await;
        match request().await {
            Ok(value) => return Ok(value),
            Err(e) => reason = e,
        }
    }
    Err(JetStreamError::Request { what, attempts, reason })
}

/// Waits before try `attempt` (not before the first).
async fn pause_before(attempt: u32) {
    if attempt > 1 {
        let factor = 2u32.saturating_pow(attempt - 2).min(MAX_PAUSE_FACTOR);
        tokio::time::sleep(RETRY_PAUSE * factor).await;
    }
}

/// The record a stream message holds.
fn parse(stream: &str, mailbox: &str, sequence: u64, message: &StreamMessage) -> Result<Record, JetStreamError> {
    let malformed = |reason: &str| JetStreamError::Malformed {
        stream: stream.to_owned(),
        what: format!("message {sequence}"),
        reason: reason.into(),
    };
    let header = |name: &str| message.headers.get(name).map(|v| v.as_str());
    let id = header(ID_HEADER)
        .ok_or_else(|| malformed("no Courier-Id header"))?
        .parse()
        .map_err(|_| malformed("the Courier-Id header is not a number"))?;
    let source = header(SOURCE_HEADER)
        .and_then(untoken)
        .ok_or_else(|| malformed("no Courier-Source header, or not an escaped UTF-8 string"))?;
    Ok(Record { mailbox: mailbox.to_owned(), id, source, body: message.payload.clone() })
}

/// `text` as one subject token: ASCII letters, digits, `-` and `_` as they are, every
/// other byte as `%XX`; the empty string as `%`. Also makes header values safe.
fn token(text: &str) -> String {
    if text.is_empty() {
        return "%".into();
    }
    let mut token = String::with_capacity(text.len());
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            token.push(char::from(b));
        } else {
            token.push_str(&format!("%{b:02X}"));
        }
    }
    token
}

/// The text `token` made; `None` if `token` did not come from [`token`].
fn untoken(token: &str) -> Option<String> {
    if token == "%" {
        return Some(String::new());
    }
    let mut bytes = Vec::with_capacity(token.len());
    let mut rest = token.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = tail.get(..2)?;
            bytes.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_keep_plain_names_and_escape_everything_else() {
        assert_eq!(token("orders-2_b"), "orders-2_b");
        assert_eq!(token("a.b c*>%"), "a%2Eb%20c%2A%3E%25");
        assert_eq!(token("é"), "%C3%A9");
        assert_eq!(token(""), "%");
    }

    #[test]
    fn tokens_decode_to_the_text_they_came_from() {
        for text in ["", "%", "plain", "a.b c*>\r\n%", "名前", "%25"] {
            assert_eq!(untoken(&token(text)).as_deref(), Some(text), "{text:?}");
        }
        // Distinct texts, distinct tokens: `%` alone and `%25` are not confused.
        assert_ne!(token(""), token("%"));
    }

    #[test]
    fn tokens_not_made_by_token_are_refused() {
        for bad in ["%4", "%zz", "%C3", "%%"] {
            assert_eq!(untoken(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn configurations_that_cannot_work_are_refused() {
        let ok = JetStreamConfig::default();
        assert!(validate(&ok).is_ok());
        for bad in [
            JetStreamConfig { subject_prefix: "a..b".into(), ..ok.clone() },
            JetStreamConfig { subject_prefix: "a.*".into(), ..ok.clone() },
            JetStreamConfig { subject_prefix: "a b".into(), ..ok.clone() },
            JetStreamConfig { replicas: 0, ..ok.clone() },
            JetStreamConfig { replicas: 6, ..ok.clone() },
            JetStreamConfig { attempts: 0, ..ok.clone() },
            JetStreamConfig { timeout: Duration::ZERO, ..ok.clone() },
        ] {
            assert!(matches!(validate(&bad), Err(JetStreamError::Config(_))), "{bad:?}");
        }
    }
}
