"""The bad-input matrix (issue 7): for each tool, what a user can get wrong, with the exit
code and the message it gets. Every row of the README's table is one test here.

Read-only and full file systems are tmpfs mounts in a private mount namespace (unshare -m),
so nothing outside the test sees them; those rows need root (CI runs as root) and are
skipped otherwise.
"""
import json
import os
import shutil
import socket
import subprocess
import time
import unittest

from qctest import QcTestCase, helper, read_text, tool, wait_until

CAN_MOUNT = os.geteuid() == 0 and shutil.which("unshare") is not None


class BadInputTestCase(QcTestCase):
    def in_mount(self, mount_dir, options, argv, fill=False):
        """Runs argv with a fresh tmpfs (mount options `options`) on mount_dir, in a private
        mount namespace; with fill, the tmpfs is filled up first."""
        os.makedirs(mount_dir, exist_ok=True)
        script = 'mount -t tmpfs -o "$1" tmpfs "$2" || exit 99; '
        if fill:
            script += 'dd if=/dev/zero of="$2/filler" bs=4k 2>/dev/null; '
        script += 'shift 2; exec "$@"'
        return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", options, mount_dir] + argv,
                              capture_output=True, text=True, timeout=60, env=self.env, cwd=self.tmp)

    def assert_fails(self, result, code, *words):
        self.assertEqual(result.returncode, code, result.stdout + result.stderr)
        for word in words:
            self.assertIn(word, result.stdout + result.stderr)


@unittest.skipUnless(CAN_MOUNT, "needs root and unshare to mount a tmpfs in a private namespace")
class FileSystemTest(BadInputTestCase):
    def test_qc_lock_lock_dir_on_a_read_only_mount(self):
        d = self.path("ro")
        r = self.in_mount(d, "ro,size=64k", tool("qc-lock") + ["--lock-dir", d, "A", "--", "true"])
        self.assert_fails(r, 73, "read-only file system", "--lock-dir")

    def test_qc_lock_lock_dir_on_a_full_disk(self):
        d = self.path("full")
        r = self.in_mount(d, "size=64k", tool("qc-lock") + ["--lock-dir", d, "A", "--", "true"], fill=True)
        self.assert_fails(r, 73, "A", "space")

    def test_qc_run_log_dir_on_a_full_disk_keeps_supervising(self):
        d = self.path("full")
        r = self.in_mount(d, "size=64k", tool("qc-run") + ["--restart", "no", "--log-dir", d, "L", "--",
                                                           "sh", "-c", "echo output; exit 7"], fill=True)
        self.assertEqual(r.returncode, 7, r.stderr)  # the log is lost, the status is not

    def test_qc_launch_log_dir_on_a_read_only_mount(self):
        d = self.path("ro")
        cfg = self.path("MASTER_CONFIG.json")
        with open(cfg, "w") as f:
            json.dump({"LAUNCH": {"lock_dir": self.lock_dir, "log_dir": d,
                                  "programs": [{"name": "P", "command": ["true"]}]}}, f)
        r = self.in_mount(d, "ro,size=64k", tool("qc-launch") + [cfg])
        self.assert_fails(r, 73, d)


class LockFileTest(BadInputTestCase):
    def test_qc_lock_lock_file_is_a_directory(self):
        os.makedirs(self.lock_path("D"))
        self.assert_fails(self.run_tool("qc-lock", "D", "--", "true"), 73, "it is a directory")

    def test_qc_lock_lock_file_is_a_symlink_elsewhere(self):
        os.makedirs(self.lock_dir)
        target = self.path("precious.txt")
        with open(target, "w") as f:
            f.write("do not touch")
        os.symlink(target, self.lock_path("S"))
        self.assert_fails(self.run_tool("qc-lock", "S", "--", "true"), 73, "symbolic link")
        self.assertEqual(read_text(target), "do not touch")

    def test_qc_ps_lock_file_nested_a_million_levels(self):
        self.write_lock_file("DEEP", "[" * 1000000 + "]" * 1000000)
        [row] = self.ps_json("--all")
        self.assertEqual((row["name"], row["state"]), ("DEEP", "stale"))

    def test_qc_ps_lock_file_of_five_megabytes_of_garbage(self):
        self.write_lock_file("HUGE", os.urandom(5 * 1024 * 1024))
        [row] = self.ps_json("--all")
        self.assertEqual(row["state"], "stale")
        self.assertEqual(self.run_tool("qc-lock", "--clear-stale").returncode, 0)

    def test_qc_lock_lock_dir_is_a_file(self):
        blocker = self.path("file")
        open(blocker, "w").close()
        self.assert_fails(self.run_tool("qc-lock", "--lock-dir", blocker, "A", "--", "true"), 73, blocker)
        self.assert_fails(self.run_tool("qc-run", "--lock-dir", blocker, "A", "--", "true"), 73, blocker)
        self.assert_fails(self.run_tool("qc-ps", "--lock-dir", blocker), 66, blocker)


class ArgumentTest(BadInputTestCase):
    def test_qc_lock_name_with_bytes_that_are_not_utf8(self):
        r = subprocess.run(tool("qc-lock") + [b"\xff\xfeBRAIN", "--", "true"], capture_output=True,
                           env=self.env, timeout=30)
        self.assertEqual(r.returncode, 64)
        self.assertIn(b"\\xff\\xfeBRAIN", r.stderr)

    def test_qc_lock_command_with_ten_thousand_arguments(self):
        args = ["a%d" % i for i in range(10000)]
        r = self.run_tool("qc-lock", "MANY", "--", "sh", "-c", 'echo $#', "sh", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "10000")

    def test_qc_lock_wait_that_is_not_a_number(self):
        self.assert_fails(self.run_tool("qc-lock", "-w", "soon", "A", "--", "true"), 64, "soon")

    def test_empty_qc_lock_dir_means_the_default(self):
        env = dict(self.env, QC_LOCK_DIR="")
        r = self.run_tool("qc-lock", "E", "--", "sh", "-c", "ls .locks", env=env)
        self.assertEqual(r.returncode, 0)
        self.assertIn("E.lock", r.stdout)


class ConfigTest(BadInputTestCase):
    def write(self, data, mode="w"):
        path = self.path("MASTER_CONFIG.json")
        with open(path, mode) as f:
            f.write(data)
        return path

    def test_qc_launch_config_of_fifty_megabytes(self):
        path = self.write(b" " * (50 * 1024 * 1024) + b"{}", "wb")
        started = time.monotonic()
        self.assert_fails(self.run_tool("qc-launch", path), 78, "up to 16 MiB")
        self.assertLess(time.monotonic() - started, 5)

    def test_qc_launch_config_nested_a_million_levels(self):
        self.assert_fails(self.run_tool("qc-launch", self.write("[" * 1000000 + "]" * 1000000)), 78,
                          "nested deeper than 256")

    def test_qc_launch_config_with_bytes_that_are_not_utf8(self):
        path = self.write(b'{"LAUNCH": {"programs": [{"name": "\xff", "command": ["x"]}]}}', "wb")
        self.assert_fails(self.run_tool("qc-launch", path), 78, "invalid JSON", "line 1")

    def test_qc_launch_config_with_a_number_out_of_range(self):
        # Regression: fuzz_launch_config found 1e3483 throwing past the parse-error handler.
        path = self.write('{"ACCOUNTS": {"A": {"account": 15210e3483, "enabled": true}}, "LAUNCH": {}}')
        self.assert_fails(self.run_tool("qc-launch", path), 78, "invalid JSON", "number overflow")

    def test_qc_launch_config_that_is_empty_or_a_directory(self):
        self.assert_fails(self.run_tool("qc-launch", self.write("")), 78, "invalid JSON")
        d = self.path("dir.json")
        os.makedirs(d)
        self.assert_fails(self.run_tool("qc-launch", d), 66, "directory")

    def test_qc_launch_no_program_to_start(self):
        path = self.write(json.dumps({"ACCOUNTS": {"A": {"enabled": False}}, "LAUNCH": {
            "programs": [{"name": "B_{key}", "for_each": "account", "command": ["x"]}]}}))
        self.assert_fails(self.run_tool("qc-launch", path), 78, "no program to start")


class PeerTest(BadInputTestCase):
    def test_qc_heartbeat_peer_that_sends_a_hundred_megabytes(self):
        d = self.path("peer")
        os.makedirs(d)
        self.start(helper("zmq_peer.py") + ["huge", d])
        port = wait_until(lambda: read_text(os.path.join(d, "port")), message="the peer")
        started = time.monotonic()
        r = self.run_tool("qc-heartbeat", "-t", "3", "tcp://127.0.0.1:%s" % port)
        self.assert_fails(r, 2, "CRITICAL")
        self.assertLess(time.monotonic() - started, 4)

    def test_qc_heartbeat_gateway_variable_that_is_not_an_endpoint(self):
        r = self.run_tool("qc-heartbeat", env=dict(self.env, QC_GATEWAY="gateway:5555"))
        self.assert_fails(r, 3, "UNKNOWN", "gateway:5555")

    def test_qc_heartbeat_payload_nested_too_deep(self):
        self.assert_fails(self.run_tool("qc-heartbeat", "--payload", "{\"a\":" * 5000 + "1" + "}" * 5000),
                          3, "UNKNOWN", "--payload")

    def test_qc_heartbeat_serve_on_a_port_already_taken(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            r = self.run_tool("qc-heartbeat", "--serve", "tcp://127.0.0.1:%d" % port)
        self.assert_fails(r, 2, "cannot serve on", "in use")


class ShutdownInputTest(BadInputTestCase):
    def test_qc_shutdown_lock_dir_that_does_not_exist(self):
        r = self.run_tool("qc-shutdown", "--yes", "--lock-dir", self.path("missing"))
        self.assert_fails(r, 0, "Nothing to stop")
        self.assertFalse(os.path.exists(self.path("missing")))


if __name__ == "__main__":
    unittest.main()
