"""A program run in a pseudo-terminal, and the screen a person would be left with.

Enough of a VT100 for what behave's pretty formatter and the suite's live lines send: text, carriage
return, newline, erase to the end of the line, cursor up (and to the start of a line above), colours
(ignored), and wrapping at the terminal's width. The screen keeps every row (no scrolling away), so a
test can read the whole run as it was left on screen.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import termios
import time

_CONTROL = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])|\r|\n|[^\x1b\r\n]+|\x1b", re.DOTALL)


class Screen:
    def __init__(self, width: int):
        self.width = width
        self.rows: list[list[str]] = [[]]
        self.row = 0
        self.col = 0

    def feed(self, text: str) -> None:
        for match in _CONTROL.finditer(text):
            token = match.group(0)
            if match.group(2):
                self._escape(match.group(1), match.group(2))
            elif token == "\r":
                self.col = 0
            elif token == "\n":
                self._down()
            elif token != "\x1b":
                for char in token:
                    self._put(char)

    def _escape(self, args: str, command: str) -> None:
        count = int(args) if args.isdigit() else 1
        if command in "AF":                      # cursor up (F: and to the line's start)
            self.row = max(0, self.row - count)
            if command == "F":
                self.col = 0
        elif command == "B":
            for _ in range(count):
                self._down(keep_column=True)
        elif command == "G":
            self.col = max(0, count - 1)
        elif command == "K":                     # erase from the cursor to the end of the line
            line = self.rows[self.row]
            del line[self.col:]
        # m (colours) and anything else: nothing to draw

    def _down(self, keep_column: bool = False) -> None:
        self.row += 1
        if self.row == len(self.rows):
            self.rows.append([])
        if not keep_column:
            self.col = 0

    def _put(self, char: str) -> None:
        if self.col >= self.width:               # the terminal wraps onto the next row
            self._down()
        line = self.rows[self.row]
        while len(line) < self.col:
            line.append(" ")
        if self.col < len(line):
            line[self.col] = char
        else:
            line.append(char)
        self.col += 1

    def lines(self) -> list[str]:
        return ["".join(row).rstrip() for row in self.rows]


def run_in_terminal(argv: list[str], cwd, env: dict, width: int = 80, height: int = 40,
                    timeout: float = 240) -> tuple[int, Screen]:
    """Run ``argv`` with a pseudo-terminal of ``width`` columns as its stdout and stderr; the screen it left."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    env = {**env, "COLUMNS": str(width), "LINES": str(height), "TERM": "xterm"}
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal,
                            start_new_session=True)
    os.close(terminal)
    screen = Screen(width)
    chunks = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 1.0)
            if ready:
                try:
                    data = os.read(controller, 65536)
                except OSError:          # the other side closed: the program has ended
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(controller)
    screen.feed(b"".join(chunks).decode("utf-8", errors="replace"))
    return code, screen
