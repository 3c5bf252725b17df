"""One host over SSH with fabric: upload the runner and the revision (skipped when the same sha256 is
there; one command checks both), run `python3 RUNNER deploy ... --format jsonl` and turn its JSON lines
into `HostEvent`s as they arrive (stream.py). The host keeps the `keep_revisions` most recently used
revision archives (default 5) and the `KEEP_RUNNERS` most recently used runners; an upload removes older
ones, and uploads left half-done for over an hour, in the command that verifies its sha256
(remote_files.py).

Host keys are checked by default: keys come from ~/.ssh/known_hosts, the host's `UserKnownHostsFile`
(ssh_config) and the `known_hosts` file given; an unknown host is refused (paramiko's RejectPolicy, where
fabric alone would accept any key). `host_key_policy="accept-new"` trusts a first-seen key and records
it in `known_hosts`, like OpenSSH's `StrictHostKeyChecking accept-new`; a changed key is always refused.

Every word sent to the remote shell goes through `shlex.quote`. A host failure (SSH error, the host
vanishing mid-deploy, a timeout) is a Failed `HostOutcome` with a one-line reason, never an exception.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from agent_shim.fleet.contracts import FAILED, EventSink, HostOutcome, HostSpec
from agent_shim.fleet.liveness import Liveness, SilenceListener
from agent_shim.fleet.remote_files import (
    ARCHIVE_NAME,
    KEEP_RUNNERS,
    RUNNER_NAME,
    check_command,
    parse_check,
    parse_python,
    prune_command,
)
from agent_shim.fleet.stream import PID_MARKER, RunnerStream

RUNNER_DIR = ".appspec-runner"  # under the login user's home
KILL_TIMEOUT = 5.0  # for stopping a runner that ran out of time
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
KEEP_REVISIONS = 5  # revision archives kept in the runner directory, counting the one in use


class TransportError(Exception):
    """An SSH failure while preparing a host (upload, a command): the message is one line with the host."""


@dataclass
class CommandResult:
    exited: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exited == 0


def describe_ssh_error(exc: BaseException, transport: Optional[SshTransport] = None) -> str:
    """A one-line reason for an SSH or network failure, in the user's terms, with the fix."""
    import paramiko

    spec = transport.spec if transport is not None else None
    port = (spec.port if spec else None) or 22
    address = spec.address if spec else "the host"
    known_hosts = (transport.known_hosts if transport else None) or "~/.ssh/known_hosts"
    if transport is not None and transport.dead:
        return transport.dead
    if isinstance(exc, paramiko.BadHostKeyException):
        return (
            f"the host key of {exc.hostname} is not the one in known_hosts: if the host was rebuilt, remove the "
            f"old key (ssh-keygen -f {known_hosts} -R {exc.hostname}), else do not connect"
        )
    if isinstance(exc, paramiko.AuthenticationException):
        user = f"user {spec.user}" if spec and spec.user else "the login user"
        return f"authentication failed for {user}: check the host's key and user in the group file ({exc})"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        wait = f" within {transport.connect_timeout:g}s (ssh.connect_timeout)" if transport else ""
        return f"no answer{wait}: is the host up and port {port} reachable?"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused on port {port}: is sshd running there?"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {address} ({exc.strerror}): check the host's address"
    if isinstance(exc, paramiko.ssh_exception.NoValidConnectionsError):
        return f"connection refused or unreachable on port {port}: is sshd running there?"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "not found in known_hosts" in text:
        keyscan = f"ssh-keyscan{' -p ' + str(port) if port != 22 else ''} {address} >> {known_hosts}"
        return (
            f"{address} is not in known_hosts: add its key ({keyscan}) after checking it, or set "
            "ssh.host_key_policy: accept-new"
        )
    if isinstance(exc, (EOFError, paramiko.SSHException)) and text in ("EOFError", "SSH session not active"):
        return "the connection was closed"
    return text


class SshTransport:
    """`HostTransport` over SSH for one `HostSpec`; the connection opens on first use."""

    def __init__(
        self,
        spec: HostSpec,
        *,
        known_hosts: Optional[str] = None,
        host_key_policy: str = "reject",
        ssh_config: Optional[str] = None,
        connect_timeout: float = 10.0,
        runner_dir: str = RUNNER_DIR,
        python: str = "python3",
        upload_timeout: float = 600.0,
        keep_revisions: int = KEEP_REVISIONS,
        server_alive_interval: float = 15.0,
        server_alive_count_max: int = 3,
    ) -> None:
        if host_key_policy not in ("reject", "accept-new"):
            raise ValueError(f"host_key_policy {host_key_policy!r}: use reject or accept-new")
        if keep_revisions < 1:
            raise ValueError(f"keep_revisions {keep_revisions}: keep at least 1 (the revision in use)")
        self.spec = spec
        self.known_hosts = known_hosts
        self.host_key_policy = host_key_policy
        self.ssh_config = ssh_config
        self.connect_timeout = connect_timeout
        self.runner_dir = runner_dir
        self.python = python
        self.upload_timeout = upload_timeout
        self.keep_revisions = keep_revisions
        self.server_alive_interval = server_alive_interval
        self.server_alive_count_max = server_alive_count_max
        self.on_silence: Optional[SilenceListener] = None  # the live view's "waiting on SSH" line
        self._connection: Any = None
        self._liveness: Optional[Liveness] = None
        self._dead: Optional[str] = None  # why the last connection was declared dead
        self._home: Optional[str] = None
        self.python_path: Optional[str] = None  # where the last check found `python` on the host
        self._checked: Dict[Tuple[str, str], bool] = {}  # what `check` learnt, for the next upload

    # -- connection ------------------------------------------------------------------------------------
    @property
    def where(self) -> str:
        return f"{self.spec.name} ({self.spec.address}{':' + str(self.spec.port) if self.spec.port else ''})"

    def _connect(self) -> Any:
        if self._connection is not None and self._connection.is_connected:
            return self._connection
        import fabric
        import paramiko

        config = fabric.Config(runtime_ssh_path=self.ssh_config) if self.ssh_config else fabric.Config()
        connect_kwargs: Dict[str, Any] = {}
        if self.spec.key:
            connect_kwargs["key_filename"] = os.path.expanduser(self.spec.key)
        connection = fabric.Connection(
            host=self.spec.address,
            port=self.spec.port,
            user=self.spec.user,
            config=config,
            connect_timeout=self.connect_timeout,
            connect_kwargs=connect_kwargs,
        )
        client = connection.client
        try:
            client.load_system_host_keys()
        except (OSError, paramiko.SSHException):
            pass  # no readable ~/.ssh/known_hosts
        for path in connection.ssh_config.get("userknownhostsfile", "").split():
            if os.path.exists(os.path.expanduser(path)):
                client.load_host_keys(os.path.expanduser(path))
        if self.known_hosts:
            if not os.path.exists(self.known_hosts) and self.host_key_policy == "accept-new":
                open(self.known_hosts, "a").close()
            client.load_host_keys(self.known_hosts)  # also where accept-new records first-seen keys
        policy = paramiko.AutoAddPolicy() if self.host_key_policy == "accept-new" else paramiko.RejectPolicy()
        client.set_missing_host_key_policy(policy)
        connection.open()
        self._dead = None
        self._liveness = Liveness(
            connection.transport, self.server_alive_interval, self.server_alive_count_max, self._silence
        )
        try:  # many small messages each way: Nagle + delayed ACK would add ~40 ms to each
            connection.transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (AttributeError, OSError):
            pass  # a gateway's channel or a ProxyCommand, not a TCP socket
        self._connection = connection
        return connection

    def _silence(self, text: str) -> None:
        """The live view's listener as it is now (a preflight connection gets it later)."""
        if self.on_silence is not None:
            self.on_silence(text)

    @property
    def dead(self) -> Optional[str]:
        """Why the host was declared dead (no answer to SSH keepalives), or None."""
        if self._liveness is not None and self._liveness.reason:
            self._dead = self._liveness.reason
        return self._dead

    def close(self) -> None:
        self.dead  # noqa: B018 - keep the verdict of the connection being closed
        if self._liveness is not None:
            self._liveness.stop()
            self._liveness = None
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # closing a dead connection must not hide the outcome
                pass
            self._connection = None

    @contextlib.contextmanager
    def _watchdog(self, seconds: float) -> Iterator[None]:
        """Bound what paramiko may wait for without a timeout of its own (a channel request to a host
        whose network vanished without a reset): past `seconds`, the connection is closed under it."""
        timer = threading.Timer(seconds, self._abort)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()

    def _abort(self) -> None:
        connection = self._connection
        if connection is not None:
            try:
                connection.client.close()
            except Exception:  # the point is to unblock the waiting thread, whatever state it is in
                pass

    def _fail(self, action: str, exc: BaseException) -> TransportError:
        reason = describe_ssh_error(exc, self)
        self.close()
        return TransportError(f"ssh {self.where}: {action}: {reason}")

    # -- commands --------------------------------------------------------------------------------------
    def run(
        self, command: Union[str, Sequence[str]], timeout: float = 60.0, action: str = ""
    ) -> CommandResult:
        """Run a command on the host (a list is quoted word by word) and collect its output; raises
        `TransportError` on an SSH failure or a timeout, saying what was being done (`action`)."""
        text = command if isinstance(command, str) else " ".join(shlex.quote(word) for word in command)
        try:
            connected = self._connection is not None and self._connection.is_connected
            with self._watchdog(timeout + (0 if connected else self.connect_timeout)):
                channel = self._connect().create_session()
                channel.settimeout(timeout)
                channel.exec_command(text)
                stdout = channel.makefile("rb").read()
                stderr = channel.makefile_stderr("rb").read()
                exited = channel.recv_exit_status()
                channel.close()
        except Exception as exc:
            words = text.split(None, 1)
            raise self._fail(action or f"running {words[0] if words else 'a command'}", exc) from None
        return CommandResult(exited, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))

    def home(self) -> str:
        """The login's home directory: learnt from the first check (`present`), else asked of SFTP."""
        if self._home is None:
            try:
                self._home = self._connect().sftp().normalize(".")
            except Exception as exc:
                raise self._fail("finding the home directory", exc) from None
        return self._home

    def _absolute(self, path: str) -> str:
        """`path` on the host; a relative one is under the login's home (the remote shell's first cwd)."""
        return path if path.startswith("/") else f"{self.home()}/{path}"

    def present(self, files: Sequence[Tuple[str, str]]) -> List[bool]:
        """Whether each (path, sha256) is on the host, in one command that also touches each one present
        (it counts as just used for pruning) and learns the home directory. Relative paths are under
        the home directory."""
        result = self.run(check_command(files, self.python), action="connecting")
        home, sums = parse_check(result.stdout)
        self.python_path = parse_python(result.stdout)
        if not result.ok or home is None or len(sums) != len(files):
            detail = result.stderr.strip() or result.stdout.strip() or f"exit code {result.exited}"
            raise TransportError(
                f"ssh {self.where}: checking the uploads: {detail.splitlines()[-1][:200]} (the host needs a "
                "POSIX login shell and sha256sum or shasum)"
            )
        if self._home is None and home.startswith("/"):
            self._home = home
        return [found == checksum for found, (_, checksum) in zip(sums, files)]

    def checksum_and_prune(self, path: str, checksum: str, pattern: str, keep: int) -> Optional[str]:
        """The sha256 of an upload (None when missing), in one command that, when it is `checksum`, also
        marks it as just used (mtime) and removes the other files of its folder named like `pattern` beyond
        `keep`."""
        result = self.run(prune_command(path, checksum, keep, pattern), action="verifying the upload")
        sums = parse_check(result.stdout)[1]
        return sums[0] if result.ok and sums and sums[0] != "-" else None

    def _upload(self, local: str, remote: str, checksum: str, pattern: str, keep: int) -> str:
        """Upload `local` to `remote` (relative: under the home directory), verify its sha256 and prune the
        folder's older uploads (`checksum_and_prune`): the count only grows on an upload."""
        remote = self._absolute(remote)
        directory = remote.rsplit("/", 1)[0]
        made = self.run(["mkdir", "-p", "-m", "700", "--", directory], action=f"creating {directory}")
        if not made.ok:
            raise TransportError(f"ssh {self.where}: mkdir {directory}: {made.stderr.strip()[:200]}")
        partial = f"{remote}.{os.getpid()}.{time.monotonic_ns()}.part"
        try:
            with self._watchdog(self.upload_timeout):
                sftp = self._connect().sftp()
                sftp.put(local, partial)
                sftp.posix_rename(partial, remote)  # atomic: a file named by its checksum is always whole
        except Exception as exc:
            raise self._fail(f"uploading {os.path.basename(local)}", exc) from None
        uploaded = self.checksum_and_prune(remote, checksum, pattern, keep)
        if uploaded != checksum:
            raise TransportError(
                f"ssh {self.where}: {remote} has sha256 {uploaded} after upload, not {checksum}"
            )
        return remote

    def _runner_file(self, checksum: str) -> str:
        return f"{self.runner_dir}/runner-{checksum[:16]}.pyz"

    def _revision_file(self, bundle_path: str, checksum: str) -> str:
        suffix = next((s for s in ARCHIVE_SUFFIXES if bundle_path.lower().endswith(s)), None)
        if suffix is None:
            raise TransportError(
                f"ssh {self.where}: {bundle_path} is not a .zip, .tar or .tgz archive; bundle the revision first"
            )
        return f"{self.runner_dir}/revisions/{checksum}{suffix}"

    def ensure_runner(self, zipapp_path: str, checksum: str) -> str:
        return self.prepare_files([(zipapp_path, self._runner_file(checksum), checksum)])[0]

    def upload_revision(self, bundle_path: str, checksum: str) -> str:
        return self.prepare_files([(bundle_path, self._revision_file(bundle_path, checksum), checksum)])[0]

    def prepare(
        self, zipapp_path: str, runner_checksum: str, bundle_path: str, checksum: str
    ) -> Tuple[str, str]:
        """`ensure_runner` and `upload_revision` in one round trip when the host has both already."""
        runner, revision = self.prepare_files(
            [
                (zipapp_path, self._runner_file(runner_checksum), runner_checksum),
                (bundle_path, self._revision_file(bundle_path, checksum), checksum),
            ]
        )
        return runner, revision

    def check(self, zipapp_path: str, runner_checksum: str, bundle_path: str, checksum: str) -> None:
        """The preflight: connect and run the check command (one round trip), which says whether the host
        has python3 and the runner and revision already; raises TransportError with the reason. The next
        `prepare` uses the answer instead of asking again."""
        wanted = [(self._runner_file(runner_checksum), runner_checksum)] if zipapp_path else []
        if bundle_path:
            wanted.append((self._revision_file(bundle_path, checksum), checksum))
        have = self.present(wanted)
        if self.python_path is None:
            raise TransportError(
                f"ssh {self.where}: {self.python} is not on the login's PATH: install python3 (3.8 or newer) "
                "on the host, as the CodeDeploy agent's hosts have it"
            )
        self._checked = dict(zip(wanted, have))

    def prepare_files(self, files: Sequence[Tuple[str, str, str]]) -> List[str]:
        """(local, remote, sha256) each: the remote path, uploaded unless the host has that sha256 there."""
        asked = [(remote, checksum) for _, remote, checksum in files]
        checked, self._checked = self._checked, {}
        have = [checked[a] for a in asked] if all(a in checked for a in asked) else self.present(asked)
        return [
            self._absolute(remote) if there else self._upload(local, remote, checksum, *self._pruning(remote))
            for there, (local, remote, checksum) in zip(have, files)
        ]

    def _pruning(self, remote: str) -> Tuple[str, int]:
        """Which of the folder's files an upload to `remote` prunes, and how many of them it keeps."""
        if remote.rsplit("/", 1)[-1].startswith("runner-"):
            return RUNNER_NAME, KEEP_RUNNERS
        return ARCHIVE_NAME, self.keep_revisions

    def runner_command(self, runner_path: str, arguments: Sequence[str]) -> str:
        """The remote shell line: report the runner's pid, then exec it with the host's environment."""
        words: List[str] = ["exec"]
        if self.spec.environment:
            words.append("env")
            for name, value in sorted(self.spec.environment.items()):
                if not ENV_NAME.match(name):
                    raise ValueError(
                        f"host {self.spec.name}: environment name {name!r} is not a valid variable name"
                    )
                words.append(shlex.quote(f"{name}={value}"))
        words += [
            shlex.quote(w) for w in (self.python, runner_path, "deploy", *arguments, "--format", "jsonl")
        ]
        return f"echo {PID_MARKER}$$; " + " ".join(words)

    # -- the deployment ----------------------------------------------------------------------------------
    def run_deployment(
        self, runner_path: str, arguments: Sequence[str], on_event: EventSink, timeout: float
    ) -> HostOutcome:
        with self._watchdog(timeout + self.connect_timeout + KILL_TIMEOUT + 5):
            return self._run_deployment(runner_path, arguments, on_event, timeout)

    def _run_deployment(
        self, runner_path: str, arguments: Sequence[str], on_event: EventSink, timeout: float
    ) -> HostOutcome:
        stream = RunnerStream(self.spec.name, on_event)
        outcome = HostOutcome(self.spec.name, FAILED, started=time.time())
        deadline = time.monotonic() + timeout
        try:
            command = self.runner_command(runner_path, arguments)
            channel = self._connect().create_session()
            channel.settimeout(0.25)
            channel.exec_command(command)
        except Exception as exc:
            outcome.reason = f"ssh {self.where}: starting the runner: {describe_ssh_error(exc, self)}"
            self.close()
            return stream.finish(outcome)
        try:
            while True:
                if time.monotonic() >= deadline:
                    stopped = self._kill_runner(stream.pid)
                    outcome.reason = (
                        f"timed out after {timeout:g}s (host_timeout){stream.during()}; {stopped}"
                    )
                    return stream.finish(outcome)
                while channel.recv_stderr_ready():
                    stream.feed_stderr(channel.recv_stderr(65536))
                try:
                    data = channel.recv(65536)
                except socket.timeout:
                    continue
                if not data:
                    break
                stream.feed(data)
            while channel.recv_stderr_ready():
                stream.feed_stderr(channel.recv_stderr(65536))
            exited = (
                channel.recv_exit_status()
                if channel.status_event.wait(max(0.0, deadline - time.monotonic()))
                else -1
            )
        except Exception as exc:
            reason = describe_ssh_error(exc, self)
            outcome.reason = f"ssh {self.where}: connection lost{stream.during()}: {reason}"
            self.close()
            return stream.finish(outcome)
        finally:
            stream.flush()
        if stream.result is None:
            if exited == -1:
                why = f": {self.dead}" if self.dead else " (no exit status)"
                outcome.reason = f"ssh {self.where}: connection lost{stream.during()}{why}"
                self.close()
            else:
                detail = stream.stderr_tail[-1] if stream.stderr_tail else "no output"
                outcome.reason = (
                    f"runner exited with code {exited} without a result{stream.during()}: {detail}"
                )
        return stream.finish(outcome)

    def _kill_runner(self, pid: Optional[int]) -> str:
        """Stop a runner that ran out of time: SIGTERM to its process group (sshd made it a session
        leader); hook scripts in their own groups are left, as the agent leaves them on a restart. What
        happened, in words: only a kill the host confirmed says the runner was stopped."""
        try:
            if pid is None:
                return "the runner's process id never arrived, so it could not be stopped"
            done = self.run(
                f"kill -TERM -- -{int(pid)} 2>/dev/null || kill -TERM {int(pid)}",
                timeout=KILL_TIMEOUT,
                action="stopping the runner",
            )
            if done.ok:
                return "the runner was stopped"
            return f"the runner (pid {pid}) was gone already or could not be signalled"
        except TransportError as exc:
            return f"the runner could not be stopped ({exc})"
        finally:
            self.close()
