"""The commands, side by side: one module each (build, evaluate, render, verify, compare, grade, bench).

Each is a thin Click command over the shared libraries: it validates its arguments and the config,
checks the paths it was given (before importing torch, which takes seconds, minutes on a busy
machine), resolves the runtime once, calls one library function and prints what it did. No command
imports another; what several share (the artifacts folder, the convenience options) is in `options`.
`reportgen.cli` gathers them into the `reportgen` group.
"""
