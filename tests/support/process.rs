//! Child processes of the tests (`concord` nodes): how they are started, how the ports they
//! bound are learned, and how they are stopped, whatever state the test is in.
//!
//! Invariants:
//! - A child never outlives the test process. It runs in its own process group, which is
//!   killed when its [`ChildProcess`] drops, and it has a parent-death signal (SIGKILL, set
//!   with `prctl(PR_SET_PDEATHSIG)` before exec), so a test binary that aborts or is killed
//!   takes its nodes with it. Linux sends that signal when the *thread* that forked the child
//!   ends, and libtest ends a test's thread with the test, so every child is forked by one
//!   spawner thread that lives as long as the process.
//! - Cleanup never panics: signalling or killing a child that already exited (and was reaped)
//!   is a no-op, so a destructor running while a failing test unwinds cannot abort the binary.
//! - A node is started with `--port 0` (and `--peer-port 0`) where the test has no reason to
//!   choose; it binds a free port itself and reports it on stdout as one line
//!   (`concord listening client=ADDRESS peer=ADDRESS|none`), which [`ChildProcess::listening`]
//!   waits for. No port is picked by binding port 0, releasing it and hoping it stays free.
//!
//! [`concord`] is the one place that names the binary under test: every test that runs it,
//! as a server, a cluster member, a Maelstrom node or a one-shot command, starts from it.

use std::io::{self, BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A command that runs the `concord` binary built for this test run, with no arguments yet.
pub fn concord() -> Command {
    Command::new(env!("CARGO_BIN_EXE_concord"))
}

/// The addresses a node reported once it bound its listeners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listening {
    pub client: SocketAddr,
    /// `None` for a node that runs alone (no peer port).
    pub peer: Option<SocketAddr>,
    /// The TLS client port; `None` for a node without TLS.
    pub tls: Option<SocketAddr>,
}

/// Reads the listening line: `concord listening client=127.0.0.1:6379 peer=none`, with
/// ` tls=127.0.0.1:6380` after it on a node with a TLS port.
pub fn parse_listening(line: &str) -> Option<Listening> {
    let fields = line.trim().strip_prefix("concord listening ")?;
    let mut client = None;
    let mut peer = None;
    let mut tls = None;
    for field in fields.split_whitespace() {
        match field.split_once('=')? {
            ("client", address) => client = Some(address.parse().ok()?),
            ("peer", "none") => {}
            ("peer", address) => peer = Some(address.parse().ok()?),
            ("tls", address) => tls = Some(address.parse().ok()?),
            _ => {}
        }
    }
    Some(Listening { client: client?, peer, tls })
}

/// A child process of the test; dropping it kills its process group.
pub struct ChildProcess {
    child: Child,
    /// The exit status once the child was reaped; then its pid may belong to another process
    /// and is never signalled again.
    exited: Option<ExitStatus>,
    listening: Option<mpsc::Receiver<Listening>>,
}

/// A command for the spawner thread, and where its outcome goes.
type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Forks `command` on the spawner thread (see the module doc).
fn spawn_from_lasting_thread(command: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (sender, requests) = mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("child-spawner".into())
            .spawn(move || {
                for (mut command, reply) in requests {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("the spawner thread starts");
        Mutex::new(sender)
    });
    let (reply, outcome) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .send((command, reply))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    outcome.recv().map_err(|_| io::Error::other("the spawner thread is gone"))?
}

impl ChildProcess {
    /// Starts `command` in its own process group with the parent-death signal set.
    pub fn spawn(mut command: Command) -> io::Result<ChildProcess> {
        // SAFETY: getpid(2) has no preconditions.
        let parent = unsafe { libc::getpid() };
        command.process_group(0);
        // SAFETY: the closure runs in the forked child before exec and calls only prctl(2)
        // and getppid(2), which are async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died between fork and prctl: then no signal would come.
                if libc::getppid() != parent {
                    return Err(io::Error::other("the test process exited during the start"));
                }
                Ok(())
            });
        }
        let child = spawn_from_lasting_thread(command)?;
        Ok(ChildProcess { child, exited: None, listening: None })
    }

    /// Starts a node: `command` must run `concord serve`; its stdout is read for the listening
    /// line, and every stdout line is copied to `stdout_copy` (the node's log file, say).
    pub fn spawn_node(
        mut command: Command,
        stdout_copy: Option<std::fs::File>,
    ) -> io::Result<ChildProcess> {
        command.stdout(Stdio::piped());
        let mut process = ChildProcess::spawn(command)?;
        let stdout = process.child.stdout.take().expect("stdout was piped");
        process.listening = Some(watch_stdout(stdout, stdout_copy));
        Ok(process)
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if the child has ended (reaping it).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exited.is_none() {
            self.exited = self.child.try_wait().ok().flatten();
        }
        self.exited
    }

    /// Waits at most `timeout` for the child to end.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends `signal` to the child; `false` if it is gone (never panics).
    pub fn signal(&mut self, signal: libc::c_int) -> bool {
        if self.try_wait().is_some() {
            return false;
        }
        let Ok(pid) = libc::pid_t::try_from(self.child.id()) else { return false };
        // SAFETY: kill(2) on our own child, which is not reaped yet, so the pid is still ours
        // (a zombie keeps it).
        unsafe { libc::kill(pid, signal) == 0 }
    }

    /// Kills the child's whole process group with SIGKILL (a stopped child too) and reaps it.
    /// Never panics, whatever state the child is in.
    pub fn kill(&mut self) {
        if self.exited.is_none() {
            if let Ok(group) = libc::pid_t::try_from(self.child.id()) {
                // SAFETY: the group is the child's own (process_group(0)), and the child is not
                // reaped, so its id still names that group.
                unsafe {
                    libc::killpg(group, libc::SIGKILL);
                }
            }
            let _ = self.child.kill();
            self.exited = self.child.wait().ok();
        }
    }

    /// Waits at most `timeout` for the node's listening line; fails if the child exits first.
    pub fn listening(&mut self, timeout: Duration) -> Result<Listening, String> {
        // The line comes once: whoever waits for it takes the channel.
        let receiver = self.listening.take().ok_or("the child was not started as a node")?;
        let deadline = Instant::now() + timeout;
        loop {
            match receiver.recv_timeout(Duration::from_millis(20)) {
                Ok(listening) => return Ok(listening),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.wait_timeout(Duration::from_secs(10));
                    return Err(format!("it exited ({status:?}) before it listened"));
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Some(status) = self.try_wait() {
                return Err(format!("it exited with {status} before it listened"));
            }
            if Instant::now() >= deadline {
                return Err(format!("it did not report its ports within {timeout:?}"));
            }
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads a node's stdout on a thread: the listening line goes to the returned channel, and
/// every line to `copy` if given. The thread ends when the node closes its stdout.
fn watch_stdout(stdout: ChildStdout, mut copy: Option<std::fs::File>) -> mpsc::Receiver<Listening> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if let Some(file) = copy.as_mut() {
                let _ = writeln!(file, "{line}");
            }
            if let Some(listening) = parse_listening(&line) {
                let _ = sender.send(listening);
            }
        }
    });
    receiver
}
