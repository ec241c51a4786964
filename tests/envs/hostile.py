"""An env whose tools attack the host. Every tool must end as a per-env error or a harmless
observation, never as damage to the host, the process, or the other envs of the pool."""

import json

import gymnasium


class HostileEnv(gymnasium.Env):
    def __init__(self, env_str=None):
        super().__init__()
        self.step_count = 0
        self._done = False

    @staticmethod
    def from_env_str(env_str):
        return HostileEnv(env_str) if env_str.startswith("HostileEnv@") else None

    @property
    def finished(self):
        return self._done

    @property
    def reward(self):
        return 0.0

    def step(self, action):
        self.step_count += 1
        try:
            call = json.loads(action)
            tool = getattr(self, call["name"])
            msg = tool(**call.get("parameters", {}))
        except Exception as e:
            msg = f"Error: {type(e).__name__}: {e}"
        return True, msg

    def Echo(self, text=""):
        return f"echo:{text}"

    def LoopForever(self):
        while True:
            pass

    def Allocate(self):
        chunks = []
        while True:
            chunks.append(bytearray(8 << 20))

    def Recurse(self):
        def down(n):
            return down(n + 1) + 1

        return str(down(0))

    def RecurseDeep(self):
        import sys

        sys.setrecursionlimit(10**8)

        def down(n):
            return down(n + 1) + 1

        return str(down(0))

    def ReadPasswd(self):
        with open("/etc/passwd") as f:
            return f.read()

    def WriteFile(self, path):
        with open(path, "w") as f:
            f.write("pwned")
        return "wrote"

    def Socket(self):
        import socket

        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.connect(("127.0.0.1", 22))
        return "connected"

    def System(self):
        import os

        return str(os.system("touch /tmp/codegym_pwned"))

    def Environ(self):
        import os

        return json.dumps(dict(os.environ))

    def Flood(self, mb=200):
        chunk = "x" * (1 << 20)
        for _ in range(mb):
            print(chunk)
        return "flooded"

    def Exit(self):
        import sys

        sys.exit(3)

    def HardExit(self):
        import os

        os._exit(7)

    def Sleep(self, seconds=3600):
        import time

        before = time.monotonic()
        time.sleep(seconds)
        return f"slept {time.monotonic() - before:.0f}"

    def Thread(self):
        import threading

        t = threading.Thread(target=lambda: None)
        t.start()
        t.join()
        return "thread ran"

    def Subprocess(self):
        import subprocess

        return subprocess.run(["ls", "/"], capture_output=True, text=True).stdout

    def CtypesEscape(self):
        import ctypes

        return str(ctypes.CDLL(None))

    def Surrogate(self):
        return "bad \ud800 text"

    def Huge(self):
        return "y" * (5 << 20)

    def Raise(self):
        raise KeyboardInterrupt("raised out of a tool")

    def solve(self):
        return self.step(json.dumps({"name": "Echo", "parameters": {"text": "solved"}}))[1]
